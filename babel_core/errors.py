"""The one base class of every error whose message is written for the person who asked."""

from __future__ import annotations


class LibraryError(Exception):
    """A request the library cannot serve as asked; str(error) says what to do instead."""
