"""Surveillance against real server processes: a halt holds on every worker at once, and the console's
event stream carries a trade the moment it is made. Runs on SQLite and, with TEST_DATABASE_URL, on
PostgreSQL."""

import http.client
import time

from scripts.bench.common import Server
from tests.exchange.races import (
    CLOSE_FEN,
    OFFICER_TOKEN,
    SYMBOL,
    at_once,
    call,
    exchange_with_traders,
    yuan,
)

BUY = {"symbol": SYMBOL, "side": "buy", "price_yuan": yuan(CLOSE_FEN), "lots": 1}


def test_a_halt_refuses_new_orders_on_every_worker_within_a_second(empty_database_url):
    _app, traders = exchange_with_traders(empty_database_url, traders=20, deposit_fen=10_000_000)
    with Server(empty_database_url, "wsgi:app", workers=2, threads=8) as server:
        assert call(server.base, traders[0].token, "POST", "/api/v1/exchange/orders", BUY)[0] == 201
        halted = call(
            server.base,
            OFFICER_TOKEN,
            "POST",
            "/api/v1/surveillance/halts",
            {"symbol": SYMBOL, "reason": "价格异常波动"},
        )
        assert halted[0] == 200
        started = time.monotonic()
        answers = at_once(
            server.base, [(t.token, "POST", "/api/v1/exchange/orders", BUY) for t in traders]
        )
        elapsed = time.monotonic() - started
        pids = {pid for pid in server.worker_pids()}
    assert len(pids) == 2
    assert elapsed < 1.0, elapsed
    assert [status for status, _body in answers] == [409] * len(traders)
    assert all("价格异常波动" in body["message"] for _status, body in answers)


def test_the_console_stream_carries_a_trade_the_moment_it_is_made(empty_database_url):
    _app, (seller, buyer) = exchange_with_traders(
        empty_database_url, traders=2, deposit_fen=10_000_000
    )
    with Server(empty_database_url, "wsgi:app", workers=2, threads=8) as server:
        host, port = server.base.removeprefix("http://").split(":")
        watcher = http.client.HTTPConnection(host, int(port), timeout=10)
        watcher.request(
            "GET", "/surveillance/stream", headers={"Authorization": f"Bearer {OFFICER_TOKEN}"}
        )
        stream = watcher.getresponse()
        assert stream.status == 200 and stream.getheader("Content-Type").startswith(
            "text/event-stream"
        )
        assert stream.readline().startswith(b": surveillance")
        sell = {**BUY, "side": "sell", "receipt_id": seller.receipt_id}
        assert call(server.base, seller.token, "POST", "/api/v1/exchange/orders", sell)[0] == 201
        traded = time.monotonic()
        assert call(server.base, buyer.token, "POST", "/api/v1/exchange/orders", BUY)[0] == 201
        lines = []
        while not any(line.startswith(b"data:") for line in lines):
            lines.append(stream.readline())
        arrived = time.monotonic() - traded
        watcher.close()
    assert b"event: trade\n" in lines
    data = next(line for line in lines if line.startswith(b"data:")).decode()
    assert '"price_fen":80000' in data and "湄潭茶商1号" in data and "湄潭茶商2号" in data
    assert arrived < 2.0, arrived
