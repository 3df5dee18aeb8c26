"""The Nova side's database engine (oslo.db's enginefacade).

One transaction context manager per process, (re)configured by
:func:`configure`; a SQLite file is made safe for many writer threads.
Deadlocks and SQLite's "database is locked" are retried.
"""

from __future__ import annotations

import os

from oslo_config import cfg
from oslo_db.sqlalchemy import enginefacade
import sqlalchemy as sa

from nova_volmig import exception
from volmig_common import sqlite

CONF = cfg.CONF

_MAIN_CONTEXT_MANAGER: enginefacade._TransactionContextManager | None = None


def default_connection() -> str:
    return 'sqlite:///%s' % os.path.join(CONF.state_path, 'nova-volmig.sqlite')


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
                      max_retries=-1, retry_interval=1,
                      **sqlite.facade_args(connection))
    sqlite.install_facade_events(manager)
    _MAIN_CONTEXT_MANAGER = manager


def dispose() -> None:
    global _MAIN_CONTEXT_MANAGER
    if _MAIN_CONTEXT_MANAGER is not None:
        try:
            sqlite.dispose_facade(_MAIN_CONTEXT_MANAGER)
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


retry = sqlite.retry
