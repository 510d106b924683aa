"""A pool of worker processes for CPU work (extraction), off the Twisted reactor thread."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Worker processes never start by fork (unsafe in a threaded, Twisted process): the fork
# server is one clean process that imports the heavy modules once and forks workers from it.
START_METHOD = "forkserver"
# Imported once in the fork server, so a worker (or its replacement) starts in milliseconds
PRELOAD = ["aggregator.ingest"]


def default_processes() -> int:
    """One worker process per CPU this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _ignore_interrupts() -> None:
    # Ctrl-C reaches the whole process group: the crawl process decides how to stop, and a
    # worker killed by it would break the pool under the pages still being extracted
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class ProcessPool:
    """Run picklable functions in worker processes, started on first use; 0 runs in process.

    A pool whose worker died (crash, out of memory, killed) is replaced by a new one.
    """

    def __init__(self, processes: int) -> None:
        self.processes = max(0, processes)
        self._executor: ProcessPoolExecutor | None = None

    def _start(self, processes: int) -> ProcessPoolExecutor:
        context = multiprocessing.get_context(START_METHOD)
        context.set_forkserver_preload(PRELOAD)
        return ProcessPoolExecutor(processes, mp_context=context, initializer=_ignore_interrupts)

    def _current(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = self._start(self.processes)
            logger.debug("Started %d worker processes", self.processes)
        return self._executor

    def _discard(self, executor: ProcessPoolExecutor) -> None:
        """Drop a broken pool (only once, however many of its tasks report it)."""
        if self._executor is executor:
            self._executor = None
            executor.shutdown(wait=False, cancel_futures=True)
            logger.warning("A worker process died; a new pool takes the next tasks")

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Run function(*args) in a worker and await its result (or its exception).

        When a worker dies, every task of its pool fails: each is then tried again alone, in
        a process of its own, so the one that kills its process (raising BrokenProcessPool
        again) is told apart from the innocent ones.
        """
        if self.processes == 0:
            return function(*args)
        executor = self._current()
        try:
            # submitted from a thread: the first submit waits for the fork server to import
            # its modules (seconds on a busy machine), which would stall every download
            future = await asyncio.to_thread(executor.submit, function, *args)
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            self._discard(executor)
        alone = self._start(1)
        try:
            return await asyncio.wrap_future(alone.submit(function, *args))
        finally:
            alone.shutdown(wait=False)

    def shutdown(self) -> None:
        """Stop the worker processes (waiting for the tasks they hold)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
