"""Greedy decoding with our T5 (t5.py): the decoder one token at a time, and `generate`.

The keys and values of past tokens live in a cache. `DecoderCache` grows by `torch.cat` each
step, as transformers' DynamicCache does, so the CPU path computes the reference's floats
(t5.py says why that is the bar). `StaticCache` keeps them in buffers allocated once, for the
GPU: every step then has the same shapes and `graphed_step` replays it as one CUDA graph. The
cross-attention keys and values are computed once per reading from the encoder's output.
`generate` reads every volume of a batch on one prompt, greedily, until each has stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

import torch

from .edition import Edition
from .t5 import (
    T5Config,
    attend,
    encode,
    feed_forward,
    heads,
    layer_norm,
    linear,
    position_bias,
)

log = logging.getLogger(__name__)


def cross_keys_values(
    cfg: T5Config, w: dict[str, torch.Tensor], encoded: torch.Tensor, batched: bool
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each decoder block's cross-attention keys and values: computed once per reading."""
    out = []
    for i in range(cfg.num_decoder_layers):
        a = f"decoder.block.{i}.layer.1.EncDecAttention"
        k, v = (
            heads(cfg, linear(encoded, w[f"{a}.{n}.weight"], batched)).contiguous() for n in "kv"
        )
        out.append((k, v))
    return out


class DecoderCache:
    """Keys and values per decoder block: self-attention grows by one per step, cross is fixed."""

    def __init__(
        self,
        cfg: T5Config,
        w: dict[str, torch.Tensor],
        encoded: torch.Tensor,
        batched: bool = False,
    ):
        self.batched = batched
        self.self_kv: list[tuple[torch.Tensor, torch.Tensor] | None] = [
            None
        ] * cfg.num_decoder_layers
        self.cross_kv = cross_keys_values(cfg, w, encoded, batched)
        self.steps = 0

    def grow(self, i: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.self_kv[i] is not None:
            k, v = (
                torch.cat([old, new], dim=-2)
                for old, new in zip(self.self_kv[i], (k, v), strict=True)
            )
        else:
            k, v = k.contiguous(), v.contiguous()
        self.self_kv[i] = (k, v)
        return k, v

    def self_bias(self, cfg: T5Config, table: torch.Tensor) -> torch.Tensor:
        """The self-attention bias of this step's query over the keys so far."""
        return position_bias(cfg, table, 1, self.steps + 1, self.steps, bidirectional=False)

    def advance(self) -> None:
        self.steps += 1


class StaticCache:
    """Keys and values for at most `steps` decode steps, in buffers allocated once.

    Every step has the same shapes: attention runs over all `steps` positions, those not yet
    written masked with -inf (softmax makes them exact zeros), and the step number lives on
    the device. So one decode step can be captured as a CUDA graph and replayed, with no
    kernel launches from Python (`graphed_step`). The batched (GPU) path only.
    """

    def __init__(
        self, cfg: T5Config, w: dict[str, torch.Tensor], encoded: torch.Tensor, steps: int
    ):
        self.batched = True
        shape = (encoded.shape[0], cfg.num_heads, steps, cfg.d_kv)
        self.self_kv = [
            (encoded.new_zeros(shape), encoded.new_zeros(shape))
            for _ in range(cfg.num_decoder_layers)
        ]
        self.cross_kv = cross_keys_values(cfg, w, encoded, batched=True)
        table = w["decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]
        bias = position_bias(cfg, table, steps, steps, 0, bidirectional=False)
        later = torch.ones(steps, steps, dtype=torch.bool, device=encoded.device).triu(1)
        self.bias = bias.masked_fill(later, float("-inf"))  # [B, heads, step, key]
        self.step = torch.zeros(1, dtype=torch.long, device=encoded.device)

    def grow(self, i: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        keys, values = self.self_kv[i]
        keys.index_copy_(2, self.step, k)
        values.index_copy_(2, self.step, v)
        return keys, values

    def self_bias(self, cfg: T5Config, table: torch.Tensor) -> torch.Tensor:
        return self.bias.index_select(2, self.step)

    def advance(self) -> None:
        self.step += 1


def decode_step(
    cfg: T5Config,
    w: dict[str, torch.Tensor],
    tokens: torch.Tensor,
    cache: DecoderCache | StaticCache,
) -> torch.Tensor:
    """Logits [B, vocab] for the next token, given each volume's last token [B, 1]."""
    eps = cfg.layer_norm_epsilon
    x = w["shared.weight"][torch.arange(tokens.shape[0], device=tokens.device)[:, None], tokens]
    batched = cache.batched
    self_bias = cross_bias = None
    for i in range(cfg.num_decoder_layers):
        a = f"decoder.block.{i}.layer.0.SelfAttention"
        h = layer_norm(x, w[f"decoder.block.{i}.layer.0.layer_norm.weight"], eps)
        q, k, v = (heads(cfg, linear(h, w[f"{a}.{n}.weight"], batched)) for n in "qkv")
        k, v = cache.grow(i, k, v)
        if self_bias is None:
            self_bias = cache.self_bias(cfg, w[f"{a}.relative_attention_bias.weight"])
        x = x + linear(attend(q, k, v, self_bias, batched), w[f"{a}.o.weight"], batched)

        c = f"decoder.block.{i}.layer.1.EncDecAttention"
        h = layer_norm(x, w[f"decoder.block.{i}.layer.1.layer_norm.weight"], eps)
        q = heads(cfg, linear(h, w[f"{c}.q.weight"], batched))
        k, v = cache.cross_kv[i]
        if cross_bias is None and not batched:  # batched: adding zeros is no bias at all
            cross_bias = torch.zeros(
                1, cfg.num_heads, 1, k.shape[2], dtype=q.dtype, device=q.device
            )
        x = x + linear(attend(q, k, v, cross_bias, batched), w[f"{c}.o.weight"], batched)

        f = f"decoder.block.{i}.layer.2"
        x = x + feed_forward(w, f, layer_norm(x, w[f"{f}.layer_norm.weight"], eps), batched)
    cache.advance()
    x = layer_norm(x, w["decoder.final_layer_norm.weight"], eps)
    x = x * (cfg.d_model**-0.5)  # T5 v1.0 ties the lm_head to the embeddings and rescales
    return linear(x, w["shared.weight"], batched)[:, -1, :]


STOP_CHECK_EVERY = 8  # decode steps between "has every volume stopped?" on a GPU


def graphed_step(
    cfg: T5Config, w: dict[str, torch.Tensor], cache: StaticCache, tokens: torch.Tensor
) -> Callable[[torch.Tensor], torch.Tensor]:
    """decode_step captured once as a CUDA graph: tokens [B, 1] -> logits [B, vocab] with one
    launch instead of ~150. The replay reads its tokens from a fixed tensor (copied in) and
    writes the same logits tensor each time; the step counter advances inside the graph."""
    fixed = tokens.clone()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm up outside the capture, as torch.cuda.graph asks
        decode_step(cfg, w, fixed, cache)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):  # records the kernels; runs none
        logits = decode_step(cfg, w, fixed, cache)
    cache.step.zero_()  # the warm-up was step 0; the first replay computes it again

    def replay(tokens: torch.Tensor) -> torch.Tensor:
        fixed.copy_(tokens)
        graph.replay()
        return logits

    return replay


_capture_failed: list[bool] = []  # set once a capture failed: this process stops trying


def static_step(
    cfg: T5Config,
    w: dict[str, torch.Tensor],
    encoded: torch.Tensor,
    steps: int,
    tokens: torch.Tensor,
    capture: bool,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The decode step over a StaticCache: replayed as a CUDA graph with `capture` (on CUDA),
    eager otherwise, and eager too if the capture fails (warned once: the same logits, more
    launches)."""
    if capture and not _capture_failed:
        try:
            return graphed_step(cfg, w, StaticCache(cfg, w, encoded, steps), tokens)
        except RuntimeError:
            log.warning("capturing the decode step as a CUDA graph failed", exc_info=True)
            _capture_failed.append(True)
    return partial(decode_step, cfg, w, cache=StaticCache(cfg, w, encoded, steps))


@torch.no_grad()
def generate(
    edition: Edition,
    w: dict[str, torch.Tensor],
    input_ids: list[int],
    max_tokens: int,
    batched: bool | None = None,
    static: bool = False,
) -> list[list[int]]:
    """Greedy decoding of every volume in `w` on one prompt: each volume's new ids.

    A volume's ids stop after its eos (included, as read.generate returns them); finished
    volumes are fed pad until every volume has stopped or max_tokens is reached. `batched`
    (default: the weights are on CUDA) picks the batched ops (module docstring). Tokens stay on
    the device; on a GPU "all stopped?" is asked every STOP_CHECK_EVERY steps, not every step
    (the extra steps of stopped volumes record nothing, so the ids are the same). `static`
    (batched only) keeps keys and values in a StaticCache, and on CUDA replays each decode
    step as one CUDA graph (`graphed_step`).
    """
    cfg = T5Config.from_edition(edition)
    batch, device = w["shared.weight"].shape[0], w["shared.weight"].device
    if batched is None:
        batched = device.type == "cuda"
    check_every = STOP_CHECK_EVERY if device.type == "cuda" else 1
    if static and not batched:
        raise ValueError("static decoding runs the batched ops (the GPU's path)")
    encoded = encode(cfg, w, torch.tensor([input_ids] * batch, device=device), batched)
    tokens = torch.full((batch, 1), edition.decoder_start_id, dtype=torch.long, device=device)
    if not static:
        step_logits = partial(decode_step, cfg, w, cache=DecoderCache(cfg, w, encoded, batched))
    else:
        step_logits = static_step(cfg, w, encoded, max_tokens, tokens, device.type == "cuda")
    chosen_at, kept_at = [], []  # per step: [B] ids, [B] whether the volume was still running
    running = torch.ones(batch, dtype=torch.bool, device=device)
    for step in range(max_tokens):
        chosen = step_logits(tokens).argmax(dim=-1)
        chosen_at.append(chosen)
        kept_at.append(running)
        running = running & (chosen != edition.eos_id)
        if (step + 1) % check_every == 0 and not bool(running.any()):
            break
        tokens = torch.where(running, chosen, edition.pad_id)[:, None]
    ids = torch.stack(chosen_at, dim=1).tolist()
    kept = torch.stack(kept_at, dim=1).sum(dim=1).tolist()
    return [row[:n] for row, n in zip(ids, kept, strict=True)]
