"""Migration records: the name of src's data, for finishing after a crash.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('volume_migrations') as batch:
        batch.add_column(sa.Column('source_backend_name', sa.String(255)))
