"""Exceptions raised for bad user input."""

from __future__ import annotations

import logging
import sys
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


class WriteError(LyraInputError):
    """An output the system would not let us write (``lyra.io.atomic.atomic_path``), reported
    as one line like bad input: ``<path>: writing: no space left on device``."""


class TrainingDiverged(LyraInputError):
    """Training gave a non-finite loss or prediction (a learning rate too high, say): the
    run stops and writes no model, predictions or metrics.

    ``lyra.training.loop.fit`` raises it with ``source`` "training"; ``lyra.models.fold.train_fold``
    names the task, model and fold instead (``at``)."""

    def at(self, source: str) -> "TrainingDiverged":
        return TrainingDiverged(source, self.location, self.problem)


def report_input_error(error: BaseException, log_path: str | PathLike | None = None, prefix: str = "error") -> str:
    """Write ``<prefix>: <file>: <location>: <problem>`` as one line to stderr (and to the
    end of ``log_path`` when given); returns the line."""
    line = f"{prefix}: {error}"
    if log_path is not None:
        logging.shutdown()  # flush and close the log's handlers before appending to the file
        with open(log_path, "a") as handle:
            handle.write(line + "\n")
    print(line, file=sys.stderr, flush=True)
    return line


def exit_on_input_error(log_path: str | PathLike | None = None, prefix: str = "error") -> None:
    """Make an uncaught LyraInputError end this process with one line and exit status 1.

    For the workflow scripts (``exit_on_input_error(snakemake.log[0])``): bad input is then
    the one line ``error: <file>: <line or record>: <problem>`` on stderr and in the job's
    log, without a Python traceback. Any other exception (a bug) keeps its traceback.
    """
    previous = sys.excepthook

    def hook(kind, value, traceback):
        if isinstance(value, LyraInputError):
            report_input_error(value, log_path, prefix)  # the interpreter then exits with status 1
        else:
            previous(kind, value, traceback)

    sys.excepthook = hook
