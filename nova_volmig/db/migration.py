"""Schema upgrades with alembic (``nova-volmig-manage db sync``)."""

from __future__ import annotations

import os

from alembic import command as alembic_command
from alembic import config as alembic_config
from alembic import migration as alembic_migration
from oslo_concurrency import lockutils

from nova_volmig.db import engine as db_engine

_ALEMBIC_INI = os.path.join(os.path.dirname(__file__), 'migrations',
                            'alembic.ini')


def _config(connection) -> alembic_config.Config:
    config = alembic_config.Config(_ALEMBIC_INI)
    config.set_main_option('script_location',
                           os.path.dirname(_ALEMBIC_INI))
    config.attributes['connection'] = connection
    return config


@lockutils.synchronized('nova-volmig-db-sync')
def db_sync(revision: str = 'head') -> None:
    """Upgrade the configured database to ``revision``."""
    engine = db_engine.get_engine()
    with engine.begin() as connection:
        alembic_command.upgrade(_config(connection), revision)


def db_version() -> str | None:
    engine = db_engine.get_engine()
    with engine.connect() as connection:
        return alembic_migration.MigrationContext.configure(
            connection).get_current_revision()
