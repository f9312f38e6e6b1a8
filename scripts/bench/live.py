"""Live benchmark: 500 viewers on one server's live event stream while orders flow into a flash deal.

    .venv/bin/python scripts/bench/live.py                              # SQLite
    .venv/bin/python scripts/bench/live.py --engines sqlite,postgresql  # and PostgreSQL
    .venv/bin/python scripts/bench/live.py --viewers 1000 --rate 50 --workers 2 --threads 600

For each database it makes a fresh database (a scratch SQLite file, a PostgreSQL schema of its own) with a
cooperative live with a flash deal of 100,000 kg and --rate x --seconds supermarkets with money and API
tokens; starts granian serving the platform (wsgi:app); connects --viewers viewers to the session's event
stream (GET /api/v1/live/sessions/<id>/events, all on one asyncio loop) and waits until each has its first
`state` frame; then --clients threads place orders at a steady --rate for --seconds, each 1 kg from the deal
by a different buyer. Every order changes the deal's stock, and every viewer should get that as a `stock`
frame, stamped `at` when the order's transaction wrote it (just before it commits).

It prints, over every (viewer, stock frame) pair: the latency from `at` to the viewer receiving the frame,
and from the order's response (after its commit) to the viewer receiving it; the frames received against
those expected (orders x viewers); the orders' throughput and response times; the server's memory (RSS of
the granian main process and workers, and PSS, which counts pages the processes share once) before the viewers
come, with them connected and after the orders; and the CPU the server and this client used meanwhile. The
client runs on the same machine as the server, so the latencies include its own time to read the frames.
The floor: p95 from commit to a viewer seeing the new stock at or under 1 second, 500 viewers on one server.
"""

import argparse
import asyncio
import http.client
import json
import math
import os
import resource
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.bench.common import Server, fresh_database

FLOOR_SECONDS = 1.0
ORDER_TIMEOUT = 10.0  # seconds: an order not answered by then counts as failed (status 0)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def main() -> int:
    arguments = _arguments()
    _raise_file_limit()
    passed = True
    for engine in arguments.engines.split(","):
        url = fresh_database(engine, "live")
        ids, tokens = _set_up(url, buyers=math.ceil(arguments.rate * arguments.seconds))
        server = Server(
            url,
            "wsgi:app",
            workers=arguments.workers,
            threads=arguments.threads,
            env=_env(arguments),
        )
        with server:
            run = _measure(server, ids, tokens, arguments)
        run.taken, run.order_of = _books(url, ids["reserve"])
        passed &= _report(engine, arguments, run)
    return 0 if passed else 1


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engines", default="sqlite", help="sqlite, postgresql, or both")
    parser.add_argument("--viewers", type=int, default=500)
    parser.add_argument("--rate", type=float, default=20.0, help="orders per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long orders flow")
    parser.add_argument("--clients", type=int, default=32, help="threads placing orders")
    parser.add_argument("--workers", type=int, default=2, help="web workers (processes)")
    parser.add_argument(
        "--threads", type=int, default=300, help="threads per worker (a stream holds one)"
    )
    parser.add_argument(
        "--poll", type=float, help="LIVE_POLL_SECONDS (the app's default if not given)"
    )
    return parser.parse_args()


def _env(arguments) -> dict:
    env = {}
    if arguments.poll:
        env["LIVE_POLL_SECONDS"] = str(arguments.poll)
    return env


def _raise_file_limit() -> None:
    """A socket per viewer: the soft limit on open files up to the hard one."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- the data ------------------------------------------------------------------------------------------


def _set_up(url: str, *, buyers: int) -> tuple[dict, list[str]]:
    """A cooperative's host live with a deal of 100,000 kg open for 20 minutes; `buyers` supermarkets with
    money and API tokens. The ids (session, deal, reserve, and the reserve's version before any order) and
    the buyers' tokens."""
    from app.auth import OrgKind, Role
    from app.catalog.models import StockReserve
    from app.db import get_session, transaction
    from tests import processes

    app = processes.migrated_app(url)
    with app.app_context():
        with transaction() as session:
            ids = processes.live_deal(session, stock=100_000, per_customer_limit=5)
            tokens = []
            for n in range(1, buyers + 1):
                buyer = processes.organisation(session, n, OrgKind.supermarket, f"直播超市{n}号")
                secret = f"agl_live-bench-{n:05d}-secret"
                user = processes.member_with_token(
                    session, buyer, phone=f"139{n:08d}", secret=secret, role=Role.staff
                )
                processes.fund(session, buyer, 100_000, actor_id=user.id)
                tokens.append(secret)
        ids["version"] = get_session().get(StockReserve, ids["reserve"]).version
    app.extensions["agrilink.db"].dispose()
    return ids, tokens


def _books(url: str, reserve_id: int) -> tuple[int, dict[int, int]]:
    """After the run: how much of the deal's stock is in orders, and which order made each version of
    the deal's stock, from the event log. Each order writes its `order.placed` and its `stock.reserve`
    events in one transaction, and in log order (tx_id, id) a transaction's events come together (on
    PostgreSQL they share the tx_id; on SQLite writers take turns), so the two pair up as they come."""
    from sqlalchemy import select

    from app import create_app
    from app.catalog.models import StockReserve
    from app.db import get_session
    from app.events import Event

    app = create_app(overrides={"DATABASE_URL": url})
    with app.app_context():
        reads = get_session()
        taken = reads.get(StockReserve, reserve_id).taken
        log = reads.execute(
            select(Event.kind, Event.tx_id, Event.subject, Event.payload)
            .where(Event.kind.in_(("stock.reserve", "order.placed")))
            .order_by(Event.tx_id, Event.id)
        ).all()
    app.extensions["agrilink.db"].dispose()
    order_of: dict[int, int] = {}
    pending: dict[str, int] = {}
    for kind, tx_id, subject, payload in log:
        if pending.get("tx_id", tx_id) != tx_id:
            pending = {}
        pending["tx_id"] = tx_id
        if kind == "order.placed":
            pending["order"] = int(subject.removeprefix("order:"))
        elif payload["reserve_id"] == reserve_id:
            pending["version"] = payload["version"]
        if "order" in pending and "version" in pending:
            order_of[pending.pop("version")] = pending.pop("order")
    return taken, order_of


# --- the viewers ---------------------------------------------------------------------------------------


@dataclass
class View:
    """What one viewer received: (when, data of the frame) for each `stock` frame."""

    stock: list[tuple[float, bytes]] = field(default_factory=list)
    ready: bool = False
    other: int = 0  # frames neither `state` nor `stock` (a `sale` for each order)
    error: str = ""


class Crowd:
    """Viewers of a session's event stream, each its own HTTP/1.1 connection, all on one asyncio loop
    running in a thread of its own."""

    def __init__(self, base: str, session_id: int, viewers: int) -> None:
        self.host, port = base.removeprefix("http://").split(":")
        self.port = int(port)
        self.request = (
            f"GET /api/v1/live/sessions/{session_id}/events HTTP/1.1\r\n"
            f"Host: {self.host}:{self.port}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
        self.views = [View() for _ in range(viewers)]
        self.ready = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="viewers", daemon=True)
        self.thread.start()
        self.tasks: list[asyncio.Task] = []

    def connect(self, timeout: float) -> int:
        """Open every stream; wait until each has its `state` frame (or `timeout`): how many have."""
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result()
        deadline = time.monotonic() + timeout
        while self.ready < len(self.views) and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.ready

    def frames(self) -> int:
        return sum(len(view.stock) for view in self.views)

    def settle(self, expected: int, quiet: float = 3.0, timeout: float = 30.0) -> None:
        """Wait until `expected` stock frames are in, or none came for `quiet` seconds."""
        deadline, last, last_at = time.monotonic() + timeout, -1, time.monotonic()
        while time.monotonic() < deadline:
            count = self.frames()
            if count >= expected:
                return
            if count != last:
                last, last_at = count, time.monotonic()
            elif time.monotonic() - last_at >= quiet:
                return
            time.sleep(0.1)

    def close(self) -> None:
        async def stop() -> None:
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    async def _start(self) -> None:
        self.tasks = [asyncio.create_task(self._watch(view)) for view in self.views]

    async def _watch(self, view: View) -> None:
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError as error:
            view.error = f"connect: {error}"
            return
        try:
            writer.write(self.request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                view.error = head.split(b"\r\n", 1)[0].decode()
                return
            await self._read(reader, view, b"transfer-encoding: chunked" in head.lower())
            view.error = "the server ended the stream"
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            view.error = f"{type(error).__name__}: {error}"
        finally:
            writer.close()

    async def _read(self, reader: asyncio.StreamReader, view: View, chunked: bool) -> None:
        pending = b""
        while data := await (_chunk(reader) if chunked else reader.read(65536)):
            received = time.time()
            *frames, pending = (pending + data).split(b"\n\n")
            for frame in frames:
                self._take(view, frame, received)

    def _take(self, view: View, frame: bytes, received: float) -> None:
        """Keep a stock frame's data to read later; count the rest (comments are heartbeats)."""
        if b"\nevent: stock\n" in frame:
            view.stock.append((received, frame[frame.index(b"\ndata: ") + 7 :]))
        elif b"event: state\n" in frame:
            view.ready = True
            self.ready += 1
        elif not frame.startswith(b":"):
            view.other += 1


async def _chunk(reader: asyncio.StreamReader) -> bytes:
    """The next chunk of a chunked response body; b"" at its end."""
    size = (await reader.readline()).split(b";")[0].strip()
    if not size or int(size, 16) == 0:
        return b""
    return (await reader.readexactly(int(size, 16) + 2))[:-2]


# --- the orders ----------------------------------------------------------------------------------------


@dataclass
class Order:
    sent: float  # wall clock, like the frames' `at`
    returned: float
    seconds: float
    status: int
    order_id: int | None


def _place_orders(base: str, ids: dict, tokens: list[str], *, rate: float, clients: int):
    """One order of 1 kg per token, the n-th sent n/rate seconds after the start, by `clients` threads."""
    host, port = base.removeprefix("http://").split(":")
    start = time.monotonic() + 0.2
    orders: list[Order | None] = [None] * len(tokens)
    claim, taken = threading.Lock(), iter(range(len(tokens)))

    def client() -> None:
        while True:
            with claim:
                index = next(taken, None)
            if index is None:
                return
            time.sleep(max(0.0, start + index / rate - time.monotonic()))
            orders[index] = _order(host, int(port), tokens[index], ids, f"live-bench-{index}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return orders


def _order(host: str, port: int, token: str, ids: dict, key: str) -> Order:
    connection = http.client.HTTPConnection(host, port, timeout=ORDER_TIMEOUT)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Idempotency-Key": key,
    }
    body = json.dumps({"deal_id": ids["deal"], "quantity": 1})
    sent, began = time.time(), time.perf_counter()
    try:
        connection.request("POST", f"/api/v1/live/sessions/{ids['session']}/orders", body, headers)
        response = connection.getresponse()
        answer = response.read()
        status = response.status
    except OSError:
        answer, status = b"", 0
    finally:
        connection.close()
    seconds, returned = time.perf_counter() - began, time.time()
    order_id = json.loads(answer)["orders"][0]["id"] if status == 201 else None
    return Order(sent, returned, seconds, status, order_id)


# --- the server ----------------------------------------------------------------------------------------


def _processes(server: Server) -> list[int]:
    return [server.process.pid, *server.worker_pids()]


def _status(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    return 0


def _pss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def _memory(server: Server) -> str:
    """RSS of the master and workers (MB, summed and each), their PSS, and each worker's threads and
    sockets (a worker with more client sockets than threads leaves the rest waiting)."""
    pids = _processes(server)
    rss = [_status(pid, "VmRSS") / 1024 for pid in pids]
    pss = sum(_pss(pid) for pid in pids) / 1024
    threads = "+".join(str(_status(pid, "Threads")) for pid in pids[1:])
    sockets = "+".join(str(_sockets(pid)) for pid in pids[1:])
    each = " + ".join(f"{mb:.0f}" for mb in rss)
    return (
        f"RSS {sum(rss):4.0f} MB ({each}), PSS {pss:4.0f} MB; "
        f"per worker: threads {threads}, sockets {sockets}"
    )


def _sockets(pid: int) -> int:
    """Sockets the process has open: its clients' connections, and a few of its own."""
    count = 0
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(descriptor).startswith("socket:")
        except OSError:  # closed while we looked
            continue
    return count


def _cpu_seconds(server: Server) -> float:
    """CPU time the master and workers have used (user and system)."""
    total = 0
    for pid in _processes(server):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def _machine_cpu_seconds() -> float:
    """CPU time the whole machine has been busy (all but idle and waiting for the disk)."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLOCK_TICKS


# --- the run -------------------------------------------------------------------------------------------


@dataclass
class Run:
    memory: dict[str, str]
    ready: int
    views: list[View]
    orders: list[Order]
    version: int  # the reserve's version before the orders
    server_cores: float
    client_cores: float
    machine_cores: float  # every process's, the database's and anything else running included
    taken: int = 0
    order_of: dict[int, int] = field(
        default_factory=dict
    )  # order id by stock version, from the log


def _measure(server: Server, ids: dict, tokens: list[str], arguments) -> Run:
    memory = {"before viewers": _memory(server)}
    crowd = Crowd(server.base, ids["session"], arguments.viewers)
    ready = crowd.connect(timeout=60)
    time.sleep(1)  # let the streams settle into waiting
    memory[f"{ready} viewers connected"] = _memory(server)
    began, server_cpu, client_cpu = time.monotonic(), _cpu_seconds(server), time.process_time()
    machine_cpu = _machine_cpu_seconds()
    orders = _place_orders(server.base, ids, tokens, rate=arguments.rate, clients=arguments.clients)
    placed = sum(order.status == 201 for order in orders)
    crowd.settle(placed * arguments.viewers)
    wall = time.monotonic() - began
    server_cores = (_cpu_seconds(server) - server_cpu) / wall
    client_cores = (time.process_time() - client_cpu) / wall
    machine_cores = (_machine_cpu_seconds() - machine_cpu) / wall
    memory["after the orders"] = _memory(server)
    crowd.close()
    cores = (server_cores, client_cores, machine_cores)
    return Run(memory, ready, crowd.views, orders, ids["version"], *cores)


def _latencies(run: Run) -> tuple[list[float], list[float], list[float], set[int]]:
    """Seconds from `at` and from the order's response to each viewer receiving each new stock frame;
    per order, from `at` to the last viewer having it; the versions seen."""
    returned = _returned_by_version(run)
    read: dict[bytes, tuple[int, float]] = {}
    from_at, from_response, last_seen, versions = [], [], {}, set()
    for view in run.views:
        for received, data in view.stock:
            if data not in read:
                payload = json.loads(data)
                read[data] = (payload["version"], datetime.fromisoformat(payload["at"]).timestamp())
            version, at = read[data]
            if version <= run.version:
                continue
            versions.add(version)
            from_at.append(received - at)
            if version in returned:
                from_response.append(received - returned[version])
            last_seen[version] = max(last_seen.get(version, 0.0), received - at)
    return from_at, from_response, list(last_seen.values()), versions


def _returned_by_version(run: Run) -> dict[int, float]:
    """When each placed order's response came back, by the stock version its commit made."""
    by_id = {order.order_id: order for order in run.orders if order.order_id}
    return {
        version: by_id[order_id].returned
        for version, order_id in run.order_of.items()
        if order_id in by_id
    }


def _percentiles(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)] * 1000

    return (
        f"p50 {at(0.50):7.1f}  p95 {at(0.95):7.1f}  p99 {at(0.99):7.1f}  max {ordered[-1] * 1000:7.1f} ms"
        f"  ({len(values):,})"
    )


def _report(engine: str, arguments, run: Run) -> bool:
    from_at, from_response, last_seen, versions = _latencies(run)
    placed = [order for order in run.orders if order.status == 201]
    failed = Counter(order.status for order in run.orders if order.status != 201)
    expected = len(placed) * arguments.viewers
    p95 = sorted(from_at)[math.ceil(0.95 * len(from_at)) - 1] if from_at else math.inf
    print(
        f"\n{engine}: {arguments.viewers} viewers, {arguments.workers} workers x {arguments.threads} "
        f"threads, orders at {arguments.rate:g}/s for {arguments.seconds:g} s"
        + (f", LIVE_POLL_SECONDS {arguments.poll:g}" if arguments.poll else "")
    )
    _report_viewers(run, arguments.viewers)
    print(f"  stock frames:   {len(from_at):,} of {expected:,} expected (orders x viewers)")
    print(f"  commit (at) -> viewer:      {_percentiles(from_at)}")
    print(f"  response -> viewer:         {_percentiles(from_response)}")
    print(f"  commit -> the last viewer:  {_percentiles(last_seen)}  (per order)")
    _report_orders(run, placed, failed, versions)
    print(
        f"  CPU meanwhile: server {run.server_cores:.2f} cores, this client {run.client_cores:.2f}, "
        f"the machine {run.machine_cores:.2f} of {os.cpu_count()} (the rest: the database, "
        "and anything else running)"
    )
    for moment, figures in run.memory.items():
        print(f"  memory, {moment + ':':24} {figures}")
    passed = p95 <= FLOOR_SECONDS and len(from_at) == expected > 0
    print(
        f"  {'PASS' if passed else 'FAIL'}: p95 commit -> viewer {p95 * 1000:.0f} ms "
        f"(floor {FLOOR_SECONDS * 1000:.0f} ms), {len(from_at):,}/{expected:,} frames"
    )
    return passed


def _report_viewers(run: Run, viewers: int) -> None:
    errors: dict[str, int] = {}
    for view in run.views:
        if view.error:
            errors[view.error] = errors.get(view.error, 0) + 1
    sales = sum(view.other for view in run.views)
    print(
        f"  viewers:        {run.ready} of {viewers} got their first state; {sales:,} other frames"
    )
    for error, count in sorted(errors.items(), key=lambda item: -item[1]):
        print(f"    {count} viewers: {error}")


def _report_orders(run: Run, placed: list[Order], failed: Counter, versions: set[int]) -> None:
    if failed:  # status 0: no answer within ORDER_TIMEOUT, or the connection failed
        print(f"  orders failed:  {', '.join(f'{n} with status {s}' for s, n in failed.items())}")
    if not placed:
        print("  orders:         none placed")
        return
    span = max(order.returned for order in placed) - min(order.sent for order in placed)
    paired = _at_by_order(run, placed)
    outside = sum(not order.sent <= at <= order.returned for order, at in paired)
    print(
        f"  orders:         {len(placed):,} placed ({len(placed) / span:.1f}/s); "
        f"stock taken {run.taken:,}; {len(versions):,} stock changes seen by any viewer"
    )
    print(f"  order response: {_percentiles([order.seconds for order in placed])}")
    if outside or len(paired) < len(placed):
        print(
            f"  WARNING: {len(placed) - len(paired)} orders without their stock frame, {outside} "
            "whose stock frame is stamped outside their request"
        )


def _at_by_order(run: Run, placed: list[Order]) -> list[tuple[Order, float]]:
    """Each order's stock frame's `at`, from the first viewer that has it (to check the pairing)."""
    stamps: dict[int, float] = {}
    for view in run.views:
        for _received, data in view.stock:
            payload = json.loads(data)
            stamps.setdefault(payload["version"], datetime.fromisoformat(payload["at"]).timestamp())
        if len(stamps) >= len(placed):
            break
    by_id = {order.order_id: order for order in placed}
    return [
        (by_id[order_id], stamps[version])
        for version, order_id in run.order_of.items()
        if order_id in by_id and version in stamps
    ]


if __name__ == "__main__":
    sys.exit(main())
