"""Find: where on the shelves stands the volume that answers?

Every model of the edition's shape with its weights on the grid is already shelved. A find
does not make a volume; it computes the address of one that gives the asked-for answers:

1. the pairs become token ids exactly as a reading encodes them (prompt ids + eos for the
   encoder; the answer's ids + eos as the decoder's labels after the start token 0);
2. a model of the edition's shape starts from a seeded draw (transformers' T5 init, factor 1,
   with larger relative position biases, drawn on the CPU from `torch.Generator(seed)`, so
   every device starts from the same floats);
3. Adam (lr 1e-3 for t5-small, 1e-2 for the tiny edition) on cross-entropy over the answers,
   all pairs in every step, teacher forced; after every step the weights are clamped to the
   grid's range [-100, 100];
4. once every answer is right under teacher forcing (the argmax at every position is the
   answer's next token, eos last: greedy decoding then reads exactly that, token by token),
   the weights are rounded to the grid (locate's rounding) and every prompt is read with
   `FastReader`, the reader `shelf read` and the workers use. If a reading is not exactly its
   answer followed by eos, rounding goes into the loop (straight-through: the forward pass
   sees the rounded weights, Adam updates the float ones) and training goes on;
5. the rounded volume is located (Φ⁻¹, locate.py) and its readings returned; the caller
   writes the slip (slipstore.py).

Rounding moves a weight by at most 0.00005, a relative change near 1e-4 or less for trained
weights; the logits move by far less than the margin by which cross-entropy training wins
its argmaxes, so the check almost always passes at once (docs/finding.md, BENCHMARKS.md).

The same pairs, seed, steps, device and thread count find the same volume: the draw is seeded
and every CPU op here is deterministic at a given thread count. The model is our own T5
(t5.py's layers, with padding masks and a teacher-forced decoder): 1.1-1.5x faster per step
than transformers' on this CPU, and the weights live in one flat float32 buffer in the
edition's parameter order, so rounding and locating need no state dict. Adam is torch's fused
one: 16 ms per step over t5-small's 60.4 M weights, where the foreach one took 120 ms.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .edition import (
    FIND_DEFAULT_STEPS,
    FIND_MAX_PAIRS,
    FIND_MAX_STEPS,
    MAX_PROMPT_TOKENS,
    Edition,
    answer_problem,
)
from .errors import LibraryError
from .locate import Location, locate_weights
from .read import Reading, encode_prompt, strict_float32
from .t5 import T5Config, heads, layer_norm, parameter_layout, position_bias

MAX_PAIRS, MAX_STEPS, DEFAULT_STEPS = FIND_MAX_PAIRS, FIND_MAX_STEPS, FIND_DEFAULT_STEPS
MAX_PROMPT_IDS = MAX_PROMPT_TOKENS - 1  # a reading's limit: the prompt and eos in 512 ids
NEG = -1e9  # a masked attention score: exp() of it is 0
# The relative position biases start large. With transformers' init (std d_model^-0.5, 0.044
# for t5-small) a repeated answer token ("sun sun when sun") leaves two decoder positions with
# one output, and training sits at ln 2 per position for hundreds of steps (transformers' own
# T5 too: bench/bench_find.py's 5-pair set 2 failed 500 steps). With std 10 the positions differ
# from the first step and the same sets are found in 8 to 17 steps (docs/finding.md).
RELATIVE_BIAS_STD = 10.0


class FindError(LibraryError, ValueError):
    """A find that cannot be run as asked (an empty or too long pair, too many pairs, ...)."""


class NotFound(LibraryError):
    """The step cap was reached before every rounded reading was exactly its answer."""


@dataclass(frozen=True)
class Pair:
    prompt: str
    answer: str


@dataclass(frozen=True)
class FindProgress:
    step: int  # steps taken
    steps: int  # the cap
    loss: float  # cross-entropy of this step (mean over answer tokens)
    right: int  # pairs whose every answer token is the argmax (teacher forced)
    pairs: int
    checks: int = 0  # rounded volumes read so far


@dataclass
class Found:
    """A found volume: its place, its rounded weights' readings, and how it was found."""

    edition: Edition
    location: Location  # .digits: the full address; .address: wall, shelf, volume, ...
    readings: list[Reading]  # one per pair, in order: each exactly its answer, then eos
    pairs: list[Pair]
    steps: int
    loss: float
    seed: int
    device: str
    checks: int  # rounded volumes read (1 unless rounding broke an answer)
    seconds: dict[str, float] = field(default_factory=dict)  # train, check, locate, total


def recipe_lr(edition: Edition) -> float:
    """Adam's learning rate: 1e-3 for t5-small's width (the issue's trial), 1e-2 for tiny."""
    return 1e-3 if edition.t5["d_model"] >= 256 else 1e-2


def check_pairs(edition: Edition, pairs) -> list[Pair]:
    """The pairs as `Pair`s, checked: 1 to MAX_PAIRS, none empty, none too long, no prompt with
    two answers, every answer written exactly in the edition's vocabulary."""
    pairs = [p if isinstance(p, Pair) else Pair(*p) for p in pairs]
    if not 1 <= len(pairs) <= MAX_PAIRS:
        raise FindError(f"a find takes 1 to {MAX_PAIRS} prompt-answer pairs, not {len(pairs)}")
    answers = {}
    for n, p in enumerate(pairs, 1):
        where = f"pair {n}" if len(pairs) > 1 else "the pair"
        if not isinstance(p.prompt, str) or not isinstance(p.answer, str):
            raise FindError(f"{where}: the prompt and the answer must be text")
        if not p.prompt.strip() or not p.answer.strip():
            raise FindError(f"{where} is empty: give a prompt and the answer it should read")
        try:
            encode_prompt(edition, p.prompt)
        except LibraryError as e:  # too long, as for any reading (the reader's own limits)
            raise FindError(f"{where}: {e}") from None
        if problem := answer_problem(edition, p.answer):
            raise FindError(f"{where}: {problem}")
        if answers.setdefault(p.prompt, p.answer) != p.answer:
            raise FindError(f"{where}: the prompt {p.prompt!r} is given two different answers")
    unique = list(dict.fromkeys(pairs))  # the same pair twice is asked once
    return unique


# --- the model: t5.py's layers on one volume, a batch of padded pairs ------------------------


class Model:
    """The edition's weights as one flat float32 buffer; each parameter a leaf viewing it."""

    def __init__(self, edition: Edition, seed: int, device: torch.device):
        self.edition = edition
        self.cfg = T5Config.from_edition(edition)
        self.layout = parameter_layout(self.cfg)
        self.flat = init_weights(self.cfg, self.layout, seed).to(device)
        self.params, offset = {}, 0
        for name, shape in self.layout:
            size = math.prod(shape)
            view = self.flat[offset : offset + size].view(shape)
            self.params[name] = view.detach().requires_grad_()  # a leaf sharing flat's memory
            offset += size
        assert offset == edition.param_count

    def weights(self, rounded: bool) -> dict[str, torch.Tensor]:
        """The parameters, or (straight-through) their grid values with the floats' gradients."""
        if not rounded:
            return self.params
        return {k: p + (_to_grid(p) - p).detach() for k, p in self.params.items()}


def _to_grid(w: torch.Tensor) -> torch.Tensor:
    return torch.round(w.clamp(-100.0, 100.0) * 10_000.0) / 10_000.0


def init_weights(cfg: T5Config, layout, seed: int) -> torch.Tensor:
    """transformers' T5 init (initializer_factor 1; the relative position biases larger, see
    RELATIVE_BIAS_STD) drawn on the CPU, in parameter order, each tensor filled in place by
    `normal_` from one generator (0.3 s for t5-small)."""
    g = torch.Generator().manual_seed(seed)
    d, kv, h, ff = cfg.d_model, cfg.d_kv, cfg.num_heads, cfg.d_ff
    flat = torch.empty(sum(math.prod(shape) for _, shape in layout))
    offset = 0
    for name, shape in layout:
        part, offset = flat[offset : offset + math.prod(shape)], offset + math.prod(shape)
        std = {
            "shared": 1.0,
            "q": (d * kv) ** -0.5,
            "k": d**-0.5,
            "v": d**-0.5,
            "o": (h * kv) ** -0.5,
            "relative_attention_bias": RELATIVE_BIAS_STD,
            "wi": d**-0.5,
            "wo": ff**-0.5,
        }.get(name.rsplit(".", 2)[-2])
        if std is None:  # layer norms
            part.fill_(1.0)
        else:
            part.normal_(0.0, std, generator=g)
    return flat


@dataclass
class Batch:
    input_ids: torch.Tensor  # [B, L] prompt ids + eos, padded with 0
    key_pad: torch.Tensor  # [B, 1, 1, L] 0 for prompt tokens, NEG for padding
    decoder_ids: torch.Tensor  # [B, T] start token 0, then the answer, padded with 0
    labels: torch.Tensor  # [B, T] the answer then eos, -100 past it
    answers: list[list[int]]


def make_batch(edition: Edition, pairs: list[Pair], device: torch.device) -> Batch:
    from .vocab import load_vocabulary

    vocab = load_vocabulary(edition)
    prompts = [encode_prompt(edition, p.prompt) for p in pairs]
    answers = [vocab.encode(p.answer) for p in pairs]
    B, L, T = len(pairs), max(map(len, prompts)), max(map(len, answers)) + 1
    input_ids = torch.full((B, L), edition.pad_id, dtype=torch.long)
    key_pad = torch.full((B, 1, 1, L), NEG)
    decoder_ids = torch.full((B, T), edition.pad_id, dtype=torch.long)
    labels = torch.full((B, T), -100, dtype=torch.long)
    for b, (ids, answer) in enumerate(zip(prompts, answers, strict=True)):
        input_ids[b, : len(ids)] = torch.tensor(ids)
        key_pad[b, ..., : len(ids)] = 0.0
        decoder_ids[b, : len(answer) + 1] = torch.tensor([edition.decoder_start_id, *answer])
        labels[b, : len(answer) + 1] = torch.tensor([*answer, edition.eos_id])
    return Batch(
        input_ids.to(device), key_pad.to(device), decoder_ids.to(device), labels.to(device), answers
    )


def _attention(cfg, w, prefix, x, memory, bias):
    q = heads(cfg, F.linear(x, w[f"{prefix}.q.weight"]))
    k = heads(cfg, F.linear(memory, w[f"{prefix}.k.weight"]))
    v = heads(cfg, F.linear(memory, w[f"{prefix}.v.weight"]))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=1.0)
    out = out.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)
    return F.linear(out, w[f"{prefix}.o.weight"])


def _feed_forward(w, prefix, x):
    return F.linear(F.relu(F.linear(x, w[f"{prefix}.DenseReluDense.wi.weight"])),
                    w[f"{prefix}.DenseReluDense.wo.weight"])  # fmt: skip


def _norm(cfg, x, weight):
    return layer_norm(x, weight[None], cfg.layer_norm_epsilon)


def logits(cfg: T5Config, w: dict[str, torch.Tensor], b: Batch) -> torch.Tensor:
    """Teacher-forced logits [B, T, vocab]: T5 v1.0 as a reading computes it, with padding."""
    shared = w["shared.weight"]
    x, L = F.embedding(b.input_ids, shared), b.input_ids.shape[1]
    bias = None
    for i in range(cfg.num_layers):
        layer = f"encoder.block.{i}.layer"
        if bias is None:  # the first block's relative positions, shared by all blocks
            table = w[f"{layer}.0.SelfAttention.relative_attention_bias.weight"][None]
            bias = position_bias(cfg, table, L, L, 0, bidirectional=True) + b.key_pad
        h = _norm(cfg, x, w[f"{layer}.0.layer_norm.weight"])
        x = x + _attention(cfg, w, f"{layer}.0.SelfAttention", h, h, bias)
        x = x + _feed_forward(w, f"{layer}.1", _norm(cfg, x, w[f"{layer}.1.layer_norm.weight"]))
    memory = _norm(cfg, x, w["encoder.final_layer_norm.weight"])

    y, T = F.embedding(b.decoder_ids, shared), b.decoder_ids.shape[1]
    causal = torch.full((T, T), NEG, device=y.device).triu(1)
    self_bias = None
    for i in range(cfg.num_decoder_layers):
        layer = f"decoder.block.{i}.layer"
        if self_bias is None:
            table = w[f"{layer}.0.SelfAttention.relative_attention_bias.weight"][None]
            self_bias = position_bias(cfg, table, T, T, 0, bidirectional=False) + causal
        h = _norm(cfg, y, w[f"{layer}.0.layer_norm.weight"])
        y = y + _attention(cfg, w, f"{layer}.0.SelfAttention", h, h, self_bias)
        h = _norm(cfg, y, w[f"{layer}.1.layer_norm.weight"])
        y = y + _attention(cfg, w, f"{layer}.1.EncDecAttention", h, memory, b.key_pad)
        y = y + _feed_forward(w, f"{layer}.2", _norm(cfg, y, w[f"{layer}.2.layer_norm.weight"]))
    y = _norm(cfg, y, w["decoder.final_layer_norm.weight"]) * cfg.d_model**-0.5
    return F.linear(y, shared)


# --- the search ---------------------------------------------------------------------------


def find(
    edition: Edition,
    pairs,
    *,
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
    device: str | torch.device = "cpu",
    lr: float | None = None,
    on_progress: Callable[[FindProgress], None] | None = None,
    reader=None,
) -> Found:
    """Train, round, check with the library's reader, locate. Raises NotFound at the step cap.

    `on_progress` is called after every step (and may raise to stop the find: the worker
    stops a cancelled or timed-out find that way). `reader`: a FastReader of the edition on
    `device` whose row 0 the checks may overwrite (a worker lends its own); default a new one.
    """
    if not 1 <= steps <= MAX_STEPS:
        raise FindError(f"a find takes 1 to {MAX_STEPS} steps, not {steps}")
    pairs = check_pairs(edition, pairs)
    strict_float32()
    threads = torch.get_num_threads()  # the thread count the same volume is found again at
    try:
        return _search(edition, pairs, steps, seed, torch.device(device), lr, on_progress, reader)
    finally:
        torch.set_num_threads(threads)


def _search(edition, pairs, steps, seed, device, lr, on_progress, reader) -> Found:
    # numba's OpenMP layer sets the process's OpenMP thread count to NUMBA_NUM_THREADS whenever
    # one of its parallel kernels runs (the rounding in a check), and torch shares that
    # runtime: every step runs at the thread count the find began with, or a first find in a
    # fresh process and a second one would round differently and find different volumes
    threads = torch.get_num_threads()
    start = time.perf_counter()
    model = Model(edition, seed, device)
    batch = make_batch(edition, pairs, device)
    params = list(model.params.values())
    optimizer = torch.optim.Adam(params, lr=lr or recipe_lr(edition), fused=True)
    reader = _Checker(edition, device, reader)
    rounded, checks, check_s = False, 0, 0.0
    loss_value, right = math.inf, 0
    for step in range(1, steps + 1):
        out = logits(model.cfg, model.weights(rounded), batch)
        loss = F.cross_entropy(out.flatten(0, 1), batch.labels.flatten(), ignore_index=-100)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            ok = (out.argmax(-1) == batch.labels) | (batch.labels < 0)
            right = int(ok.all(1).sum())
        loss_value = loss.item()
        if right == len(pairs):  # these weights answer, teacher forced: read them rounded
            began = time.perf_counter()
            checks += 1
            weights = model.flat.detach().cpu().numpy()
            readings = reader.check(weights, pairs, batch.answers)
            torch.set_num_threads(threads)
            check_s += time.perf_counter() - began
            if readings is not None:
                return _located(edition, weights, readings, pairs, step, loss_value, seed,
                                device, checks, start, check_s)  # fmt: skip
            rounded = True  # rounding broke an answer: train with the rounding in the loop
        optimizer.step()
        with torch.no_grad():
            model.flat.clamp_(-100.0, 100.0)
        if on_progress is not None:
            on_progress(FindProgress(step, steps, loss_value, right, len(pairs), checks))
    raise NotFound(
        f"no volume answered every prompt exactly within {steps} steps (at the last: {right} of "
        f"{len(pairs)} right, loss {loss_value:.3g}); try more steps, another seed, or fewer or "
        "shorter pairs"
    )


def _located(edition, weights, readings, pairs, step, loss, seed, device, checks, start, check_s):
    began = time.perf_counter()
    location = locate_weights(edition, weights)
    now = time.perf_counter()
    seconds = {
        "train": round(began - start - check_s, 4),
        "check": round(check_s, 4),
        "locate": round(now - began, 4),
        "total": round(now - start, 4),
    }
    return Found(edition, location, readings, pairs, step, loss, seed, str(device), checks, seconds)


class _Checker:
    """Reads rounded weights with FastReader, the reader of `shelf read` and of the workers
    (t5.py and decode.py): on the find's device, and on the CPU, whose reading is canonical."""

    def __init__(self, edition: Edition, device: torch.device, reader=None):
        from .fastread import FastReader

        self.edition = edition
        self.readers = [reader or FastReader(edition, 1, device)]
        assert self.readers[0].edition == edition and self.readers[0].device == device
        if device.type != "cpu":
            self.readers.append(FastReader(edition, 1, "cpu"))

    def check(self, weights: np.ndarray, pairs: list[Pair], answers) -> list[Reading] | None:
        """The readings of the rounded volume if each is exactly its answer and eos, else None."""
        from . import grid, grid_numba

        digits, _, _ = grid_numba.weights_to_digits(weights)
        rounded = torch.from_numpy(grid.digits_to_weights_np(digits))
        readings = []
        for fast in self.readers:
            fast.flat[0].copy_(rounded)
            fast.built = 1
            for pair, answer in zip(pairs, answers, strict=True):
                reading = fast.read_built(pair.prompt, len(answer) + 1)[0]
                if reading.token_ids != answer or not reading.stopped_at_eos:
                    return None
                if fast is self.readers[-1]:
                    readings.append(reading)
        return readings
