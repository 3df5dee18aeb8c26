"""SQLAlchemy models of cinder-volmig's database (Cinder-shaped)."""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from cinder_driver_side.objects import fields


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class Base(orm.DeclarativeBase):
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime, default=_utcnow, nullable=False)
    updated_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime, onupdate=_utcnow, nullable=True)

    def as_dict(self) -> dict:
        return {c.key: getattr(self, c.key)
                for c in sa.inspect(self).mapper.column_attrs}


class VolumeType(Base):
    __tablename__ = 'volume_types'

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    description: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    is_public: orm.Mapped[bool] = orm.mapped_column(
        sa.Boolean, default=True, nullable=False)
    deleted: orm.Mapped[bool] = orm.mapped_column(
        sa.Boolean, default=False, nullable=False)


class VolumeTypeExtraSpec(Base):
    __tablename__ = 'volume_type_extra_specs'
    __table_args__ = (sa.UniqueConstraint(
        'volume_type_id', 'key', name='uniq_extra_specs0type0key'),)

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    volume_type_id: orm.Mapped[str] = orm.mapped_column(
        sa.String(36), sa.ForeignKey('volume_types.id'))
    key: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    value: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))


class Volume(Base):
    __tablename__ = 'volumes'
    __table_args__ = (sa.Index('volumes_project_id_idx', 'project_id'),)

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    display_name: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    display_description: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(255))
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    user_id: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    # Size in GiB as Cinder reports it; size_bytes is the file's real size
    # (tests use volumes of a few MiB, see the design notes).
    size: orm.Mapped[int] = orm.mapped_column(sa.Integer)
    size_bytes: orm.Mapped[int] = orm.mapped_column(sa.BigInteger)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    attach_status: orm.Mapped[str] = orm.mapped_column(
        sa.String(255), default=fields.VolumeAttachStatus.DETACHED)
    availability_zone: orm.Mapped[str] = orm.mapped_column(
        sa.String(255), default='nova')
    host: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    volume_type_id: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(36), sa.ForeignKey('volume_types.id'))
    multiattach: orm.Mapped[bool] = orm.mapped_column(
        sa.Boolean, default=False, nullable=False)
    # None, starting, migrating, completing, success, error, or
    # "target:<src id>" on the destination of a migration (as upstream).
    migration_status: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(255))
    migration_progress: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(8))
    # While migrating (3.72): bytes moved and to move, the rate over a
    # sliding window (bytes/s), the seconds left at that rate, and the
    # copy's bandwidth limit (bytes/s, 0 = unlimited).
    migration_bytes_done: orm.Mapped[int | None] = orm.mapped_column(
        sa.BigInteger)
    migration_bytes_total: orm.Mapped[int | None] = orm.mapped_column(
        sa.BigInteger)
    migration_rate: orm.Mapped[int | None] = orm.mapped_column(
        sa.BigInteger)
    migration_eta: orm.Mapped[int | None] = orm.mapped_column(sa.Integer)
    migration_bandwidth: orm.Mapped[int | None] = orm.mapped_column(
        sa.BigInteger)
    # Backend name of the volume's data when it differs from id.
    name_id: orm.Mapped[str | None] = orm.mapped_column(
        '_name_id', sa.String(36))
    deleted: orm.Mapped[bool] = orm.mapped_column(
        sa.Boolean, default=False, nullable=False)
    deleted_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime)

    @property
    def backend_name(self) -> str:
        """Name of the volume's data on its array."""
        return 'volume-%s' % (self.name_id or self.id)


class Snapshot(Base):
    """A point-in-time copy of a volume's data, on the volume's pool."""

    __tablename__ = 'snapshots'
    __table_args__ = (sa.Index('snapshots_volume_id_idx', 'volume_id'),)

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    volume_id: orm.Mapped[str] = orm.mapped_column(sa.String(36))
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    user_id: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    display_name: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    display_description: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(255))
    # GiB, as the volume's
    volume_size: orm.Mapped[int] = orm.mapped_column(sa.Integer)
    # creating, available, deleting, error, error_deleting
    status: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    # The pool (host@backend#pool) holding the copy.
    host: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    deleted: orm.Mapped[bool] = orm.mapped_column(
        sa.Boolean, default=False, nullable=False)
    deleted_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime)

    @property
    def backend_name(self) -> str:
        """Name of the snapshot's data on its array."""
        return 'snapshot-%s' % self.id


class VolumeAttachment(Base):
    __tablename__ = 'volume_attachment'
    __table_args__ = (sa.Index('attachment_volume_id_idx', 'volume_id'),)

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    volume_id: orm.Mapped[str] = orm.mapped_column(sa.String(36))
    project_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    instance_uuid: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    attached_host: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(255))
    mountpoint: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    attach_time: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime)
    detach_time: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime)
    # reserved, attaching, attached, detached, error_attaching
    attach_status: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    attach_mode: orm.Mapped[str] = orm.mapped_column(
        sa.String(36), default='rw')
    connector: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    connection_info: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    deleted: orm.Mapped[bool] = orm.mapped_column(
        sa.Boolean, default=False, nullable=False)


class Migration(Base):
    """One migration of a volume: the flow's durable state."""

    __tablename__ = 'volume_migrations'
    __table_args__ = (sa.Index('migrations_volume_id_idx', 'volume_id'),)

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    volume_id: orm.Mapped[str] = orm.mapped_column(sa.String(36))
    new_volume_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    # detached, attached (start/complete) or legacy (swap).
    kind: orm.Mapped[str] = orm.mapped_column(sa.String(36))
    copy_engine: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    source_host: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    dest_host: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    new_type_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    instance_uuid: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    src_attachment_id: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(36))
    dst_attachment_id: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(36))
    lock_volume: orm.Mapped[bool] = orm.mapped_column(
        sa.Boolean, default=False, nullable=False)
    original_status: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(255))
    # starting, migrating, completing, success, error
    status: orm.Mapped[str] = orm.mapped_column(sa.String(36))
    progress: orm.Mapped[str | None] = orm.mapped_column(sa.String(8))
    bytes_copied: orm.Mapped[int | None] = orm.mapped_column(sa.BigInteger)
    error: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    finished_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime)
    # JSON {phase: UTC ISO time}: when each step of the flow began or
    # ended (Nova calls, copy), for operators and the benchmark.
    phase_times: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    # How the copy moved the data: reflink, copy_file_range, read_write.
    copy_method: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    # src's data name, saved just before the switch: a restart between the
    # switch and the deletion of src's data finishes the deletion.
    source_backend_name: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(255))
    # Bytes the copy moves, its rate (bytes/s) and ETA (s) at the last
    # progress write.
    bytes_total: orm.Mapped[int | None] = orm.mapped_column(sa.BigInteger)
    rate: orm.Mapped[int | None] = orm.mapped_column(sa.BigInteger)
    eta: orm.Mapped[int | None] = orm.mapped_column(sa.Integer)
    # Bandwidth limit asked for in the migrate action (bytes/s; None: the
    # backends' default), and the limit the copy applied (0 = unlimited).
    requested_bandwidth: orm.Mapped[int | None] = orm.mapped_column(
        sa.BigInteger)
    bandwidth: orm.Mapped[int | None] = orm.mapped_column(sa.BigInteger)
