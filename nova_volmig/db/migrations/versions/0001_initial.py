"""Initial schema: services, instances, BDMs, volume migrations, actions.

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
        'services',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('host', sa.String(255), nullable=False),
        sa.Column('binary', sa.String(255), nullable=False),
        sa.Column('topic', sa.String(255)),
        sa.Column('compute_driver', sa.String(255)),
        sa.Column('supports_live_volume_migration', sa.Boolean,
                  nullable=False),
        sa.Column('disabled', sa.Boolean, nullable=False),
        sa.Column('last_seen_up', sa.DateTime),
        *_timestamps(),
        sa.UniqueConstraint('host', 'binary',
                            name='uniq_services0host0binary'))
    op.create_table(
        'instances',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('uuid', sa.String(36), nullable=False, unique=True),
        sa.Column('display_name', sa.String(255)),
        sa.Column('project_id', sa.String(255), nullable=False),
        sa.Column('user_id', sa.String(255), nullable=False),
        sa.Column('host', sa.String(255)),
        sa.Column('availability_zone', sa.String(255)),
        sa.Column('vm_state', sa.String(255), nullable=False),
        sa.Column('power_state', sa.Integer, nullable=False),
        sa.Column('task_state', sa.String(255)),
        sa.Column('locked', sa.Boolean, nullable=False),
        sa.Column('locked_by', sa.String(255)),
        sa.Column('memory_mb', sa.Integer, nullable=False),
        sa.Column('vcpus', sa.Integer, nullable=False),
        sa.Column('flavor_ref', sa.String(255)),
        sa.Column('image_ref', sa.String(255)),
        sa.Column('fault', sa.Text),
        sa.Column('launched_at', sa.DateTime),
        sa.Column('terminated_at', sa.DateTime),
        sa.Column('deleted', sa.Boolean, nullable=False),
        *_timestamps())
    op.create_index('instances_host_idx', 'instances', ['host'])
    op.create_index('instances_project_id_idx', 'instances', ['project_id'])
    op.create_table(
        'block_device_mappings',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('instance_uuid', sa.String(36),
                  sa.ForeignKey('instances.uuid'), nullable=False),
        sa.Column('volume_id', sa.String(36), nullable=False),
        sa.Column('attachment_id', sa.String(36)),
        sa.Column('connection_info', sa.Text),
        sa.Column('device_name', sa.String(255)),
        sa.Column('multiattach', sa.Boolean, nullable=False),
        sa.Column('status', sa.String(36), nullable=False),
        sa.Column('swap_progress', sa.String(8)),
        sa.Column('deleted', sa.Boolean, nullable=False),
        *_timestamps())
    op.create_index('bdm_instance_uuid_idx', 'block_device_mappings',
                    ['instance_uuid'])
    op.create_index('bdm_attachment_id_idx', 'block_device_mappings',
                    ['attachment_id'])
    op.create_index('bdm_volume_id_idx', 'block_device_mappings',
                    ['volume_id'])
    op.create_table(
        'volume_migrations',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('src_attachment_id', sa.String(36), nullable=False),
        sa.Column('dst_attachment_id', sa.String(36)),
        sa.Column('instance_uuid', sa.String(36), nullable=False),
        sa.Column('volume_id', sa.String(36), nullable=False),
        sa.Column('host', sa.String(255)),
        sa.Column('status', sa.String(36), nullable=False),
        sa.Column('progress', sa.String(8)),
        sa.Column('error', sa.Text),
        sa.Column('src_connection_info', sa.Text),
        sa.Column('dst_connection_info', sa.Text),
        sa.Column('driver_data', sa.Text),
        sa.Column('was_running', sa.Boolean),
        *_timestamps())
    op.create_index('volume_migrations_src_attachment_idx',
                    'volume_migrations', ['src_attachment_id'])
    op.create_index('volume_migrations_instance_idx', 'volume_migrations',
                    ['instance_uuid'])
    op.create_table(
        'instance_actions',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('action', sa.String(255), nullable=False),
        sa.Column('instance_uuid', sa.String(36), nullable=False),
        sa.Column('request_id', sa.String(255), nullable=False),
        sa.Column('user_id', sa.String(255)),
        sa.Column('project_id', sa.String(255)),
        sa.Column('start_time', sa.DateTime, nullable=False),
        sa.Column('finish_time', sa.DateTime),
        sa.Column('message', sa.String(255)),
        *_timestamps())
    op.create_index('instance_actions_instance_uuid_idx', 'instance_actions',
                    ['instance_uuid'])
    op.create_index('instance_actions_request_id_idx', 'instance_actions',
                    ['request_id'])
    op.create_table(
        'instance_actions_events',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('action_id', sa.Integer,
                  sa.ForeignKey('instance_actions.id'), nullable=False),
        sa.Column('event', sa.String(255), nullable=False),
        sa.Column('result', sa.String(255)),
        sa.Column('traceback', sa.Text),
        sa.Column('details', sa.Text),
        sa.Column('host', sa.String(255)),
        sa.Column('start_time', sa.DateTime, nullable=False),
        sa.Column('finish_time', sa.DateTime),
        *_timestamps())
