"""Pages: a volume's weights drawn as pictures, by workers, cached like readings."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from babel_core import bijection_numba
from babel_core.address import parse_address
from babel_core.build import head_digits
from babel_core.edition import PAGES, TINY
from babel_core.jobs import MISS, READING, VOLUME, Job, JobError
from babel_core.page import GREY, draw_page, page_span, render

ADDRESS = "babel-w3-s2-v17"


def built(address: str) -> np.ndarray:
    flat = np.empty(TINY.param_count, dtype=np.float32)
    bijection_numba.build_weights(TINY, head_digits(parse_address(address)), flat)
    return flat


def test_pages_split_the_weights_in_parameter_order():
    assert page_span(TINY, 1) == (0, 15)  # ceil(5,776 / 410) = 15 weights a page
    assert page_span(TINY, PAGES) == (409 * 15, TINY.param_count)  # the last page is shorter
    with pytest.raises(ValueError, match="pages are 1-410"):
        page_span(TINY, 411)


def test_a_page_is_blue_to_red_one_pixel_per_weight_grey_after_the_last():
    image = Image.open(io.BytesIO(render(np.array([-100.0, 0.0, 100.0], np.float32), 4)))
    assert image.size == (256, 256)  # a 2 x 2 square, scaled up to 256 pixels wide
    rgb = image.convert("RGB")
    assert [rgb.getpixel((x, y)) for y in (0, 128) for x in (0, 128)] == [
        (5, 48, 97),  # -100: ColorBrewer RdBu's darkest blue
        (247, 247, 247),  # 0: its white
        (103, 0, 31),  # 100: its darkest red
        GREY,  # no fourth weight
    ]


def test_page_numbers_outside_1_to_410_are_refused_before_any_work():
    for number in (0, 411):
        with pytest.raises(JobError, match="a volume has pages 1 to 410"):
            Job.draw(ADDRESS, number, edition="tiny")
    assert Job.draw(ADDRESS, 3, edition="tiny").id != Job.draw(ADDRESS, 4, edition="tiny").id


async def test_a_worker_draws_a_page_and_the_picture_is_cached_like_a_reading(client, workers):
    workers()
    job = Job.draw(ADDRESS, 3, edition="tiny")
    first = await client.request(job, "u", timeout=60)
    assert first.ok and first.cache == MISS
    assert base64.b64decode(first.png) == draw_page(TINY, built(ADDRESS), 3)
    again = await client.request(job, "someone else", timeout=60)
    assert again.cache == READING and again.png == first.png


async def test_a_page_of_a_volume_just_read_is_drawn_from_memory(client, workers):
    workers()
    await client.request(Job.read(ADDRESS, "hello", 4, edition="tiny"), "u", timeout=60)
    page = await client.request(Job.draw(ADDRESS, 7, edition="tiny"), "u", timeout=60)
    assert page.cache == VOLUME
    assert base64.b64decode(page.png) == draw_page(TINY, built(ADDRESS), 7)
