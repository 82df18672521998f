"""Exceptions raised for bad user input."""

from __future__ import annotations

from os import PathLike


class LyraInputError(ValueError):
    """Bad input data or configuration, located in a file.

    The message reads ``<file>: <location>: <problem>``, e.g.
    ``data/x.csv: line 12: target 'abc' is not a number``.
    """

    def __init__(self, source: str | PathLike, location: str, problem: str):
        self.source = str(source)
        self.location = location
        self.problem = problem
        super().__init__(f"{self.source}: {location}: {problem}")
