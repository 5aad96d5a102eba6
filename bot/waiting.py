"""A job on its way, as the command core reports it to a front end while a person waits.

Readings (bot/commands.py) and hunts (bot/hunting.py) both report progress as a `Waiting`
through the same callback, so the Discord adapter and the console show either with one
progress reply. It lives on its own so both can import it without importing each other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Waiting:
    """A job on its way, for the front end to show: 0 = a worker has it, n = n-th in line.

    A hunt reports as a Waiting too: job_id is the hunt's id, `total` its volumes (0 for a
    reading) and `done` the volumes read so far.
    """

    job_id: str
    address: str
    position: int
    workers: int  # workers alive; 0 means the job waits until one starts
    owner: str  # user id of the person who asked (the only one who may cancel)
    done: int = 0
    total: int = 0
    doing: str = "Reading"  # what the worker does, for the person waiting


OnProgress = Callable[[Waiting], Awaitable[None]]
