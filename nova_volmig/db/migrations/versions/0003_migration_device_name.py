"""Volume migrations: the guest's device name, kept on the record.

Records of an older schema get theirs from the BDM of the migration (by
its src attachment, or its dst one once switched).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('volume_migrations') as batch:
        batch.add_column(sa.Column('device_name', sa.String(255)))
    migrations = sa.table('volume_migrations',
                          sa.column('device_name', sa.String),
                          sa.column('src_attachment_id', sa.String),
                          sa.column('dst_attachment_id', sa.String))
    bdms = sa.table('block_device_mappings',
                    sa.column('device_name', sa.String),
                    sa.column('attachment_id', sa.String))
    device = (sa.select(bdms.c.device_name)
              .where(bdms.c.attachment_id.in_(
                  [migrations.c.src_attachment_id,
                   migrations.c.dst_attachment_id]))
              .limit(1).scalar_subquery())
    op.execute(migrations.update().values(device_name=device))
