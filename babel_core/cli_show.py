"""What `shelf`'s library commands print: a few lines for people, or one JSON object (--json).

Numbers are printed only when they mean something: a hunt's rate leaves out its first job,
which pays for opening the library and compiling the kernels (a hunt of 8 tiny volumes once
reported "2.7 volumes/s", all of it start-up), and is not printed for a hunt of one job. A
located volume's JSON gives what reads it back (its address when it is short, the call slip's
path), not the abbreviated address made for eyes.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from .address import about_numbers
from .edition import Edition, get_edition


def reading(args, where: str, prompt: str, result) -> None:
    if args.json:
        print(
            json.dumps(
                {
                    "edition": get_edition(args.edition).id,
                    "address": where,
                    "prompt": prompt,
                    **result.to_dict(),
                },
                ensure_ascii=False,
            )
        )
        return
    rule = "─" * min(72, max(20, len(where)))
    end = "stopped at eos" if result.stopped_at_eos else "no eos"
    print(f"{where}  ({get_edition(args.edition).id})\nprompt: {prompt}\n{rule}")
    print(result.text)
    print(
        f"{rule}\n{len(result.token_ids)} tokens ({end}) · fingerprint {result.fingerprint}"
        f" · {result.seconds:.2f} s"
    )


def saved(args, edition: Edition, address: str, folder: Path) -> None:
    if args.json:
        print(json.dumps({"edition": edition.id, "address": address, "folder": str(folder)}))
        return
    print(
        f"saved {address} ({edition.id}) to {folder}/\n"
        f"load it with T5ForConditionalGeneration.from_pretrained({str(folder)!r})"
    )


def located(args, edition: Edition, found) -> None:
    a = found.address
    slip = str(Path(args.slip).resolve()) if args.slip else None
    back = f"shelf read {a.short}" if a.short else None
    if slip:
        back = f"shelf read --slip {slip}"
    if args.json:
        info = {
            "edition": edition.id,
            "address": str(a.short) if a.short else None,  # usable as typed, when short
            "summary": str(a),  # for eyes: the hexagon's ends and length
            "slip": slip,
            "read": back,  # the command that reads the volume back, if one can
            "wall": a.wall,
            "shelf": a.shelf,
            "volume": a.volume,
            "hexagon_chars": a.hexagon_chars,
            "clamped": found.clamped,
            "max_rounding_error": found.max_rounding_error,
            "notes": list(found.notes),
        }
        print(json.dumps(info))
        return
    print(f"found in the {edition.id} library: {a}")
    print(
        f"wall {a.wall}, shelf {a.shelf}, volume {a.volume}; "
        f"the hexagon's name has {a.hexagon_chars:,} characters"
    )
    if a.short:
        print(f"it stands in the near wing: shelf read {a.short}")
    print(
        f"{found.clamped:,} weights clamped to [-100, 100]; "
        f"largest rounding error {found.max_rounding_error:.3g}"
    )
    for note in found.notes:
        print(f"note: {note}")
    print(
        f"call slip written to {args.slip}: shelf read --slip {args.slip}"
        if args.slip
        else "write the full address with --slip FILE"
    )


def found(args, edition: Edition, found, stored) -> None:
    """`shelf find`: locate's report, the readings, the slip's place and its handle."""
    a, loc = found.location.address, found.location
    if args.json:
        info = {
            "edition": edition.id,
            "handle": stored.handle,
            "slip": stored.where,
            "address": str(a),
            "wall": a.wall,
            "shelf": a.shelf,
            "volume": a.volume,
            "hexagon_chars": a.hexagon_chars,
            "hexagon_head": a.hexagon_head,
            "hexagon_tail": a.hexagon_tail,
            "clamped": loc.clamped,
            "max_rounding_error": loc.max_rounding_error,
            "steps": found.steps,
            "loss": found.loss,
            "seed": found.seed,
            "checks": found.checks,
            "seconds": found.seconds,
            "evicted": stored.evicted,
            "readings": [
                {"prompt": p.prompt, "answer": p.answer, **r.to_dict()}
                for p, r in zip(found.pairs, found.readings, strict=True)
            ],
        }
        print(json.dumps(info, ensure_ascii=False))
        return
    print(f"found in the {edition.id} library: {a}")
    print(
        f"wall {a.wall}, shelf {a.shelf}, volume {a.volume}; "
        f"the hexagon's name has {a.hexagon_chars:,} characters"
    )
    print(
        f"{loc.clamped:,} weights clamped to [-100, 100]; "
        f"largest rounding error {loc.max_rounding_error:.3g}"
    )
    print(
        f"{len(found.pairs)} {'pair' if len(found.pairs) == 1 else 'pairs'} answered exactly "
        f"after {found.steps} steps (loss {found.loss:.3g}, seed {found.seed}) in "
        f"{found.seconds['total']:.1f} s:"
    )
    for p, r in zip(found.pairs, found.readings, strict=True):
        print(f"  {p.prompt!r} → {r.text!r}")
    print(f"call slip: {stored.where}")
    first = found.pairs[0].prompt
    print(f"handle: {stored.handle}   read it: shelf read {stored.handle} {json.dumps(first)}")
    for handle in stored.evicted:
        print(
            f"note: the slip store was full; {handle} (unpinned, least recently used) was evicted"
        )


def warm_rate(done: list[tuple[int, float]]) -> float | None:
    """Volumes per second after the first job, from (volumes, time) after each job; None
    for a hunt of one job, whose only measure is its start-up."""
    if len(done) < 2:
        return None
    seconds = done[-1][1] - done[0][1]
    return sum(v for v, _ in done[1:]) / seconds if seconds > 0 else None


def hunted(args, outcome, rate: float | None) -> None:
    hunt = outcome.hunt
    if args.json:
        print(
            json.dumps(
                {
                    **asdict(hunt),
                    "seconds": round(outcome.seconds, 3),
                    "volumes_per_s": None if rate is None else round(rate, 2),
                    "best": [asdict(c) for c in outcome.best],
                },
                ensure_ascii=False,
            )
        )
        return
    speed = f", {rate:,.1f} volumes/s once warm" if rate is not None else ""
    print(
        f"the best {len(outcome.best)} of {hunt.count:,} volumes ({hunt.edition}) in "
        f"{outcome.seconds:.1f} s{speed}\nprompt: {hunt.prompt} · score: "
        f"{hunt.score} · seed {hunt.seed}"
    )
    width = max(len(c.address) for c in outcome.best)
    print(f" #  score  {'address':<{width}}  reading")
    for n, c in enumerate(outcome.best, 1):
        line = "".join(ch if ch.isprintable() else " " for ch in " ".join(c.text.split()))
        line = line if len(line) <= 60 else line[:59] + "…"
        print(f"{n:>2}  {c.score:.3f}  {c.address:<{width}}  {line}")
    print(f'read one: shelf read ADDRESS "{hunt.prompt}" --edition {args.edition}')


def about(args, edition: Edition) -> None:
    facts = {
        "edition": edition.id,
        "description": edition.description,
        **about_numbers(edition.param_count),
    }
    if args.json:
        print(json.dumps(facts))
        return
    for key, value in facts.items():
        print(
            f"{key.replace('_', ' ')}: {value:,}"
            if isinstance(value, int)
            else f"{key.replace('_', ' ')}: {value}"
        )
