"""How long library work reports progress without printing: a callback the caller supplies.

Library code never writes to the terminal; the command line turns these calls into progress bars.
"""

from __future__ import annotations

from collections.abc import Callable

#: ``progress(done, total, note)``: `done` of `total` units are finished; `note` says what runs now.
Progress = Callable[[int, int, str], None]


class Stages:
    """Counts finished stages of a long job and reports each change to an optional callback.

    Parameters
    ----------
    total : int
        The number of stages the job expects.
    report : Progress, optional
        Called after every change; nothing is reported without it.
    """

    def __init__(self, total: int, report: Progress | None) -> None:
        self.total = total
        self.done = 0
        self.note = ""
        self._report = report

    def update(self, count: int = 1) -> None:
        """Mark `count` more stages finished."""
        self.done = min(self.total, self.done + count)
        self._emit()

    def say(self, note: str) -> None:
        """Name the stage now running."""
        self.note = note
        self._emit()

    def finish(self) -> None:
        """Mark every stage finished (a job may skip some)."""
        self.done = self.total
        self._emit()

    def _emit(self) -> None:
        if self._report is not None:
            self._report(self.done, self.total, self.note)
