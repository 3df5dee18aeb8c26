"""Database API of the Cinder side.

An object per service (``Connection``) rather than module globals: the aio
process and the tests run several independent Cinder services. State
changes that guard a flow are compare-and-swap updates (expected values in
the WHERE clause, rowcount checked), so of concurrent migrate requests on
one volume exactly one wins.
"""

from __future__ import annotations

import os
from typing import Any, Iterable

from oslo_config import cfg
from oslo_db.sqlalchemy import enginefacade
from oslo_log import log as logging
from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from cinder_driver_side.db import models
from cinder_driver_side import exception
from cinder_driver_side.objects import fields
from volmig_common import sqlite

LOG = logging.getLogger(__name__)


class UnexpectedValues(exception.Conflict):
    msg_fmt = '%(table)s %(key)s: expected %(expected)s, found %(actual)s'


def default_connection(conf: cfg.ConfigOpts) -> str:
    return 'sqlite:///%s' % os.path.join(conf.state_path,
                                         'cinder-volmig.sqlite')


_retry = sqlite.retry


def _storable_key(value) -> bool:
    """Whether ``value`` can be looked up at all.

    Ids come from URL paths: PostgreSQL refuses NUL characters in a query
    (the driver raises, a 500), and no key is longer than a String(255).
    Such an id names nothing: its getter answers NotFound (404).
    """
    return isinstance(value, str) and '\x00' not in value \
        and len(value) <= 255


def _allowed(column, want):
    values = want if isinstance(want, (tuple, list, set, frozenset)) \
        else (want,)
    return sa.or_(*[column.is_(None) if v is None else column == v
                    for v in values])


class Connection:
    """The Cinder side's database, configured from ``conf``."""

    def __init__(self, conf: cfg.ConfigOpts):
        connection = conf.database.connection or default_connection(conf)
        if connection.startswith('sqlite:'):
            path = connection[len('sqlite:///'):]
            if path in ('', ':memory:') or 'mode=memory' in connection:
                raise exception.InvalidInput(
                    reason='in-memory SQLite cannot serve several threads; '
                           'use a SQLite file')
            os.makedirs(os.path.dirname(os.path.abspath(path)),
                        exist_ok=True)
        self.connection = connection
        self._manager = enginefacade.transaction_context()
        self._manager.configure(connection=connection, sqlite_fk=True,
                                max_retries=-1, retry_interval=1,
                                **sqlite.facade_args(connection))
        sqlite.install_facade_events(self._manager)

    @property
    def engine(self) -> sa.engine.Engine:
        return self._manager.writer.get_engine()

    def dispose(self) -> None:
        sqlite.dispose_facade(self._manager)

    def _writer(self, context):
        return self._manager.writer.using(context)

    def _reader(self, context):
        return self._manager.reader.using(context)

    def _cas(self, session, model, key, values: dict,
             expected: dict | None) -> Any:
        query = sa.update(model).where(model.id == key)
        for col, want in (expected or {}).items():
            query = query.where(_allowed(getattr(model, col), want))
        values = dict(values)
        values.setdefault('updated_at', timeutils.utcnow())
        count = session.execute(query.values(**values)).rowcount
        row = session.get(model, key)
        if row is None:
            raise exception.NotFound('%s %s not found'
                                     % (model.__tablename__, key))
        session.refresh(row)
        if count != 1:
            actual = {col: getattr(row, col) for col in (expected or {})}
            raise UnexpectedValues(table=model.__tablename__, key=key,
                                   expected=expected, actual=actual)
        session.expunge(row)
        return row

    def _add(self, context, row):
        with self._writer(context) as session:
            session.add(row)
            session.flush()
            session.refresh(row)
            session.expunge(row)
            return row

    # Volume types

    @_retry
    def volume_type_create(self, context, name: str,
                           extra_specs: dict | None = None,
                           description: str | None = None,
                           is_public: bool = True) -> models.VolumeType:
        with self._writer(context) as session:
            exists = session.execute(sa.select(models.VolumeType).where(
                models.VolumeType.name == name,
                models.VolumeType.deleted.is_(False))).first()
            if exists:
                raise exception.Conflict(
                    reason='volume type %s already exists' % name)
            row = models.VolumeType(id=uuidutils.generate_uuid(), name=name,
                                    description=description,
                                    is_public=is_public)
            session.add(row)
            session.flush()
            for key, value in (extra_specs or {}).items():
                session.add(models.VolumeTypeExtraSpec(
                    volume_type_id=row.id, key=key, value=value))
            session.flush()
            session.expunge(row)
            return row

    def volume_type_get(self, context, type_id: str) -> models.VolumeType:
        if not _storable_key(type_id):
            raise exception.VolumeTypeNotFound(volume_type_id=type_id)
        with self._reader(context) as session:
            row = session.execute(sa.select(models.VolumeType).where(
                models.VolumeType.id == type_id,
                models.VolumeType.deleted.is_(False))).scalar_one_or_none()
        if row is None:
            raise exception.VolumeTypeNotFound(volume_type_id=type_id)
        return row

    def volume_type_get_by_name(self, context, name: str
                                ) -> models.VolumeType:
        if not _storable_key(name):
            raise exception.VolumeTypeNotFoundByName(volume_type_name=name)
        with self._reader(context) as session:
            row = session.execute(sa.select(models.VolumeType).where(
                models.VolumeType.name == name,
                models.VolumeType.deleted.is_(False))).scalars().first()
        if row is None:
            raise exception.VolumeTypeNotFoundByName(volume_type_name=name)
        return row

    def volume_type_get_all(self, context) -> list[models.VolumeType]:
        with self._reader(context) as session:
            return list(session.execute(sa.select(models.VolumeType).where(
                models.VolumeType.deleted.is_(False)).order_by(
                models.VolumeType.created_at)).scalars())

    @_retry
    def volume_type_destroy(self, context, type_id: str) -> None:
        if not _storable_key(type_id):
            raise exception.VolumeTypeNotFound(volume_type_id=type_id)
        with self._writer(context) as session:
            in_use = session.execute(sa.select(models.Volume.id).where(
                models.Volume.volume_type_id == type_id,
                models.Volume.deleted.is_(False))).first()
            if in_use:
                raise exception.InvalidVolumeType(
                    reason='volume type %s is in use by volumes' % type_id)
            self._cas(session, models.VolumeType, type_id,
                      {'deleted': True}, {'deleted': False})

    def extra_specs_get(self, context, type_id: str) -> dict[str, str]:
        with self._reader(context) as session:
            rows = session.execute(sa.select(models.VolumeTypeExtraSpec).where(
                models.VolumeTypeExtraSpec.volume_type_id == type_id))
            return {r.key: r.value for r in rows.scalars()}

    @_retry
    def extra_specs_update(self, context, type_id: str,
                           specs: dict[str, str]) -> dict[str, str]:
        with self._writer(context) as session:
            for key, value in specs.items():
                row = session.execute(
                    sa.select(models.VolumeTypeExtraSpec).where(
                        models.VolumeTypeExtraSpec.volume_type_id == type_id,
                        models.VolumeTypeExtraSpec.key == key)
                ).scalar_one_or_none()
                if row is None:
                    session.add(models.VolumeTypeExtraSpec(
                        volume_type_id=type_id, key=key, value=value))
                else:
                    row.value = value
        return self.extra_specs_get(context, type_id)

    @_retry
    def extra_spec_delete(self, context, type_id: str, key: str) -> None:
        if not (_storable_key(type_id) and _storable_key(key)):
            raise exception.NotFound('extra spec %s of volume type %s not '
                                     'found' % (key, type_id))
        with self._writer(context) as session:
            spec = models.VolumeTypeExtraSpec
            count = session.execute(sa.delete(spec).where(
                spec.volume_type_id == type_id,
                spec.key == key)).rowcount
        if not count:
            raise exception.NotFound('extra spec %s of volume type %s not '
                                     'found' % (key, type_id))

    # Volumes

    @_retry
    def volume_create(self, context, values: dict) -> models.Volume:
        values = dict(values)
        values.setdefault('id', uuidutils.generate_uuid())
        return self._add(context, models.Volume(**values))

    def volume_get(self, context, volume_id: str, *,
                   check_project: bool = True) -> models.Volume:
        if not _storable_key(volume_id):
            raise exception.VolumeNotFound(volume_id=volume_id)
        with self._reader(context) as session:
            row = session.execute(sa.select(models.Volume).where(
                models.Volume.id == volume_id,
                models.Volume.deleted.is_(False))).scalar_one_or_none()
        if row is None or (check_project
                           and not context.can_see_project(row.project_id)):
            raise exception.VolumeNotFound(volume_id=volume_id)
        return row

    def volume_get_all(self, context, *, project_id: str | None = None,
                       all_projects: bool = False,
                       filters: dict | None = None) -> list[models.Volume]:
        with self._reader(context) as session:
            query = sa.select(models.Volume).where(
                models.Volume.deleted.is_(False))
            if not (all_projects and context.is_admin):
                query = query.where(models.Volume.project_id == (
                    project_id or context.project_id))
            for key, value in (filters or {}).items():
                query = query.where(getattr(models.Volume, key) == value)
            return list(session.execute(
                query.order_by(models.Volume.created_at.desc())).scalars())

    @_retry
    def volume_update(self, context, volume_id: str, values: dict,
                      expected: dict | None = None) -> models.Volume:
        """Compare-and-swap update of a volume.

        Raises UnexpectedValues when ``expected`` (column -> value or tuple
        of values) does not hold.
        """
        with self._writer(context) as session:
            return self._cas(session, models.Volume, volume_id, values,
                             expected)

    @_retry
    def volume_destroy(self, context, volume_id: str) -> None:
        with self._writer(context) as session:
            self._cas(session, models.Volume, volume_id,
                      {'deleted': True, 'status': fields.VolumeStatus.DELETED,
                       'deleted_at': timeutils.utcnow(),
                       'migration_progress': None}, None)

    @_retry
    def finish_volume_migration(self, context, volume_id: str,
                                new_volume_id: str, values: dict,
                                attachment_ids: Iterable[str] = ()) -> None:
        """Put the new volume's data under the volume's id, atomically.

        The volume takes ``values`` (host, _name_id, type...); the
        temporary new volume row is deleted and ``attachment_ids`` are
        moved to the volume (as upstream's finish_volume_migration).
        """
        with self._writer(context) as session:
            now = timeutils.utcnow()
            self._cas(session, models.Volume, volume_id, values, None)
            self._cas(session, models.Volume, new_volume_id,
                      {'deleted': True, 'status': fields.VolumeStatus.DELETED,
                       'deleted_at': now, 'migration_status': None}, None)
            for attachment_id in attachment_ids:
                self._cas(session, models.VolumeAttachment, attachment_id,
                          {'volume_id': volume_id}, None)

    # Attachments

    @_retry
    def attachment_create(self, context, values: dict
                          ) -> models.VolumeAttachment:
        values = dict(values)
        values.setdefault('id', uuidutils.generate_uuid())
        return self._add(context, models.VolumeAttachment(**values))

    def attachment_get(self, context, attachment_id: str
                       ) -> models.VolumeAttachment:
        if not _storable_key(attachment_id):
            raise exception.VolumeAttachmentNotFound(filter=attachment_id)
        with self._reader(context) as session:
            row = session.execute(sa.select(models.VolumeAttachment).where(
                models.VolumeAttachment.id == attachment_id,
                models.VolumeAttachment.deleted.is_(False))
            ).scalar_one_or_none()
        if row is None or not context.can_see_project(row.project_id):
            raise exception.VolumeAttachmentNotFound(filter=attachment_id)
        return row

    def attachment_get_all(self, context, *, volume_id: str | None = None,
                           instance_uuid: str | None = None
                           ) -> list[models.VolumeAttachment]:
        with self._reader(context) as session:
            query = sa.select(models.VolumeAttachment).where(
                models.VolumeAttachment.deleted.is_(False))
            if volume_id:
                query = query.where(
                    models.VolumeAttachment.volume_id == volume_id)
            if instance_uuid:
                query = query.where(
                    models.VolumeAttachment.instance_uuid == instance_uuid)
            if not context.is_admin:
                query = query.where(
                    models.VolumeAttachment.project_id == context.project_id)
            return list(session.execute(query.order_by(
                models.VolumeAttachment.created_at)).scalars())

    @_retry
    def attachment_update(self, context, attachment_id: str, values: dict,
                          expected: dict | None = None
                          ) -> models.VolumeAttachment:
        with self._writer(context) as session:
            return self._cas(session, models.VolumeAttachment, attachment_id,
                             values, expected)

    @_retry
    def attachment_destroy(self, context, attachment_id: str) -> None:
        with self._writer(context) as session:
            self._cas(session, models.VolumeAttachment, attachment_id,
                      {'deleted': True,
                       'attach_status': fields.VolumeAttachStatus.DETACHED,
                       'detach_time': timeutils.utcnow()}, None)

    # Migrations

    @_retry
    def migration_create(self, context, values: dict) -> models.Migration:
        values = dict(values)
        values.setdefault('id', uuidutils.generate_uuid())
        return self._add(context, models.Migration(**values))

    def migration_get(self, context, migration_id: str) -> models.Migration:
        with self._reader(context) as session:
            row = session.get(models.Migration, migration_id)
        if row is None:
            raise exception.NotFound('migration %s not found' % migration_id)
        return row

    def migration_get_latest(self, context, volume_id: str
                             ) -> models.Migration:
        with self._reader(context) as session:
            row = session.execute(sa.select(models.Migration).where(
                models.Migration.volume_id == volume_id).order_by(
                models.Migration.created_at.desc()).limit(1)
            ).scalar_one_or_none()
        if row is None:
            raise exception.MigrationNotFound(volume_id=volume_id)
        return row

    def migration_get_all(self, context, *,
                          statuses: Iterable[str] | None = None
                          ) -> list[models.Migration]:
        with self._reader(context) as session:
            query = sa.select(models.Migration)
            if statuses:
                query = query.where(
                    models.Migration.status.in_(list(statuses)))
            return list(session.execute(query.order_by(
                models.Migration.created_at)).scalars())

    @_retry
    def migration_update(self, context, migration_id: str, values: dict,
                         expected: dict | None = None) -> models.Migration:
        with self._writer(context) as session:
            return self._cas(session, models.Migration, migration_id,
                             values, expected)

    @_retry
    def migration_end(self, context, migration_id: str, volume_id: str,
                      volume_values: dict, values: dict) -> None:
        """The volume's terminal status and its record's, in one commit.

        A client that sees the volume's ``migration_status`` end finds the
        record finished too; a crash leaves both or neither (recovery
        picks up records still active).
        """
        with self._writer(context) as session:
            self._cas(session, models.Volume, volume_id, volume_values, None)
            self._cas(session, models.Migration, migration_id, values, None)

    # Snapshots

    @_retry
    def snapshot_create(self, context, values: dict) -> models.Snapshot:
        values = dict(values)
        values.setdefault('id', uuidutils.generate_uuid())
        return self._add(context, models.Snapshot(**values))

    def snapshot_get(self, context, snapshot_id: str) -> models.Snapshot:
        if not _storable_key(snapshot_id):
            raise exception.SnapshotNotFound(snapshot_id=snapshot_id)
        with self._reader(context) as session:
            row = session.execute(sa.select(models.Snapshot).where(
                models.Snapshot.id == snapshot_id,
                models.Snapshot.deleted.is_(False))).scalar_one_or_none()
        if row is None or not context.can_see_project(row.project_id):
            raise exception.SnapshotNotFound(snapshot_id=snapshot_id)
        return row

    def snapshot_get_all(self, context, *, volume_id: str | None = None,
                         all_projects: bool = False
                         ) -> list[models.Snapshot]:
        """Snapshots of the caller's project (or all, for an admin)."""
        with self._reader(context) as session:
            query = sa.select(models.Snapshot).where(
                models.Snapshot.deleted.is_(False))
            if not (all_projects and context.is_admin):
                query = query.where(
                    models.Snapshot.project_id == context.project_id)
            if volume_id is not None:
                query = query.where(models.Snapshot.volume_id == volume_id)
            return list(session.execute(query.order_by(
                models.Snapshot.created_at.desc())).scalars())

    @_retry
    def snapshot_update(self, context, snapshot_id: str, values: dict,
                        expected: dict | None = None) -> models.Snapshot:
        with self._writer(context) as session:
            return self._cas(session, models.Snapshot, snapshot_id, values,
                             expected)

    @_retry
    def snapshot_destroy(self, context, snapshot_id: str) -> None:
        with self._writer(context) as session:
            self._cas(session, models.Snapshot, snapshot_id,
                      {'deleted': True, 'status': 'deleted',
                       'deleted_at': timeutils.utcnow()}, None)
