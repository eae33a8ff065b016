"""Worker pools that a study can be interrupted out of without losing finished work.

Workers ignore Ctrl-C (the parent handles it) and die with their parent, even when it is
killed with SIGKILL; on Ctrl-C the parent kills them at once instead of waiting for the running
tasks, so only unfinished tasks are lost, and the caller saves each result as it arrives.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed

__all__ = ["Interrupted", "run_in_pool", "worker_setup"]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a study: `done` of `total` units are kept and the same command resumes."""

    def __init__(self, done: int, total: int, unit: str = "runs"):
        super().__init__(f"{done} of {total} {unit} are kept; the same command resumes")
        self.done, self.total = done, total


def worker_setup() -> None:
    """In each worker: Ctrl-C is the parent's to handle, and the worker dies with its parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            # PR_SET_PDEATHSIG (1): SIGKILL this process when its parent dies, even by SIGKILL.
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
        except (OSError, AttributeError):
            pass


def run_in_pool(function: Callable, tasks: Iterable, jobs: int,
                finished: Callable[[object, object], None]) -> None:
    """Run ``function(task)`` for every task on `jobs` processes; ``finished(task, result)``
    as each completes. Ctrl-C kills the workers at once and propagates."""
    tasks = list(tasks)
    pool = ProcessPoolExecutor(max_workers=max(1, min(jobs, len(tasks))),
                               initializer=worker_setup)
    try:
        futures = {pool.submit(function, task): task for task in tasks}
        for future in as_completed(futures):
            finished(futures[future], future.result())
    except KeyboardInterrupt:
        workers = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for worker in workers:
            worker.kill()
        raise
    pool.shutdown()
