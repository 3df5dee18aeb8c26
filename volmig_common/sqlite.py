"""A SQLite file both services can share between many writer threads.

WAL lets readers run beside a writer; ``BEGIN IMMEDIATE`` takes the write
lock up front, so a read-then-write transaction never fails on the lock
upgrade (SQLITE_BUSY_SNAPSHOT, which busy_timeout does not wait out), and
``busy_timeout`` makes the losers wait instead of fail. What is left
("database is locked" under a long writer) is retried by :func:`retry`.

``synchronous = NORMAL``, SQLite's recommended level in WAL mode: a
commit appends to the WAL without an fsync (the WAL is synced at each
checkpoint). A commit is still atomic and survives the process being
killed at any point (SIGKILL, what the crash-recovery invariants are
tested against); only an OS crash or power loss may roll back the last
commits, never corrupt the file. With ``FULL`` (SQLite's default) every
commit held the write lock across an fsync: 3.5 ms on this project's
disk when idle, far more while migration copies write back, and every
other writer (and every read, each taking the lock with ``BEGIN
IMMEDIATE``) queued behind it (``volmig-bench --scenario scale``,
``doc/source/benchmark.rst``).
"""

from __future__ import annotations

from typing import Callable, TypeVar

from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
import sqlalchemy as sa

BUSY_TIMEOUT_MS = 30000
#: ``PRAGMA synchronous`` in WAL mode (see the module docstring)
SYNCHRONOUS = 'NORMAL'
#: open connections kept per engine (:func:`keep_connections`), more
#: opened (and closed again) when as many threads hold one at once
POOL_SIZE = 16
POOL_OVERFLOW = 64
POOL_TIMEOUT = 60

F = TypeVar('F', bound=Callable)


def is_sqlite(connection: str) -> bool:
    return connection.startswith('sqlite:')


def facade_args(connection: str) -> dict:
    """enginefacade ``configure`` arguments: readers apart on SQLite.

    Every engine: no ``thread_checkin``, oslo.db's ``time.sleep(0)`` at
    each connection checkin, a yield for eventlet's green threads; under
    the threading backend (DESIGN 2) it only gave the GIL away at the end
    of every transaction, to wait for it again behind the busy threads.

    Readers get an engine of their own on the same file
    (``slave_connection``) and use it (``synchronous_reader`` False: a
    SQLite file has no replication lag, a reader sees every commit made
    before it began). In WAL mode a read transaction reads a snapshot and
    takes no lock, so reads no longer queue for the write lock behind
    every writer (:func:`install_events` gives them a deferred BEGIN).
    """
    if not is_sqlite(connection):
        return {'thread_checkin': False}
    return {'thread_checkin': False, 'slave_connection': connection,
            'synchronous_reader': False}


def install_facade_events(manager) -> None:
    """Pooled connections and :func:`install_events`: a facade's engines."""
    writer = manager.writer.get_engine()
    if writer.dialect.name != 'sqlite':
        return
    keep_connections(writer)
    install_events(writer)
    reader = manager.reader.get_engine()
    if reader is not writer:
        keep_connections(reader)
        install_events(reader, immediate=False)


def keep_connections(engine: sa.engine.Engine, size: int = POOL_SIZE,
                     overflow: int = POOL_OVERFLOW) -> None:
    """Give a SQLite file engine a pool of open connections.

    oslo.db puts a SQLite file behind NullPool: every transaction opened
    a connection (its pragmas, the WAL's shared memory) and closed it,
    and the last one to close checkpointed and deleted the WAL, which
    the next one created again. Under 32 migrations at once that was a
    quarter of the compute host's time in complete. The same pool SQLite
    files get from SQLAlchemy 2 by default (QueuePool; pysqlite shares a
    file connection between threads), with the listeners already on the
    engine (``recreate``'s way), and no ping at checkout (a connection to
    a local file does not go away).
    """
    old = engine.pool
    if not isinstance(old, sa.pool.NullPool):
        return
    engine.pool = sa.pool.QueuePool(
        old._creator, pool_size=size, max_overflow=overflow,
        timeout=POOL_TIMEOUT, recycle=old._recycle, echo=old.echo,
        logging_name=old._orig_logging_name,
        reset_on_return=old._reset_on_return, pre_ping=False,
        _dispatch=old.dispatch, dialect=old._dialect)
    old.dispose()


def dispose_facade(manager) -> None:
    """Close the pooled connections of a facade's engines."""
    writer = manager.writer.get_engine()
    reader = manager.reader.get_engine()
    writer.dispose()
    if reader is not writer:
        reader.dispose()


def install_events(engine: sa.engine.Engine,
                   busy_timeout_ms: int = BUSY_TIMEOUT_MS,
                   immediate: bool = True) -> None:
    """Pragmas on each connection and an immediate BEGIN on ``engine``.

    ``immediate`` False (a readers' engine) keeps oslo.db's deferred
    BEGIN: a WAL snapshot, no lock.
    """

    @sa.event.listens_for(engine, 'connect')
    def _pragmas(dbapi_con, con_record):
        dbapi_con.execute('PRAGMA busy_timeout = %d' % busy_timeout_ms)
        dbapi_con.execute('PRAGMA journal_mode = WAL')
        # Only once in WAL mode: in a rollback journal NORMAL could
        # corrupt the file on power loss.
        dbapi_con.execute('PRAGMA synchronous = %s' % SYNCHRONOUS)

    @sa.event.listens_for(engine, 'checkout')
    def _no_stale_marker(dbapi_con, con_record, con_proxy):
        # A pooled connection comes back rolled back: whatever ended its
        # last transaction, the next one must emit its BEGIN.
        con_record.info.pop('in_transaction', None)

    if not immediate:
        return

    # oslo.db emits a plain (deferred) BEGIN, and runs before a listener
    # added later even with insert=True: remove it so ours starts the
    # transaction (oslo.db's commit/rollback listener still clears the
    # marker).
    for listener in list(engine.dispatch.begin):
        if getattr(listener, '__name__', '') == '_sqlite_emit_begin':
            sa.event.remove(engine, 'begin', listener)

    @sa.event.listens_for(engine, 'begin')
    def _begin_immediate(conn):
        if 'in_transaction' not in conn.info:
            conn.exec_driver_sql('BEGIN IMMEDIATE')
            conn.info['in_transaction'] = True


def is_locked(exc: BaseException) -> bool:
    """SQLite's "database is locked", translated by oslo.db or not.

    oslo.db's error filters are not installed on every SQLAlchemy version,
    so the raw sqlalchemy OperationalError is matched too.
    """
    return (isinstance(exc, (db_exc.DBError, sa.exc.OperationalError))
            and 'database is locked' in str(exc))


def retry(f: F) -> F:
    """Retry deadlocks and SQLite "database is locked" a few times."""
    return oslo_db_api.wrap_db_retry(
        max_retries=5, retry_on_deadlock=True, retry_interval=0.1,
        exception_checker=is_locked)(f)
