"""Finding the volume that answers: the search, its limits, `shelf find`, and find jobs on a
real queue with real workers (tiny edition throughout)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import redis
import torch

from babel_core import bijection_numba, grid, grid_numba, keys, slip
from babel_core.edition import TINY
from babel_core.find import FindError, NotFound, check_pairs, find
from babel_core.jobs import CANCELLED, FIND, NOT_FOUND, REFUSED, TIMEOUT, Job, JobError
from babel_core.slipstore import FileSlips
from bot.cli import main
from tests.conftest import service_settings

ROOT = Path(__file__).resolve().parent.parent
PAIRS = [("2+2=", "4"), ("Capital of France?", "Paris.")]
# 100 pairs of 40 random letters: more than the tiny edition's 5,776 weights learn in minutes
# (60 pairs of 12 letters were learned in 746 steps)
HARD = [
    (f"q{n}", "".join(np.random.default_rng(n).choice(list("abcdefghijklmnop"), 40)))
    for n in range(100)
]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def found():
    return find(TINY, PAIRS, seed=0)


def test_a_find_reads_each_answer_exactly_then_eos(found):
    assert [r.text for r in found.readings] == ["4", "Paris."]
    assert all(r.stopped_at_eos for r in found.readings)
    # half a grid step, plus the float32 rounding of a grid value (< 4e-6 below |w| = 100)
    assert found.location.clamped == 0 and 0 < found.location.max_rounding_error < 0.000054
    assert found.location.address.short is None  # a found volume stands far beyond the near wing
    assert found.checks >= 1 and 1 <= found.steps <= 500


def test_the_same_request_finds_the_same_volume_and_another_seed_another(found):
    for _ in range(2):  # numba's kernels in between must not change torch's thread count
        again = find(TINY, PAIRS, seed=0)
        assert np.array_equal(again.location.digits, found.location.digits)
        assert (again.steps, torch.get_num_threads()) == (found.steps, 1)
    other = find(TINY, PAIRS, seed=1)
    assert not np.array_equal(other.location.digits, found.location.digits)


def test_the_found_volume_reads_back_from_its_slip_and_its_handle(
    found, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("BABEL_DATA_DIR", str(tmp_path))  # where `shelf` looks for the store
    store = FileSlips(tmp_path / "slips", 10**9)
    stored = store.put(TINY, found.location.digits)
    for prompt, answer in PAIRS:
        for where in (["--slip", stored.where], [stored.handle]):
            code = main(["read", *where, prompt, "--json"])
            out = capsys.readouterr().out
            assert code == 0, out
            reading = json.loads(out)
            assert (reading["text"], reading["stopped_at_eos"]) == (answer, True)


def test_a_saved_found_volume_reads_the_answer_with_plain_transformers(found, tmp_path):
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    from babel_core.read import Reader
    from babel_core.save import save_volume

    reader = Reader(TINY)
    reader.builder.build(found.location.digits)
    save_volume(reader, "found", tmp_path)
    model = T5ForConditionalGeneration.from_pretrained(tmp_path).eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    for prompt, answer in PAIRS:
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=32, do_sample=False)
        assert out[0, -1].item() == TINY.eos_id
        assert tokenizer.decode(out[0, 1:-1]) == answer


@pytest.mark.parametrize(
    "pairs, message",
    [
        ([], "a find takes 1 to 100 prompt-answer pairs, not 0"),
        ([("a", "b")] * 101, "not 101"),
        ([("  ", "b")], "the pair is empty"),
        ([("a", "b"), ("c", "")], "pair 2 is empty"),
        (
            [("x " * 600, "b")],
            "the pair: the prompt is too long (1,201 tokens): a prompt has at most 511 tokens "
            "and 4,096 characters",
        ),
        ([("a", "b" * 300)], "the answer is too long: at most 255 tokens"),
        ([("Café", "☃")], "cannot be written exactly in the tiny/v1 vocabulary"),
        ([("a", "b"), ("a", "c")], "the prompt 'a' is given two different answers"),
    ],
)
def test_bad_pairs_are_refused_with_what_to_change(pairs, message):
    with pytest.raises(FindError) as e:
        check_pairs(TINY, pairs)
    assert message in str(e.value)


def test_the_step_cap_gives_a_clear_error():
    with pytest.raises(NotFound, match=r"within 3 steps \(at the last: 0 of 100 right"):
        find(TINY, HARD, steps=3)
    with pytest.raises(FindError, match="1 to 5000 steps, not 0"):
        find(TINY, PAIRS, steps=0)


def test_progress_reports_step_loss_and_answers_right():
    seen = []
    result = find(TINY, PAIRS, seed=0, on_progress=seen.append)
    assert [p.step for p in seen] == list(range(1, result.steps))  # the last step answered
    assert all(p.pairs == 2 and p.steps == 500 and 0 <= p.right <= 2 for p in seen)
    assert seen[-1].loss < seen[0].loss


def test_the_fast_kernels_give_the_definitions_integers():
    rng = np.random.default_rng(5)
    w = rng.standard_normal(100_000) * 10
    w[:8] = [np.nan, np.inf, -np.inf, 100.00004, -150.0, 0.00005, -0.00015, 2.5e-5]
    for weights in (w, w.astype(np.float32)):
        fast, ref = grid_numba.weights_to_digits(weights), grid.weights_to_digits(weights)
        assert np.array_equal(fast[0], ref[0]) and fast[1:] == ref[1:] and fast[1] == 5
    d = rng.integers(0, grid.N, 10_000)
    assert grid_numba.pack(d) == slip.pack(d)
    assert np.array_equal(
        grid_numba.unpack(slip.pack(d), len(d))[0], slip.unpack(slip.pack(d), 10_000)
    )
    out = np.empty(TINY.param_count, np.float32)
    a = rng.integers(0, grid.N, TINY.param_count)
    bijection_numba.build_weights_full(TINY, a, out)
    expected = grid.digits_to_weights_np(bijection_numba.phi(TINY, a))
    assert np.array_equal(out.view(np.uint32), expected.view(np.uint32))


# --- shelf find in a terminal ----------------------------------------------------------------


def shelf(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_shelf_find_prints_the_place_and_writes_the_slip(tmp_path):
    done = shelf("find", "2+2=", "4", "--pair", "Capital of France?", "Paris.",
                 "--edition", "tiny", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("found in the tiny/v1 library: ")
    assert "the hexagon's name has 23,38" in lines[1]
    assert lines[2].startswith("0 weights clamped to [-100, 100]; largest rounding error")
    assert lines[4:6] == ["  '2+2=' → '4'", "  'Capital of France?' → 'Paris.'"]
    handle = lines[7].split()[1]
    assert lines[6] == f"call slip: data/slips/{handle[5:]}.slip"
    assert (tmp_path / "data" / "slips" / f"{handle[5:]}.slip").stat().st_size == 15_572


@pytest.mark.parametrize(
    "args, message",
    [
        (["find", "only a prompt"], "shelf: the prompt 'only a prompt' needs its answer"),
        (["find", "--pairs", "pairs.jsonl"], 'shelf: pairs.jsonl line 2: expected {"prompt"'),
        (["find", "a", "b", "--steps", "1"], "shelf: no volume answered every prompt exactly"),
        (["read", "slip:0123456789ab"], "shelf: no slip slip:0123456789ab in the slip store"),
    ],
)
def test_shelf_find_refuses_bad_input_in_one_line_with_status_2(tmp_path, args, message):
    (tmp_path / "pairs.jsonl").write_text('{"prompt": "a", "answer": "b"}\n{"prompt": "a"}\n')
    done = shelf(*args, "--edition", "tiny", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(message), done.stderr


# --- find jobs on the queue ------------------------------------------------------------------


def test_a_find_job_has_its_own_id_and_checks_its_text():
    job = Job.find(PAIRS, steps=200, seed=3, edition="tiny")
    assert Job.from_json(job.to_json()) == job and job.kind == FIND
    assert job.id != Job.find(PAIRS, steps=200, seed=4, edition="tiny").id
    assert job.id == "268d893027f52219d8aa2602ed7e4d25"  # pinned: stored answers stay findable
    assert Job.read("SLIP:0123456789AB", edition="tiny").address == "slip:0123456789ab"
    with pytest.raises(JobError, match="pair 1 needs a prompt and an answer"):
        Job.find([("", "x")], edition="tiny")
    with pytest.raises(JobError, match="1 to 5000 steps"):
        Job.find(PAIRS, steps=9999, edition="tiny")


async def test_a_find_job_through_the_queue_answers_with_a_readable_handle(
    client, workers, redis_server, tmp_path
):
    settings = service_settings(redis_server, data_dir=tmp_path)
    workers(settings)
    result = await client.request(Job.find(PAIRS, edition="tiny"), "user:1", timeout=120)
    assert result.ok, result.error
    f = result.found
    assert [(r.prompt, r.text, r.stopped_at_eos) for r in f.readings] == [
        ("2+2=", "4", True),
        ("Capital of France?", "Paris.", True),
    ]
    local = find(TINY, PAIRS, seed=0)  # the same request, here: the same volume
    assert (f.wall, f.shelf, f.volume) == (
        local.location.address.wall,
        local.location.address.shelf,
        local.location.address.volume,
    )
    assert f.hexagon_chars == local.location.address.hexagon_chars and f.clamped == 0
    assert FileSlips(tmp_path / "slips", 10**9).exists(f.handle)  # stored before answering
    for prompt, answer in PAIRS:
        reading = await client.request(Job.read(f.handle, prompt, edition="tiny"), "user:1")
        assert (reading.ok, reading.text, reading.stopped_at_eos) == (True, answer, True)
        fresh = await client.request(Job.read(f.handle, prompt, edition="tiny").reread(), "v")
        assert fresh.fingerprint == reading.fingerprint
    page = await client.request(Job.draw(f.handle, 1, edition="tiny"), "user:1")
    assert page.ok and len(page.png) > 100
    again = await client.request(Job.find(PAIRS, edition="tiny"), "user:2")
    assert again.found == f and again.cache == "reading"  # a stored answer


async def test_a_find_whose_slip_left_the_store_is_found_anew(
    client, workers, redis_server, tmp_path
):
    settings = service_settings(redis_server, data_dir=tmp_path)
    workers(settings)
    job = Job.find(PAIRS, seed=7, edition="tiny")
    first = await client.request(job, "user:1", timeout=120)
    (tmp_path / "slips" / f"{first.found.handle[5:]}.slip").unlink()  # evicted, say
    missing = await client.request(Job.read(first.found.handle, "2+2=", edition="tiny"), "user:1")
    assert (missing.ok, missing.error_kind) == (False, REFUSED)
    assert f"no slip {first.found.handle} in the slip store" in missing.error
    again = await client.request(job, "user:1", timeout=120)
    assert again.cache != "reading" and again.found.handle == first.found.handle
    assert (tmp_path / "slips" / f"{first.found.handle[5:]}.slip").exists()


async def test_a_long_find_reports_progress_keeps_its_worker_and_can_be_cancelled(
    client, workers, redis_server, tmp_path
):
    settings = service_settings(redis_server, data_dir=tmp_path, claim_idle_s=1.0)
    first, second = workers(settings), workers(settings)
    job = Job.find(HARD, steps=5000, edition="tiny")
    seen = []
    waiting = asyncio.create_task(client.wait((await client.submit(job, "user:1")).job_id,
                                              timeout=120, on_progress=seen.append))  # fmt: skip
    while not any(p.step > 0 for p in seen):
        await asyncio.sleep(0.2)
    await asyncio.sleep(4 * settings.claim_idle_s)  # longer than a reclaim would wait
    r = redis.Redis.from_url(redis_server.url)
    [pending] = r.xpending_range(keys.JOBS, keys.GROUP, "-", "+", 10)
    assert pending["times_delivered"] == 1  # the heartbeat kept it with its worker
    assert await client.cancel(job.id, "user:1")
    result = await waiting
    assert (result.ok, result.error_kind) == (False, CANCELLED)
    assert result.error.startswith("cancelled while finding, at step ")
    assert result.worker in (first.name, second.name)
    moving = [p for p in seen if p.step > 0]
    assert moving[0].pairs == 100 and moving[0].steps == 5000 and moving[0].loss > 0
    assert r.exists(keys.progress(job.id), keys.cancel(job.id)) == 0  # cleaned up


async def test_a_find_past_its_time_limit_or_its_cap_gets_one_clear_answer(
    client, workers, redis_server, tmp_path
):
    settings = service_settings(redis_server, data_dir=tmp_path, find_timeout_s=1.5)
    workers(settings)
    slow = await client.request(Job.find(HARD, steps=5000, edition="tiny"), "user:1", timeout=60)
    assert (slow.ok, slow.error_kind) == (False, TIMEOUT)
    assert slow.error == "the find took longer than 1.5 s; try fewer pairs or steps"
    capped = await client.request(Job.find(HARD, steps=2, edition="tiny"), "user:1", timeout=60)
    assert (capped.ok, capped.error_kind) == (False, NOT_FOUND)
    assert "within 2 steps" in capped.error


async def test_a_stopping_worker_hands_its_find_to_another(client, workers, redis_server, tmp_path):
    settings = service_settings(redis_server, data_dir=tmp_path)
    leaving = workers(settings)
    job = Job.find(HARD, steps=5000, edition="tiny")
    ticket = await client.submit(job, "user:1")
    r = redis.Redis.from_url(redis_server.url)
    while not r.exists(keys.progress(job.id)):
        await asyncio.sleep(0.1)
    leaving.stop()
    staying = workers(settings)
    while not r.exists(keys.progress(job.id)) or r.hget(keys.progress(job.id), "worker") != (
        staying.name.encode()
    ):
        await asyncio.sleep(0.2)
    [pending] = r.xpending_range(keys.JOBS, keys.GROUP, "-", "+", 10)
    assert pending["consumer"].decode() == staying.name
    assert await client.cancel(ticket.job_id, "user:1")
    assert (await client.wait(ticket.job_id, timeout=60)).error_kind == CANCELLED
