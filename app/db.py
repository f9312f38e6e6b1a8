"""The database: typed declarative base, one read session per request, and transaction() for writes.

Entry points own the transaction: `with transaction() as session: services.do_something(session, ...)`.
Services never commit. Reads for pages use `get_session()`, which never writes.
"""

import enum
import fcntl
import functools
import math
import os
import threading
import time
from collections import Counter, namedtuple
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import psycopg
from flask import Flask, current_app, g
from sqlalchemy import (
    BigInteger,
    DateTime,
    Engine,
    Enum,
    Executable,
    Integer,
    MetaData,
    Select,
    Table,
    TextClause,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL; on SQLite only an INTEGER PRIMARY KEY is the auto-numbered rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")


# Every user of the platform is in China's one time zone: a "day" (a harvest date, a delivery day) is a day
# there, whatever the server's clock says.
LOCAL_TIME = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_date(moment: datetime) -> date:
    """The calendar day in Meitan at this moment."""
    return moment.astimezone(LOCAL_TIME).date()


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every engine (SQLite forgets the zone; we put it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware datetime in UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Enums are stored by value as short strings: readable in SQL, and a new member needs no ALTER TYPE.
    type_annotation_map: ClassVar[dict] = {
        datetime: UTCDateTime,
        enum.Enum: Enum(
            enum.Enum, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e]
        ),
    }


class ReadOnlySessionError(RuntimeError):
    """A page's read session was asked to write: writes belong in `with transaction()`."""


class WriterQueue:
    """One SQLite writer at a time across threads and processes: a thread lock, then an exclusive lock
    on a file (the kernel wakes the next waiter when it is released, with no polling). Re-entrant within a
    thread, as a transaction may be opened inside another."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread_lock = threading.RLock()
        self._depth = threading.local()
        self._file = None
        self._pid = None

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        depth = getattr(self._depth, "value", 0)
        if depth == 0:
            fcntl.flock(self._descriptor(), fcntl.LOCK_EX)
        self._depth.value = depth + 1

    def __exit__(self, *_exc) -> None:
        self._depth.value -= 1
        if self._depth.value == 0:
            fcntl.flock(self._file, fcntl.LOCK_UN)
        self._thread_lock.release()

    def _descriptor(self):
        # Opened anew in each process: a descriptor inherited across fork shares its lock with the parent.
        if self._pid != os.getpid():
            self._file = open(self.path, "a")  # noqa: SIM115 - kept open for the life of the process
            self._pid = os.getpid()
        return self._file


class Database:
    """The engine and the two kinds of session: autocommitting reads and explicit write transactions."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.engine = _create_engine(url, pool_size=pool_size, echo=echo)
        # SQLite lets one writer in at a time, and a writer kept waiting polls with growing sleeps (up to
        # 100 ms each), so under load some writes wait seconds. Writers therefore queue here instead,
        # threads of every process on a lock file beside the database, and each is let in the moment the
        # previous write ends. PostgreSQL needs no such queue: its locks are per row.
        database_file = self.engine.url.database
        self.write_queue = (
            WriterQueue(Path(f"{database_file}.write-lock"))
            if self.engine.dialect.name == "sqlite" and database_file not in (None, "", ":memory:")
            else nullcontext()
        )
        self.unbind()

    def unbind(self) -> None:
        """Sessions on the engine's own connections (undoes bind_to)."""
        if self.engine.dialect.name == "sqlite":
            # Writers take SQLite's write lock at BEGIN, so two writers queue instead of deadlocking.
            reads = self.engine.execution_options(sqlite_begin=None)
            writes = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        else:
            reads = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            writes = self.engine
        self._reads = sessionmaker(reads, info={"read_only": True}, expire_on_commit=False)
        self._writes = sessionmaker(writes, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def bind_to(self, connection: Connection) -> None:
        """Run every session inside `connection`'s transaction (tests roll it back afterwards)."""
        self._reads = sessionmaker(
            bind=connection,
            join_transaction_mode="rollback_only",
            info={"read_only": True},
            expire_on_commit=False,
        )
        self._writes = sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )

    def read_session(self) -> Session:
        return self._reads()

    def write_session(self) -> Session:
        return self._writes()

    def dispose(self) -> None:
        self.engine.dispose()


def _create_engine(url: str, *, pool_size: int, echo: bool) -> Engine:
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, echo=echo, connect_args={"timeout": 30})
        _use_sqlite_transactions_we_control(engine)
        engine.dialect.statement_compiler = _SQLiteCompilerWithHints
        return engine
    engine = create_engine(parsed, echo=echo, pool_size=pool_size, max_overflow=pool_size)
    _ping_connections_left_idle(engine)
    return engine


# A pooled connection that sat unused this long is tested before use; one back in use sooner is not.
IDLE_BEFORE_PING_SECONDS = 1.0


def _ping_connections_left_idle(engine: Engine) -> None:
    """Test a pooled connection before use when it has sat idle (the server may have closed it, or
    restarted): a dead one is replaced before the request sees it. Under load connections are never idle
    that long, and each request saves the round trip that testing every checkout would cost."""

    @event.listens_for(engine, "checkin")
    def _note_idle(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _test_if_idle(dbapi_connection, record, _proxy) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_BEFORE_PING_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error:
            alive = False
        if not alive:
            raise DisconnectionError("the connection was closed while it sat in the pool")


class _SQLiteCompilerWithHints(SQLiteCompiler):
    """Renders `select(...).with_hint(Table, "INDEXED BY ix_...", "sqlite")`, which SQLAlchemy's SQLite
    compiler leaves out: without statistics SQLite can pick the wrong index, and the market search knows
    which one should lead (app/catalog/market.py)."""

    def get_from_hint_text(self, table, text):
        return text


def _use_sqlite_transactions_we_control(engine: Engine) -> None:
    """Emit BEGIN ourselves (pysqlite's own handling breaks SAVEPOINT and cannot BEGIN IMMEDIATE)."""

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets readers and the writer work at once; a larger cache and memory-mapped reads keep
        # searches over many listings in memory.
        pragmas = (
            "journal_mode=WAL",
            "foreign_keys=ON",
            "synchronous=NORMAL",
            "cache_size=-65536",
            "mmap_size=268435456",
        )
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        if (
            mode is not None
        ):  # None: reads run statement by statement, always seeing the latest commit
            connection.exec_driver_sql(f"BEGIN {mode}")


@event.listens_for(Session, "before_flush")
def _refuse_writes_on_read_sessions(session: Session, _context, _instances) -> None:
    if session.info.get("read_only") and (session.new or session.dirty or session.deleted):
        raise ReadOnlySessionError("writes go through `with transaction() as session:`")


def init_app(app: Flask) -> Database:
    database = Database(
        app.config["DATABASE_URL"],
        pool_size=app.config["DATABASE_POOL_SIZE"],
        echo=app.config["SQL_ECHO"],
    )
    app.extensions["agrilink.db"] = database
    app.teardown_appcontext(_close_read_session)
    return database


def current_database() -> Database:
    return current_app.extensions["agrilink.db"]


def get_session() -> Session:
    """The read session of this request (or CLI command), closed when its context ends."""
    if "db_session" not in g:
        g.db_session = current_database().read_session()
    return g.db_session


def _close_read_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


@contextmanager
def transaction() -> Iterator[Session]:
    """One unit of work: commit if the block finishes, roll back everything if it raises."""
    database = current_database()
    with reads_released(), database.write_queue:
        session = database.write_session()
        try:
            with session.begin():
                yield session
        finally:
            session.close()


@contextmanager
def reads_released() -> Iterator[None]:
    """For a block that waits on a write: the request's read connection goes back to the pool first (a
    thread holding one while it waits for a writer's would, with enough threads, leave the pool empty and
    every thread waiting on another), and what the request read before is stale after it."""
    if "db_session" in g:
        g.db_session.commit()
    yield
    if "db_session" in g:
        g.db_session.expire_all()


@contextmanager
def pipelined(session: Session) -> Iterator[None]:
    """Statements in the block are sent without waiting for each one's answer (psycopg's pipeline mode on
    PostgreSQL), so a run of writes costs one round trip. Only statements that answer nothing belong in
    it: UPDATE, DELETE, and INSERT made `.inline()` (else SQLAlchemy asks a one-row INSERT for its new
    key). A failure surfaces as SQLAlchemy's own error (IntegrityError, OperationalError, ...) at the next
    statement or at the end of the block, and the transaction is lost as usual. A block inside another adds
    its statements to the enclosing pipeline. SQLite, which has no round trips, runs the block as it is."""
    connection = session.connection()
    if connection.dialect.name != "postgresql" or _in_pipeline(connection):
        yield  # no round trips to save, or the enclosing block's pipeline sends these too
        return
    try:
        with connection.connection.driver_connection.pipeline():
            yield
    except psycopg.Error as error:  # raised by the pipeline's last sync, outside SQLAlchemy
        raise DBAPIError.instance(None, None, error, psycopg.Error) from error


def _in_pipeline(connection: Connection) -> bool:
    return connection.connection.driver_connection.pgconn.pipeline_status != 0


@dataclass(frozen=True)
class Page:
    """One page of a list, with what a pager needs (total is None when it was not counted)."""

    items: Sequence[Any]
    number: int
    size: int
    total: int | None
    more: bool = False

    @property
    def pages(self) -> int:
        return max(1, math.ceil((self.total or 0) / self.size))

    @property
    def has_next(self) -> bool:
        return self.more if self.total is None else self.number < self.pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def paginate(
    session: Session, query: Select, *, page: int = 1, size: int = 20, count: bool = True
) -> Page:
    """A page of `query`; with count=False one extra row is read instead of counting them all."""
    page, size = max(1, page), max(1, min(size, 100))
    if not count:
        rows = session.scalars(query.limit(size + 1).offset((page - 1) * size)).unique().all()
        return Page(items=rows[:size], number=page, size=size, total=None, more=len(rows) > size)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    items = session.scalars(query.limit(size).offset((page - 1) * size)).unique().all()
    return Page(items=items, number=page, size=size, total=total)


def new_ids(
    session: Session, counts: Mapping[Table, int], *, ahead: Mapping[Table, int] | None = None
) -> dict[Table, list[int]]:
    """Ids for rows about to be inserted (`counts`: how many per table), so that many rows go in by one
    executemany rather than one INSERT ... RETURNING whose many-row text costs more to build than to run.
    PostgreSQL draws them from the tables' sequences, every table in one statement; on SQLite a writing
    transaction is the only writer, so they follow each table's largest id, or the last one the
    transaction was given if that is larger (its rows may not be in yet).

    `ahead`: ids a later step of this transaction will ask for, drawn now in the same statement (on
    PostgreSQL) and handed to that step's own call."""
    return read_with_ids(session, [], counts, ahead=ahead)[1]


def read_with_ids(
    session: Session,
    reads: Sequence[tuple[Executable, Mapping[str, Any]]],
    counts: Mapping[Table, int],
    *,
    ahead: Mapping[Table, int] | None = None,
) -> tuple[list[list[Any]], dict[Table, list[int]]]:
    """read_together(reads), and new_ids(counts, ahead=ahead) drawn after them in the same round trip."""
    drawn = _taken_from_ahead(session, counts)
    missing = {table: count - len(drawn[table]) for table, count in counts.items()}
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        rows = read_together(session, reads)
        handed = session.info.setdefault(_IDS_HANDED, {})  # and not inserted yet, maybe
        for table, count in missing.items():
            if count:
                largest = connection.scalar(select(func.max(table.c.id))) or 0
                largest = max(largest, handed.get(table, 0))
                drawn[table] += range(largest + 1, largest + 1 + count)
                handed[table] = largest + count
        return rows, drawn
    wanted = Counter(missing) + Counter(ahead or {})  # keeps the positive counts only
    if not wanted:
        return read_together(session, reads), drawn
    tables = list(wanted)
    *rows, [row] = read_together(
        session,
        [
            *reads,
            (
                _next_ids(len(tables)),
                {
                    **{f"table{n}": table.name for n, table in enumerate(tables)},
                    **{f"count{n}": wanted[table] for n, table in enumerate(tables)},
                },
            ),
        ],
    )
    kept = session.info.setdefault(_IDS_AHEAD, {})
    for table, ids in zip(tables, row, strict=True):
        now = missing.get(table, 0)
        if now:
            drawn[table].extend(ids[:now])
        if ids[now:]:
            kept[table] = kept.get(table, []) + list(ids[now:])
    return rows, drawn


def _taken_from_ahead(session: Session, counts: Mapping[Table, int]) -> dict[Table, list[int]]:
    """As many of `counts` as an earlier call of this transaction drew ahead (the rest are left kept)."""
    kept = session.info.setdefault(_IDS_AHEAD, {})
    taken: dict[Table, list[int]] = {}
    for table, count in counts.items():
        pool = kept.pop(table, [])
        taken[table] = pool[:count]
        if pool[count:]:
            kept[table] = pool[count:]
    return taken


def read_together(
    session: Session, reads: Sequence[tuple[Executable, Mapping[str, Any]]]
) -> list[list[Any]]:
    """The rows of each (statement, parameters) in `reads`, sent together: on PostgreSQL in one round trip
    (psycopg's pipeline mode), for a writer that reads several things while it holds locks. Each statement
    runs after the one before it, so it holds the locks those took and sees what was committed before it
    began. The statements are Core selects of columns (or text()); their rows are named tuples of the
    values SQLAlchemy would give (enums as enums, times in UTC). On SQLite, which has no round trips, the
    statements run one after another."""
    connection = session.connection()
    if connection.dialect.name != "postgresql" or not reads:
        return [connection.execute(statement, parameters).all() for statement, parameters in reads]
    driver = connection.connection.driver_connection
    sent = []
    try:
        with driver.pipeline() as pipeline:
            for statement, parameters in reads:
                read = _DriverRead.of(statement, connection.dialect)
                sent.append((read, driver.cursor()))
                sent[-1][1].execute(*read.bound(parameters))
            pipeline.sync()
            return [read.rows(cursor) for read, cursor in sent]
    except psycopg.Error as error:
        # A deadlock, a lock timeout: SQLAlchemy's error, as for every other statement.
        raise DBAPIError.instance(None, None, error, psycopg.Error) from error
    finally:
        for _read, cursor in sent:
            cursor.close()


class _DriverRead:
    """A statement compiled once for psycopg, with what turns its parameters and its rows' values into
    what SQLAlchemy's own execution would send and give (its types' bind and result processors)."""

    def __init__(self, statement: Executable, dialect) -> None:
        self.dialect = dialect
        self.compiled = statement.compile(dialect=dialect)
        self.binds = {
            name: processor
            for name, bind in self.compiled.binds.items()
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect))
        }
        columns = getattr(statement, "selected_columns", None)  # None for text(): rows as they come
        self.columns = None if columns is None else list(columns)
        self.row = (
            None if columns is None else namedtuple("Row", [c.key for c in columns], rename=True)
        )
        self.convert = None  # per column, its result processor: known from the first answer's types

    @staticmethod
    @functools.lru_cache(
        maxsize=1024
    )  # statements are module constants or built by cached functions
    def of(statement: Executable, dialect) -> "_DriverRead":
        return _DriverRead(statement, dialect)

    def bound(self, parameters: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        state = self.compiled.construct_expanded_state(parameters, escape_names=False)
        processors = {**self.binds, **state.processors}
        escaped = self.compiled.escaped_bind_names
        return state.statement, {
            escaped.get(name, name): processors[name](value) if name in processors else value
            for name, value in state.parameters.items()
        }

    def rows(self, cursor) -> list[Any]:
        found = cursor.fetchall()
        if self.row is None:
            return found
        if self.convert is None:
            self.convert = tuple(
                column.type.dialect_impl(self.dialect).result_processor(
                    self.dialect, described.type_code
                )
                for column, described in zip(self.columns, cursor.description, strict=True)
            )
        convert = self.convert
        if not any(convert):
            return [self.row(*values) for values in found]
        return [
            self.row(*(f(value) if f else value for f, value in zip(convert, values, strict=True)))
            for values in found
        ]


_IDS_AHEAD = "agrilink.ids_ahead"
_IDS_HANDED = "agrilink.ids_handed"


@functools.cache
def _next_ids(tables: int) -> TextClause:
    """`SELECT ARRAY(...), ...`: one array of new ids per table (only bound names are put in the text)."""
    arrays = ", ".join(
        f"ARRAY(SELECT nextval(pg_get_serial_sequence(:table{n}, 'id')) FROM generate_series(1, :count{n}))"  # noqa: S608 - placeholders, never values
        for n in range(tables)
    )
    return text(f"SELECT {arrays}")
