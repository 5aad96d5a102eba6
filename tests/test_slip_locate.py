"""Call slips, locate and save: any model of the edition's shape has an address to read back."""

import json

import numpy as np
import pytest
import torch

from babel_core import grid
from babel_core.address import parse_address
from babel_core.edition import T5_SMALL, TINY
from babel_core.locate import LocateError, load_state_dict, locate
from babel_core.read import Reader, generate, reading_of
from babel_core.save import save_volume
from babel_core.slip import SlipError, read_slip, write_slip
from bot.cli import main


@pytest.fixture(scope="module")
def tiny_reader():
    return Reader(TINY)


def random_digits(edition, seed=0):
    return np.random.default_rng(seed).integers(0, grid.N, edition.param_count)


def test_a_slip_carries_a_full_address_exactly(tmp_path, edition):
    digits = random_digits(edition)
    path = write_slip(tmp_path / "v.slip", edition, digits)
    assert path.stat().st_size < edition.param_count * 21.34 / 8 + 300  # ~21.3 bits a digit
    got_edition, got = read_slip(path)
    assert got_edition is edition and np.array_equal(got, digits)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda b: b[:-5], "truncated"),
        (lambda b: b[:-8] + bytes(8), "checksum"),
        (lambda b: b"not a slip at all", "is not a call slip"),
        (lambda b: b[:13] + b"{oops\n" + b[b.index(b"\n", 13) + 1 :], "damaged header"),
        (lambda b: b.replace(b"tiny/v1", b"tiny/v9"), "cannot read"),
    ],
)
def test_damaged_slips_are_refused_with_a_clear_error(tmp_path, damage, message):
    path = write_slip(tmp_path / "v.slip", TINY, random_digits(TINY))
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(SlipError, match=message):
        read_slip(path)


def test_a_slip_for_another_edition_is_refused(tmp_path):
    path = write_slip(tmp_path / "v.slip", TINY, random_digits(TINY))
    with pytest.raises(SlipError, match="for the tiny/v1 edition, not t5-small/v1"):
        read_slip(path, T5_SMALL)
    with pytest.raises(SlipError, match="cannot read the call slip"):
        read_slip(tmp_path / "missing.slip")


def saved(reader, address, folder):
    reader.builder.build(parse_address(address))
    return save_volume(reader, address, folder)


def test_locating_a_saved_volume_finds_its_address(tmp_path, tiny_reader):
    folder = saved(tiny_reader, "babel-w3-s2-v17", tmp_path / "vol")
    found = locate(TINY, load_state_dict(folder))
    assert str(found.address.short) == "babel-w3-s2-v17"
    assert (found.address.wall, found.address.shelf, found.address.volume) == (3, 2, 17)
    assert found.clamped == 0 and found.max_rounding_error == 0.0
    assert json.loads((folder / "babel.json").read_text())["edition"] == "tiny/v1"


@pytest.mark.parametrize("edition_", [TINY, T5_SMALL], ids=["tiny", "t5-small"])
def test_a_saved_volume_reads_the_same_with_plain_transformers(tmp_path, edition_):
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    reader = Reader(edition_)
    prompt = "Where is the book of books?"
    ours = reader.read(parse_address("babel-w1-s1-v2"), prompt)
    save_volume(reader, "babel-w1-s1-v2", tmp_path)
    model = T5ForConditionalGeneration.from_pretrained(tmp_path).eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=32, do_sample=False)
    new = out[0, 1:].tolist()
    assert reading_of(edition_, new).token_ids == ours.token_ids


def test_locate_refuses_a_checkpoint_of_another_shape(tmp_path, tiny_reader):
    state = {"shared.weight": torch.zeros(7, 7)}
    with pytest.raises(LocateError, match=r"shared.weight has shape \(7, 7\)"):
        locate(TINY, state)
    with pytest.raises(LocateError, match="no such checkpoint"):
        load_state_dict(tmp_path / "nothing.safetensors")
    (tmp_path / "junk.pt").write_bytes(b"\x00garbage")
    with pytest.raises(LocateError, match="junk.pt is not a checkpoint"):
        load_state_dict(tmp_path / "junk.pt")


def train_tiny_copy_model(steps=60):
    """A tiny-edition T5 trained for a few steps to copy a short token sequence."""
    from transformers import T5ForConditionalGeneration

    from babel_core.build import t5_config

    torch.manual_seed(0)
    model = T5ForConditionalGeneration(t5_config(TINY))
    opt = torch.optim.Adam(model.parameters(), lr=3e-2)
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x = torch.randint(3, 128, (32, 6), generator=g)
        eos = torch.full((32, 1), TINY.eos_id)
        loss = model(input_ids=torch.cat([x, eos], 1), labels=torch.cat([x, eos], 1)).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), loss.item()


def test_a_model_trained_in_the_test_is_located_and_read_back_from_its_slip(tmp_path):
    model, loss = train_tiny_copy_model()
    assert loss < 4.0  # it learned something: chance is ln(128) = 4.85
    torch.save(model.state_dict(), tmp_path / "trained.pt")
    found = locate(TINY, load_state_dict(tmp_path / "trained.pt"))
    assert found.clamped == 0 and 0 < found.max_rounding_error <= 0.00005
    assert found.address.short is None  # a trained model lives far beyond the near wing
    write_slip(tmp_path / "trained.slip", TINY, found.digits)

    # The model rounded to the grid is the volume the slip names.
    rounded = {
        k: torch.from_numpy(
            grid.digits_to_weights_np(grid.weights_to_digits(v.double().numpy())[0])
        ).view(v.shape)
        for k, v in model.state_dict().items()
    }
    model.load_state_dict(rounded)
    reader = Reader(TINY)
    prompts = [[5, 9, 40, 77, 3, 100], [120, 4, 4, 8, 60, 33]]
    for ids in prompts:
        expected = generate(model, TINY, ids + [TINY.eos_id], 8)
        edition, digits = read_slip(tmp_path / "trained.slip")
        reader.builder.build(digits)
        assert generate(reader.model, TINY, ids + [TINY.eos_id], 8) == expected


def test_the_cli_reads_a_volume_back_from_a_located_slip(tmp_path, capsys, tiny_reader):
    assert main(["save", "babel-w3-s2-v17", str(tmp_path / "vol"), "--edition", "tiny"]) == 0
    slip = tmp_path / "vol.slip"
    assert (
        main(["locate", str(tmp_path / "vol"), "--edition", "tiny", "--slip", str(slip), "--json"])
        == 0
    )
    capsys.readouterr()
    assert main(["read", "--slip", str(slip), "Hello", "--json"]) == 0
    from_slip = json.loads(capsys.readouterr().out)
    assert main(["read", "babel-w3-s2-v17", "Hello", "--json", "--edition", "tiny"]) == 0
    direct = json.loads(capsys.readouterr().out)
    assert from_slip["token_ids"] == direct["token_ids"]
    assert from_slip["fingerprint"] == direct["fingerprint"]
