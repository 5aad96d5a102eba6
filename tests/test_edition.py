"""Editions are pinned: the live transformers model must have exactly the released layout."""

import subprocess
import sys

import pytest

from babel_core.build import layout, layout_hash, skeleton
from babel_core.edition import T5_SMALL, TINY, get_edition


@pytest.mark.parametrize(
    "edition, count, tensors",
    [(T5_SMALL, 60_441_088, 131), (TINY, 5_776, 26)],
    ids=["t5-small", "tiny"],
)
def test_the_live_model_has_the_pinned_parameter_layout(edition, count, tensors):
    entries = layout(skeleton(edition))
    assert edition.param_count == count
    assert sum(int(__import__("math").prod(shape)) for _, shape in entries) == count
    assert len(entries) == tensors
    assert layout_hash(entries) == edition.layout_sha256
    assert entries[0] == ("shared.weight", (edition.t5["vocab_size"], edition.t5["d_model"]))


def test_t5_small_is_the_v1_small_shape_with_tied_embeddings():
    model = skeleton(T5_SMALL)
    c = model.config
    assert (c.d_model, c.d_kv, c.d_ff, c.num_layers, c.num_decoder_layers, c.num_heads) == (
        512,
        64,
        2048,
        6,
        6,
        8,
    )
    assert (c.relative_attention_num_buckets, c.relative_attention_max_distance) == (32, 128)
    assert c.feed_forward_proj == "relu" and c.layer_norm_epsilon == 1e-6
    assert c.tie_word_embeddings
    assert model.lm_head.weight is model.shared.weight


def test_editions_are_found_by_name_or_id_and_unknown_ones_are_refused():
    assert get_edition("t5-small/v1") is T5_SMALL
    assert get_edition(" TINY ") is TINY
    with pytest.raises(ValueError, match="the library has: t5-small, tiny"):
        get_edition("gpt-2")


def test_commands_that_need_no_model_import_neither_torch_nor_transformers():
    code = (
        "import sys\nfrom bot.cli import main\n"
        "assert main(['about']) == 0\nassert main(['read', 'babel-w5-s1-v1']) == 2\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "wall 5 is out of range" in done.stderr
    assert "P: 60,441,088" in done.stdout
