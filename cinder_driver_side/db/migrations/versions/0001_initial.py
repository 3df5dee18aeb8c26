"""Initial schema: volume types, volumes, attachments, migrations.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from alembic import op
import sqlalchemy as sa

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def _timestamps():
    return [sa.Column('created_at', sa.DateTime, nullable=False),
            sa.Column('updated_at', sa.DateTime, nullable=True)]


def upgrade():
    op.create_table(
        'volume_types',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('description', sa.String(255)),
        sa.Column('is_public', sa.Boolean, nullable=False),
        sa.Column('deleted', sa.Boolean, nullable=False),
        *_timestamps())
    op.create_table(
        'volume_type_extra_specs',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('volume_type_id', sa.String(36),
                  sa.ForeignKey('volume_types.id'), nullable=False),
        sa.Column('key', sa.String(255), nullable=False),
        sa.Column('value', sa.String(255)),
        *_timestamps(),
        sa.UniqueConstraint('volume_type_id', 'key',
                            name='uniq_extra_specs0type0key'))
    op.create_table(
        'volumes',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('display_name', sa.String(255)),
        sa.Column('display_description', sa.String(255)),
        sa.Column('project_id', sa.String(255), nullable=False),
        sa.Column('user_id', sa.String(255), nullable=False),
        sa.Column('size', sa.Integer, nullable=False),
        sa.Column('size_bytes', sa.BigInteger, nullable=False),
        sa.Column('status', sa.String(255), nullable=False),
        sa.Column('attach_status', sa.String(255), nullable=False),
        sa.Column('availability_zone', sa.String(255), nullable=False),
        sa.Column('host', sa.String(255)),
        sa.Column('volume_type_id', sa.String(36),
                  sa.ForeignKey('volume_types.id')),
        sa.Column('multiattach', sa.Boolean, nullable=False),
        sa.Column('migration_status', sa.String(255)),
        sa.Column('migration_progress', sa.String(8)),
        sa.Column('_name_id', sa.String(36)),
        sa.Column('deleted', sa.Boolean, nullable=False),
        sa.Column('deleted_at', sa.DateTime),
        *_timestamps())
    op.create_index('volumes_project_id_idx', 'volumes', ['project_id'])
    op.create_table(
        'volume_attachment',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('volume_id', sa.String(36), nullable=False),
        sa.Column('project_id', sa.String(255)),
        sa.Column('instance_uuid', sa.String(36)),
        sa.Column('attached_host', sa.String(255)),
        sa.Column('mountpoint', sa.String(255)),
        sa.Column('attach_time', sa.DateTime),
        sa.Column('detach_time', sa.DateTime),
        sa.Column('attach_status', sa.String(255), nullable=False),
        sa.Column('attach_mode', sa.String(36), nullable=False),
        sa.Column('connector', sa.Text),
        sa.Column('connection_info', sa.Text),
        sa.Column('deleted', sa.Boolean, nullable=False),
        *_timestamps())
    op.create_index('attachment_volume_id_idx', 'volume_attachment',
                    ['volume_id'])
    op.create_table(
        'volume_migrations',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('volume_id', sa.String(36), nullable=False),
        sa.Column('new_volume_id', sa.String(36)),
        sa.Column('kind', sa.String(36), nullable=False),
        sa.Column('copy_engine', sa.String(36)),
        sa.Column('source_host', sa.String(255), nullable=False),
        sa.Column('dest_host', sa.String(255), nullable=False),
        sa.Column('new_type_id', sa.String(36)),
        sa.Column('instance_uuid', sa.String(36)),
        sa.Column('src_attachment_id', sa.String(36)),
        sa.Column('dst_attachment_id', sa.String(36)),
        sa.Column('lock_volume', sa.Boolean, nullable=False),
        sa.Column('original_status', sa.String(255)),
        sa.Column('status', sa.String(36), nullable=False),
        sa.Column('progress', sa.String(8)),
        sa.Column('bytes_copied', sa.BigInteger),
        sa.Column('error', sa.Text),
        sa.Column('finished_at', sa.DateTime),
        *_timestamps())
    op.create_index('migrations_volume_id_idx', 'volume_migrations',
                    ['volume_id'])
