"""Copy progress in bytes, rate, ETA and bandwidth limits (3.72).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('volumes') as batch:
        batch.add_column(sa.Column('migration_bytes_done', sa.BigInteger))
        batch.add_column(sa.Column('migration_bytes_total', sa.BigInteger))
        batch.add_column(sa.Column('migration_rate', sa.BigInteger))
        batch.add_column(sa.Column('migration_eta', sa.Integer))
        batch.add_column(sa.Column('migration_bandwidth', sa.BigInteger))
    with op.batch_alter_table('volume_migrations') as batch:
        batch.add_column(sa.Column('bytes_total', sa.BigInteger))
        batch.add_column(sa.Column('rate', sa.BigInteger))
        batch.add_column(sa.Column('eta', sa.Integer))
        batch.add_column(sa.Column('requested_bandwidth', sa.BigInteger))
        batch.add_column(sa.Column('bandwidth', sa.BigInteger))
