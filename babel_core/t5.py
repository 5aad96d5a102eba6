"""Our own T5 v1.0 forward for reading volumes, straight from the flat weight buffer.

The reference reading is `transformers`' `T5ForConditionalGeneration.generate` (read.py). This
file computes the same thing without a transformers model object, in the spirit of nanoGPT's
model.py: one config, small functions that read top to bottom, and names that follow
transformers' T5 (`encoder.block.0.layer.0.SelfAttention.q.weight`, ...) so the edition's
parameter order maps onto them without glue. It imports no transformers (4 s saved per cold
process) and skips generate's per-token bookkeeping.

Equal tokens are the bar, and the way there is equal floats: every operation is the one
transformers 5.x runs for T5 on the CPU in float32, in its order and shapes. In particular
- T5LayerNorm is RMS-style: x * rsqrt(mean(x²) + eps) in float32, then * weight; no mean, no bias;
- attention is `scaled_dot_product_attention` with scale 1 (T5 does not divide by √d_kv) and
  the relative position bias as its additive float mask (transformers' "sdpa" attention);
  the encoder's buckets are bidirectional, the decoder's causal; the bias is computed by the
  first block and shared by the others; cross-attention gets an all-zero bias, as there;
- every projection is `F.linear` on one volume's [1, T, d] activations and its own weight:
  a batched matmul rounds differently (measured: bmm ≠ linear in the last bits for T > 1),
  so a batch of volumes loops over its volumes for the projections and batches the rest;
- the decoder output is scaled by d_model**-0.5 before the tied lm_head (T5 v1.0);
- the self-attention cache grows by `torch.cat` like transformers' DynamicCache, and the
  cross-attention keys and values are computed once from the encoder output (decode.py: the
  decoder one token at a time, and greedy `generate`).
A batch of B volumes on one prompt gives every volume the very floats it gets alone:
elementwise ops, row-wise reductions and attention do not mix volumes (tests/test_t5.py).

On CUDA that loop costs ~100k kernel launches per batch, so there (`batched`, default: the
weights are on a CUDA device) projections are one `torch.matmul` with the [B, out, in] weights
and attention one batched `scaled_dot_product_attention`: the GPU's reading of each volume. It
may differ from the CPU canonical reading by a rare argmax flip (measured on an H200: 999 of
1000 t5-small volumes equal; docs/reading.md). `batched=True` runs the same math on the CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

from .build import layout_hash
from .edition import Edition


@dataclass(frozen=True)
class T5Config:
    vocab_size: int = 32000
    d_model: int = 512
    d_kv: int = 64  # per head
    d_ff: int = 2048
    num_layers: int = 6  # encoder blocks
    num_decoder_layers: int = 6
    num_heads: int = 8
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    layer_norm_epsilon: float = 1e-6

    @classmethod
    def from_edition(cls, edition: Edition) -> T5Config:
        t5 = edition.t5
        assert t5.get("feed_forward_proj", "relu") == "relu", "T5 v1.0: a ReLU feed-forward"
        assert t5.get("tie_word_embeddings", True), "T5 v1.0: tied embeddings, scaled output"
        return cls(**{f.name: t5[f.name] for f in fields(cls) if f.name in t5})


def parameter_layout(cfg: T5Config) -> list[tuple[str, tuple[int, ...]]]:
    """The parameters in transformers' named_parameters() order, tied embeddings once."""
    d, inner, ff = cfg.d_model, cfg.num_heads * cfg.d_kv, cfg.d_ff

    def attention(prefix: str, relative: bool) -> list[tuple[str, tuple[int, ...]]]:
        out = [(f"{prefix}.{n}.weight", (inner, d)) for n in "qkv"] + [
            (f"{prefix}.o.weight", (d, inner))
        ]
        if relative:
            out.append(
                (
                    f"{prefix}.relative_attention_bias.weight",
                    (cfg.relative_attention_num_buckets, cfg.num_heads),
                )
            )
        return out

    def feed_forward(prefix: str) -> list[tuple[str, tuple[int, ...]]]:
        return [
            (f"{prefix}.DenseReluDense.wi.weight", (ff, d)),
            (f"{prefix}.DenseReluDense.wo.weight", (d, ff)),
        ]

    entries = [("shared.weight", (cfg.vocab_size, d))]
    for i in range(cfg.num_layers):
        b = f"encoder.block.{i}.layer"
        entries += attention(f"{b}.0.SelfAttention", i == 0) + [(f"{b}.0.layer_norm.weight", (d,))]
        entries += feed_forward(f"{b}.1") + [(f"{b}.1.layer_norm.weight", (d,))]
    entries.append(("encoder.final_layer_norm.weight", (d,)))
    for i in range(cfg.num_decoder_layers):
        b = f"decoder.block.{i}.layer"
        entries += attention(f"{b}.0.SelfAttention", i == 0) + [(f"{b}.0.layer_norm.weight", (d,))]
        entries += attention(f"{b}.1.EncDecAttention", False) + [(f"{b}.1.layer_norm.weight", (d,))]
        entries += feed_forward(f"{b}.2") + [(f"{b}.2.layer_norm.weight", (d,))]
    entries.append(("decoder.final_layer_norm.weight", (d,)))
    return entries


def bind(edition: Edition, flat: torch.Tensor) -> dict[str, torch.Tensor]:
    """Views of a flat buffer, [P] (one volume) or [B, P] (a batch), as [B, *shape] weights."""
    cfg = T5Config.from_edition(edition)
    entries = parameter_layout(cfg)
    assert layout_hash(entries) == edition.layout_sha256, "the edition's pinned parameter order"
    assert flat.dtype == torch.float32 and flat.shape[-1] == edition.param_count
    rows = flat.reshape(-1, edition.param_count)
    weights, offset = {}, 0
    for name, shape in entries:
        size = math.prod(shape)
        weights[name] = rows[:, offset : offset + size].view(rows.shape[0], *shape)
        offset += size
    return weights


# --- the layers ---------------------------------------------------------------------------


def linear(x: torch.Tensor, weight: torch.Tensor, batched: bool = False) -> torch.Tensor:
    """x [B, T, in] times each volume's weight [B, out, in] transposed: F.linear per volume,
    or one batched matmul (`batched`, the GPU path)."""
    if batched:
        return torch.matmul(x, weight.transpose(-1, -2))
    if x.shape[0] == 1:
        return F.linear(x, weight[0])
    return torch.cat([F.linear(x[b : b + 1], weight[b]) for b in range(x.shape[0])])


def layer_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """T5LayerNorm: scale by the root mean square (float32), no mean subtraction, no bias."""
    variance = x.to(torch.float32).pow(2).mean(-1, keepdim=True)
    x = x * torch.rsqrt(variance + eps)
    return weight[:, None, :] * x


def relative_position_bucket(
    relative_position: torch.Tensor, bidirectional: bool, num_buckets: int, max_distance: int
) -> torch.Tensor:
    """Mesh TensorFlow's buckets: exact for small distances, logarithmic up to max_distance."""
    buckets = 0
    if bidirectional:
        num_buckets //= 2
        buckets += (relative_position > 0).to(torch.long) * num_buckets
        relative_position = torch.abs(relative_position)
    else:
        relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    if_large = max_exact + (
        torch.log(relative_position.float() / max_exact)
        / math.log(max_distance / max_exact)
        * (num_buckets - max_exact)
    ).to(torch.long)
    if_large = torch.min(if_large, torch.full_like(if_large, num_buckets - 1))
    return buckets + torch.where(is_small, relative_position, if_large)


def position_bias(
    cfg: T5Config, table: torch.Tensor, q_len: int, k_len: int, past: int, bidirectional: bool
) -> torch.Tensor:
    """Each volume's relative position bias [B, heads, q, k] from its table [B, buckets, heads]."""
    context = torch.arange(q_len, dtype=torch.long, device=table.device)[:, None] + past
    memory = torch.arange(k_len, dtype=torch.long, device=table.device)[None, :]
    bucket = relative_position_bucket(
        memory - context,
        bidirectional,
        cfg.relative_attention_num_buckets,
        cfg.relative_attention_max_distance,
    )
    return table[:, bucket].permute(0, 3, 1, 2).contiguous()


def heads(cfg: T5Config, x: torch.Tensor) -> torch.Tensor:
    """[B, T, heads * d_kv] -> [B, heads, T, d_kv] (a view, as in transformers)."""
    return x.view(x.shape[0], x.shape[1], -1, cfg.d_kv).transpose(1, 2)


def attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    bias: torch.Tensor | None,
    batched: bool = False,
) -> torch.Tensor:
    """Unscaled dot-product attention plus a bias: [B, heads, T, d_kv] -> [B, T, inner].

    One call per volume: the CPU kernel's last bits depend on which thread gets a (volume,
    head) pair, so a batched call would not round like the volume's own reading. `batched`
    (the GPU path) makes one call for all volumes; there a None bias means no bias.
    """
    if batched:
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=0.0, scale=1.0)
        out = out.transpose(1, 2).contiguous()
        return out.reshape(out.shape[0], out.shape[1], -1)

    def one(b: int) -> torch.Tensor:
        mask = bias[b : b + 1] if bias.shape[0] > 1 else bias
        return F.scaled_dot_product_attention(
            q[b : b + 1], k[b : b + 1], v[b : b + 1], attn_mask=mask, dropout_p=0.0, scale=1.0
        )

    out = one(0) if q.shape[0] == 1 else torch.cat([one(b) for b in range(q.shape[0])])
    out = out.transpose(1, 2).contiguous()
    return out.reshape(out.shape[0], out.shape[1], -1).contiguous()


def feed_forward(
    w: dict[str, torch.Tensor], prefix: str, x: torch.Tensor, batched: bool = False
) -> torch.Tensor:
    h = linear(x, w[f"{prefix}.DenseReluDense.wi.weight"], batched)
    h = F.relu(h)
    return linear(h, w[f"{prefix}.DenseReluDense.wo.weight"], batched)


# --- the encoder --------------------------------------------------------------------------


def encode(
    cfg: T5Config, w: dict[str, torch.Tensor], input_ids: torch.Tensor, batched: bool = False
) -> torch.Tensor:
    """The encoder's output [B, L, d] for input ids [B, L] (each row through its own volume)."""
    eps = cfg.layer_norm_epsilon
    x = w["shared.weight"][
        torch.arange(input_ids.shape[0], device=input_ids.device)[:, None], input_ids
    ]
    length = input_ids.shape[1]
    bias = None
    for i in range(cfg.num_layers):
        a = f"encoder.block.{i}.layer.0.SelfAttention"
        h = layer_norm(x, w[f"encoder.block.{i}.layer.0.layer_norm.weight"], eps)
        if bias is None:
            table = w[f"{a}.relative_attention_bias.weight"]
            bias = position_bias(cfg, table, length, length, 0, bidirectional=True)
        q, k, v = (heads(cfg, linear(h, w[f"{a}.{n}.weight"], batched)) for n in "qkv")
        x = x + linear(attend(q, k, v, bias, batched), w[f"{a}.o.weight"], batched)
        f = f"encoder.block.{i}.layer.1"
        x = x + feed_forward(w, f, layer_norm(x, w[f"{f}.layer_norm.weight"], eps), batched)
    return layer_norm(x, w["encoder.final_layer_norm.weight"], eps)
