"""Volume migrations: at most one active migration of an attachment.

A partial unique index (PostgreSQL and SQLite): of concurrent starts on
one attachment exactly one INSERT succeeds, whatever the instance's task
state (several volumes of one server may migrate at once).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

ACTIVE = "status IN ('starting', 'running', 'completing', 'cancelling')"


def upgrade():
    op.create_index('volume_migrations_one_active_idx', 'volume_migrations',
                    ['src_attachment_id'], unique=True,
                    postgresql_where=sa.text(ACTIVE),
                    sqlite_where=sa.text(ACTIVE))
