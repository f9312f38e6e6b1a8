"""Group commit: requests from many threads written in shared transactions by one writer thread."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app import create_app
from app.batching import GroupCommit
from app.db import get_session
from config import TestConfig


@pytest.fixture
def writer_thread(app):
    """The app as production runs it: batches written by the writer thread."""
    app.config["GROUP_COMMIT"] = True
    yield app
    app.config["GROUP_COMMIT"] = False


def submit_all(app, group: GroupCommit, items: list) -> list:
    """Each item submitted from a thread of its own, all at once: their answers."""

    def one(item):
        with app.app_context():
            return group.submit(item)

    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(one, items))


def test_what_waits_while_a_batch_is_written_goes_in_the_next_batch_together(writer_thread):
    first_started, let_first_finish = threading.Event(), threading.Event()
    batches = []

    def write(_session, items):
        batches.append(list(items))
        if items == ["first"]:
            first_started.set()
            let_first_finish.wait(5)
        return [f"{item} written" for item in items]

    group = GroupCommit("test", write)
    first = ThreadPoolExecutor(1).submit(submit_all, writer_thread, group, ["first"])
    first_started.wait(5)
    threading.Timer(0.3, let_first_finish.set).start()
    answers = submit_all(writer_thread, group, [f"item {n}" for n in range(20)])

    assert first.result(5) == ["first written"]
    assert answers == [f"item {n} written" for n in range(20)]  # each thread its own answer
    assert batches[0] == ["first"]
    assert len(batches) == 2  # the twenty that queued meanwhile went in one batch
    assert sorted(batches[1]) == sorted(f"item {n}" for n in range(20))


def test_a_batch_the_database_gives_up_on_is_left_to_each_request(writer_thread):
    def write(_session, items):
        raise OperationalError("UPDATE ...", {}, Exception("deadlock detected"))

    answers = submit_all(writer_thread, GroupCommit("test", write), ["a", "b", "c"])

    assert answers == [None, None, None]  # each writes itself


def test_a_bug_in_a_batch_reaches_every_request_of_it(writer_thread):
    def write(_session, items):
        raise KeyError("a bug")

    group = GroupCommit("test", write)
    with writer_thread.app_context(), pytest.raises(KeyError, match="a bug"):
        group.submit("a")


def test_requests_that_read_before_they_wait_leave_the_writer_a_connection(database_url):
    # Two connections in the pool, three requests that each read first, then wait on the writer.
    app = create_app(
        TestConfig, {"DATABASE_URL": database_url, "DATABASE_POOL_SIZE": 1, "GROUP_COMMIT": True}
    )
    group = GroupCommit(
        "test", lambda session, items: [session.scalar(text("SELECT 1"))] * len(items)
    )

    def one(item):
        with app.test_request_context():
            get_session().execute(text("SELECT 1"))  # the request's read connection, taken
            return group.submit(item)

    with ThreadPoolExecutor(3) as pool:
        answers = [future.result(timeout=10) for future in [pool.submit(one, n) for n in range(3)]]
    app.extensions["agrilink.db"].dispose()

    assert answers == [1, 1, 1]
