"""SQLAlchemy models of the Nova side's database."""

from __future__ import annotations

import datetime

from oslo_config import cfg
from oslo_serialization import jsonutils
import sqlalchemy as sa
from sqlalchemy import orm


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class JSONEncodedDict(sa.types.TypeDecorator):
    """A dict kept as JSON text: the one place it is encoded and decoded.

    Unlike oslo.db's ``JsonEncodedDict``, ``None`` stays NULL (a BDM being
    attached has no connection_info yet, a migration no dst one).
    """

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else jsonutils.dumps(value)

    def process_result_value(self, value, dialect):
        return None if value is None else jsonutils.loads(value)


class Base(orm.DeclarativeBase):
    """Base of every table: timestamps and a dict view for the API."""

    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime, default=_utcnow, nullable=False)
    updated_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime, onupdate=_utcnow, nullable=True)

    def as_dict(self) -> dict:
        return {c.key: getattr(self, c.key)
                for c in sa.inspect(self).mapper.column_attrs}


class Service(Base):
    """A running nova-volmig-compute (or api) service and its heartbeat."""

    __tablename__ = 'services'
    __table_args__ = (sa.UniqueConstraint('host', 'binary',
                                          name='uniq_services0host0binary'),)

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    host: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    binary: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    topic: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    compute_driver: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(255))
    supports_live_volume_migration: orm.Mapped[bool] = orm.mapped_column(
        sa.Boolean, default=False, nullable=False)
    disabled: orm.Mapped[bool] = orm.mapped_column(
        sa.Boolean, default=False, nullable=False)
    last_seen_up: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime)


class Instance(Base):
    __tablename__ = 'instances'
    __table_args__ = (sa.Index('instances_host_idx', 'host'),
                      sa.Index('instances_project_id_idx', 'project_id'))

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    uuid: orm.Mapped[str] = orm.mapped_column(sa.String(36), unique=True)
    display_name: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    user_id: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    host: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    availability_zone: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(255))
    vm_state: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    power_state: orm.Mapped[int] = orm.mapped_column(
        sa.Integer, default=0, nullable=False)
    task_state: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    locked: orm.Mapped[bool] = orm.mapped_column(
        sa.Boolean, default=False, nullable=False)
    locked_by: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    memory_mb: orm.Mapped[int] = orm.mapped_column(
        sa.Integer, default=64, nullable=False)
    vcpus: orm.Mapped[int] = orm.mapped_column(
        sa.Integer, default=1, nullable=False)
    flavor_ref: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    image_ref: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    fault: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    launched_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime)
    terminated_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime)
    deleted: orm.Mapped[bool] = orm.mapped_column(
        sa.Boolean, default=False, nullable=False)

    @property
    def name(self) -> str:
        """The hypervisor's name of the instance (instance_name_template)."""
        template = cfg.CONF.instance_name_template
        if '%(' in template:
            return template % {'id': self.id, 'uuid': self.uuid}
        return template % self.id


class BlockDeviceMapping(Base):
    __tablename__ = 'block_device_mappings'
    __table_args__ = (
        sa.Index('bdm_instance_uuid_idx', 'instance_uuid'),
        sa.Index('bdm_attachment_id_idx', 'attachment_id'),
        sa.Index('bdm_volume_id_idx', 'volume_id'),
    )

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    instance_uuid: orm.Mapped[str] = orm.mapped_column(
        sa.String(36), sa.ForeignKey('instances.uuid'))
    volume_id: orm.Mapped[str] = orm.mapped_column(sa.String(36))
    attachment_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    connection_info: orm.Mapped[dict | None] = orm.mapped_column(
        JSONEncodedDict)
    device_name: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    multiattach: orm.Mapped[bool] = orm.mapped_column(
        sa.Boolean, default=False, nullable=False)
    status: orm.Mapped[str] = orm.mapped_column(
        sa.String(36), default='attaching', nullable=False)
    swap_progress: orm.Mapped[str | None] = orm.mapped_column(sa.String(8))
    deleted: orm.Mapped[bool] = orm.mapped_column(
        sa.Boolean, default=False, nullable=False)


_ACTIVE = ("status IN ('starting', 'running', 'completing', "
           "'cancelling')")


class VolumeMigration(Base):
    """One volume migration, keyed by its src attachment (DESIGN 3)."""

    __tablename__ = 'volume_migrations'
    __table_args__ = (
        sa.Index('volume_migrations_src_attachment_idx',
                 'src_attachment_id'),
        sa.Index('volume_migrations_instance_idx', 'instance_uuid'),
        # One active migration per attachment (migration 0004).
        sa.Index('volume_migrations_one_active_idx', 'src_attachment_id',
                 unique=True, postgresql_where=sa.text(_ACTIVE),
                 sqlite_where=sa.text(_ACTIVE)),
    )

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    src_attachment_id: orm.Mapped[str] = orm.mapped_column(sa.String(36))
    dst_attachment_id: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(36))
    instance_uuid: orm.Mapped[str] = orm.mapped_column(sa.String(36))
    volume_id: orm.Mapped[str] = orm.mapped_column(sa.String(36))
    host: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    status: orm.Mapped[str] = orm.mapped_column(sa.String(36))
    progress: orm.Mapped[str | None] = orm.mapped_column(sa.String(8))
    error: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    # What the guest was attached with, and what complete switches it to.
    src_connection_info: orm.Mapped[dict | None] = orm.mapped_column(
        JSONEncodedDict)
    dst_connection_info: orm.Mapped[dict | None] = orm.mapped_column(
        JSONEncodedDict)
    # The guest's device of the volume (e.g. /dev/vdb), copied from the BDM
    # at start: the same before and after the switch to dst.
    device_name: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    # Driver progress markers (overlay paths, saved I/O limits...);
    # what start-up reconciliation reads after a crash.
    driver_data: orm.Mapped[dict | None] = orm.mapped_column(
        JSONEncodedDict)
    # The compute host that took the current complete: set by that host
    # with a compare-and-swap before it switches anything, so an API that
    # stops waiting can tell "never taken" (safe to undo) from "running".
    claimed_by: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    was_running: orm.Mapped[bool | None] = orm.mapped_column(sa.Boolean)


class InstanceAction(Base):
    __tablename__ = 'instance_actions'
    __table_args__ = (
        sa.Index('instance_actions_instance_uuid_idx', 'instance_uuid'),
        sa.Index('instance_actions_request_id_idx', 'request_id'),
    )

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    action: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    instance_uuid: orm.Mapped[str] = orm.mapped_column(sa.String(36))
    request_id: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    user_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    project_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    start_time: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime, default=_utcnow)
    finish_time: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime)
    message: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))


class InstanceActionEvent(Base):
    __tablename__ = 'instance_actions_events'

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    action_id: orm.Mapped[int] = orm.mapped_column(
        sa.ForeignKey('instance_actions.id'))
    event: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    result: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    traceback: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    details: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    host: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    start_time: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime, default=_utcnow)
    finish_time: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime)
