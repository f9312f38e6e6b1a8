"""Group commit: many requests' writes in one transaction, made by one writer thread per process.

A request thread hands its item to the writer and waits. The writer takes whatever has queued meanwhile
(up to `most`) and runs `write(items)` inside one `transaction()`, which answers one result per item. So under
load a process makes one transaction per batch instead of one per request: fewer round trips, fewer
commits, and rows locked once per batch rather than once per request. When nothing is queued, a batch is
one item and waits for nothing.

A result of None means "write this one alone": the batch function says so for anything it does not
settle itself (a rule it would refuse, a key seen before), and the whole batch says so when the database
gives up on it (a deadlock, a serialisation failure), so the caller falls back to its one-request path.

With GROUP_COMMIT off (the test suite, whose sessions share one connection) the calling thread runs its
item as a batch of one: the same code, with no thread.
"""

import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

from flask import Flask, current_app
from sqlalchemy.exc import IntegrityError, OperationalError

from app.db import reads_released, transaction

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

WAIT_SECONDS = 60  # a request gives up on its batch after this long (the database is stuck)


class GroupCommit(Generic[Item, Result]):
    def __init__(
        self, name: str, write: Callable[[object, Sequence[Item]], list[Result | None]], *, most=64
    ) -> None:
        self.name = name
        self.write = write  # (session, items) -> one result (or None) per item, in order
        self.most = most
        self._queue: queue.SimpleQueue[tuple[Item, Future]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._writer_pid: int | None = None

    def submit(self, item: Item) -> Result | None:
        """Write `item` with whatever else is waiting; its result, or None to write it alone."""
        app = current_app._get_current_object()
        if not app.config["GROUP_COMMIT"]:
            return self._write_batch([item])[0]
        self._start_writer(app)
        waiting: Future = Future()
        with reads_released():  # the writer needs a connection from the same pool
            self._queue.put((item, waiting))
            return waiting.result(timeout=WAIT_SECONDS)

    def _start_writer(self, app: Flask) -> None:
        # One writer per process, started by its first request (in the worker process, not before).
        if self._writer_pid == os.getpid():
            return
        with self._lock:
            if self._writer_pid != os.getpid():
                thread = threading.Thread(
                    target=self._serve, args=(app,), name=f"group-commit-{self.name}", daemon=True
                )
                thread.start()
                self._writer_pid = os.getpid()

    def _serve(self, app: Flask) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.most:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            items = [item for item, _waiting in batch]
            try:
                with app.app_context():
                    results = self._write_batch(items)
            except Exception as error:  # a bug: every request of the batch answers 500 with it
                log.exception("group commit %s failed on a batch of %d", self.name, len(items))
                for _item, waiting in batch:
                    waiting.set_exception(error)
                continue
            for (_item, waiting), result in zip(batch, results, strict=True):
                waiting.set_result(result)

    def _write_batch(self, items: list[Item]) -> list[Result | None]:
        try:
            with transaction() as session:
                return self.write(session, items)
        except (OperationalError, IntegrityError):
            # The database gave up on the batch (a deadlock; a row another process inserted at the same
            # moment): each request writes itself.
            log.warning(
                "group commit %s: a batch of %d is written one by one", self.name, len(items)
            )
            return [None] * len(items)
