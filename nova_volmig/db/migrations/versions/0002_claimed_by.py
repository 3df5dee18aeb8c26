"""Volume migrations: which compute host took the complete.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('volume_migrations') as batch:
        batch.add_column(sa.Column('claimed_by', sa.String(255)))
