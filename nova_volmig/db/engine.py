"""The Nova side's database engine (oslo.db's enginefacade).

One transaction context manager per process, (re)configured by
:func:`configure`; a SQLite file is made safe for many writer threads.
Deadlocks and SQLite's "database is locked" are retried.
"""

from __future__ import annotations

import os

from oslo_config import cfg
from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import enginefacade
import sqlalchemy as sa

from nova_volmig import exception

CONF = cfg.CONF

_MAIN_CONTEXT_MANAGER: enginefacade._TransactionContextManager | None = None

SQLITE_BUSY_TIMEOUT_MS = 30000


def default_connection() -> str:
    return 'sqlite:///%s' % os.path.join(CONF.state_path, 'nova-volmig.sqlite')


def _install_sqlite_events(engine: sa.engine.Engine) -> None:
    """Make a SQLite file safe for many writer threads.

    WAL lets readers run beside a writer; ``BEGIN IMMEDIATE`` takes the write
    lock up front so two read-then-write transactions never deadlock on the
    lock upgrade, and ``busy_timeout`` makes the losers wait instead of fail.
    """

    @sa.event.listens_for(engine, 'connect')
    def _pragmas(dbapi_con, con_record):
        dbapi_con.execute('PRAGMA busy_timeout = %d' % SQLITE_BUSY_TIMEOUT_MS)
        dbapi_con.execute('PRAGMA journal_mode = WAL')

    # oslo.db emits a plain (deferred) BEGIN; replace its listener so that
    # ours is the one that starts the transaction.
    for listener in list(engine.dispatch.begin):
        if getattr(listener, '__name__', '') == '_sqlite_emit_begin':
            sa.event.remove(engine, 'begin', listener)

    @sa.event.listens_for(engine, 'begin')
    def _begin_immediate(conn):
        if 'in_transaction' not in conn.info:
            conn.exec_driver_sql('BEGIN IMMEDIATE')
            conn.info['in_transaction'] = True


def configure(connection: str | None = None) -> None:
    """(Re)configure the engine; call once per process (or per test)."""
    global _MAIN_CONTEXT_MANAGER
    connection = connection or CONF.database.connection or default_connection()
    if connection.startswith('sqlite:///'):
        path = connection[len('sqlite:///'):]
        if path in ('', ':memory:'):
            raise exception.InvalidInput(
                reason='in-memory SQLite cannot serve several threads; '
                       'use a SQLite file')
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if _MAIN_CONTEXT_MANAGER is not None:
        dispose()
    manager = enginefacade.transaction_context()
    manager.configure(connection=connection, sqlite_fk=True,
                      max_retries=-1, retry_interval=1)
    engine = manager.writer.get_engine()
    if engine.dialect.name == 'sqlite':
        _install_sqlite_events(engine)
    _MAIN_CONTEXT_MANAGER = manager


def dispose() -> None:
    global _MAIN_CONTEXT_MANAGER
    if _MAIN_CONTEXT_MANAGER is not None:
        try:
            _MAIN_CONTEXT_MANAGER.writer.get_engine().dispose()
        finally:
            _MAIN_CONTEXT_MANAGER = None


def get_context_manager() -> enginefacade._TransactionContextManager:
    if _MAIN_CONTEXT_MANAGER is None:
        configure()
    return _MAIN_CONTEXT_MANAGER


def get_engine() -> sa.engine.Engine:
    return get_context_manager().writer.get_engine()


def writer(context):
    return get_context_manager().writer.using(context)


def reader(context):
    return get_context_manager().reader.using(context)


def _is_locked(exc: BaseException) -> bool:
    """SQLite's "database is locked", translated by oslo.db or not.

    oslo.db's error filters are not installed on every SQLAlchemy version,
    so the raw sqlalchemy OperationalError is matched too.
    """
    return (isinstance(exc, (db_exc.DBError, sa.exc.OperationalError))
            and 'database is locked' in str(exc))


def retry(f):
    """Retry deadlocks and SQLite "database is locked" a few times."""
    return oslo_db_api.wrap_db_retry(
        max_retries=5, retry_on_deadlock=True, retry_interval=0.1,
        exception_checker=_is_locked)(f)
