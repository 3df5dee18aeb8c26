"""Schema upgrades of the Cinder side's database with alembic."""

from __future__ import annotations

import os

from alembic import command as alembic_command
from alembic import config as alembic_config
from alembic import migration as alembic_migration

from cinder_driver_side.db import api as db_api

_ALEMBIC_INI = os.path.join(os.path.dirname(__file__), 'migrations',
                            'alembic.ini')


def _config(connection) -> alembic_config.Config:
    config = alembic_config.Config(_ALEMBIC_INI)
    config.set_main_option('script_location', os.path.dirname(_ALEMBIC_INI))
    config.attributes['connection'] = connection
    return config


def db_sync(db: db_api.Connection, revision: str = 'head') -> None:
    """Upgrade ``db`` to ``revision``."""
    with db.engine.begin() as connection:
        alembic_command.upgrade(_config(connection), revision)


def db_version(db: db_api.Connection) -> str | None:
    with db.engine.connect() as connection:
        return alembic_migration.MigrationContext.configure(
            connection).get_current_revision()
