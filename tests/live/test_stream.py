"""The live event stream against a real server: a viewer sees a sale within a second, and one whose
connection dropped gets what it missed when it comes back with Last-Event-ID."""

import http.client
import json
import time

from scripts.bench.common import Server
from tests.live.test_races import _buy, _set_up


class Viewer:
    """An EventSource of our own: reads frames from the session's stream."""

    def __init__(self, base: str, session_id: int, last_event_id: str | None = None) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=10)
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.connection.request(
            "GET", f"/api/v1/live/sessions/{session_id}/events", headers=headers
        )
        self.response = self.connection.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("Content-Type").startswith("text/event-stream")

    def frames(self, until, timeout: float = 10.0) -> list[dict]:
        """Frames as they come, until `until(frame)` is true for one (or the time is up)."""
        seen, current, deadline = [], {}, time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.response.readline().decode().rstrip("\n")
            if line.startswith(":"):
                continue
            if line:
                name, _, value = line.partition(": ")
                current[name] = value
                continue
            if current:
                frame = {**current, "data": json.loads(current.get("data", "null"))}
                seen.append(frame)
                current = {}
                if until(frame):
                    return seen
        raise AssertionError(f"not seen in {timeout} s; got {seen}")

    def close(self) -> None:
        self.connection.close()


def test_a_viewer_sees_stock_fall_as_buyers_buy_and_catches_up_after_a_dropped_connection(
    empty_database_url,
):
    app, ids, tokens = _set_up(empty_database_url, buyers=3)
    with Server(empty_database_url, "wsgi:app", workers=2, threads=8) as server:
        viewer = Viewer(server.base, ids["session"])
        first = viewer.frames(lambda frame: frame["event"] == "state")[-1]
        assert first["data"]["deals"][0]["left"] == 100
        started = time.monotonic()
        assert _buy(server.base, tokens[0], ids["session"], ids["deal"], 2, "a")[0] == 201
        stock = viewer.frames(lambda frame: frame["event"] == "stock")[-1]
        assert stock["data"]["left"] == 98
        assert time.monotonic() - started < 1.0
        last_seen = stock["id"]
        viewer.close()

        # While this viewer is away two more buyers buy; back with Last-Event-ID, it gets both at once.
        assert _buy(server.base, tokens[1], ids["session"], ids["deal"], 2, "b")[0] == 201
        assert _buy(server.base, tokens[2], ids["session"], ids["deal"], 1, "c")[0] == 201
        back = Viewer(server.base, ids["session"], last_event_id=last_seen)
        missed = back.frames(
            lambda frame: frame["event"] == "stock" and frame["data"]["left"] == 95
        )
        assert [frame["data"]["left"] for frame in missed if frame["event"] == "stock"] == [96, 95]
        assert all(frame["event"] != "state" for frame in missed)  # resumed, not started over
        back.close()
    app.extensions["agrilink.db"].dispose()
