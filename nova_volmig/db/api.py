"""Database API of the Nova side.

Every state change that guards a resource is a compare-and-swap: the UPDATE
carries the expected values in its WHERE clause and the rowcount is checked
(DESIGN 4), so of N concurrent callers exactly one wins.
"""

from __future__ import annotations

import datetime
from typing import Any, Iterable

from oslo_config import cfg
from oslo_db import exception as db_exc
from oslo_log import log as logging
from oslo_utils import timeutils
import sqlalchemy as sa

from nova_volmig.db import engine
from nova_volmig.db import models
from nova_volmig import exception

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

# The engine's life cycle, for the services, the tools and the tests.
configure = engine.configure
dispose = engine.dispose
get_context_manager = engine.get_context_manager
get_engine = engine.get_engine
default_connection = engine.default_connection

_writer = engine.writer
_reader = engine.reader
_retry = engine.retry


class UnexpectedValues(exception.Conflict):
    """A compare-and-swap found other values than it expected."""

    msg_fmt = ('%(table)s %(key)s: expected %(expected)s, found %(actual)s')


def _storable_key(*values) -> bool:
    """Whether ids taken from a URL can be looked up at all.

    PostgreSQL refuses NUL characters in a query (the driver raises, a
    500), and no key is longer than a String(255): such an id names
    nothing, and its getter answers NotFound (404).
    """
    return all(isinstance(v, str) and '\x00' not in v and len(v) <= 255
               for v in values)


def _cas_update(session, model, key_col: str, key, values: dict,
                expected: dict | None = None) -> int:
    """UPDATE ... WHERE key = :key AND <expected>; returns the rowcount.

    ``expected`` maps a column to one value or a tuple of allowed values
    (``None`` inside means IS NULL).
    """
    query = sa.update(model).where(getattr(model, key_col) == key)
    for col, want in (expected or {}).items():
        column = getattr(model, col)
        allowed = want if isinstance(want, (tuple, list, set, frozenset)) \
            else (want,)
        conds = [column.is_(None) if v is None else column == v
                 for v in allowed]
        query = query.where(sa.or_(*conds))
    values = dict(values)
    values.setdefault('updated_at', timeutils.utcnow())
    return session.execute(query.values(**values)).rowcount


def _raise_unexpected(session, model, key_col, key, expected):
    row = session.execute(
        sa.select(model).where(getattr(model, key_col) == key)
    ).scalar_one_or_none()
    if row is None:
        raise exception.NotFound(
            '%s %s not found' % (model.__tablename__, key))
    actual = {col: getattr(row, col) for col in expected}
    raise UnexpectedValues(table=model.__tablename__, key=key,
                           expected=expected, actual=actual)


def _cas_update_one(session, model, key_col: str, key, values: dict,
                    expected: dict | None = None):
    """:func:`_cas_update` of one row that must match; the row, detached.

    Raises NotFound, or UnexpectedValues with what the row holds instead.
    """
    if _cas_update(session, model, key_col, key, values, expected) != 1:
        _raise_unexpected(session, model, key_col, key, expected or {})
    row = session.execute(
        sa.select(model).where(getattr(model, key_col) == key)
        .execution_options(populate_existing=True)).scalar_one()
    session.expunge(row)
    return row


# Services

@_retry
def service_update(context, host: str, binary: str, values: dict
                   ) -> models.Service:
    """Create or update a service row; also the heartbeat."""
    with _writer(context) as session:
        row = session.execute(
            sa.select(models.Service).where(
                models.Service.host == host,
                models.Service.binary == binary)).scalar_one_or_none()
        if row is None:
            row = models.Service(host=host, binary=binary)
            session.add(row)
        for k, v in values.items():
            setattr(row, k, v)
        row.last_seen_up = timeutils.utcnow()
        session.flush()
        session.expunge(row)
        return row


def service_get_all(context, binary: str | None = None
                    ) -> list[models.Service]:
    with _reader(context) as session:
        query = sa.select(models.Service)
        if binary:
            query = query.where(models.Service.binary == binary)
        rows = session.execute(query.order_by(models.Service.id)).scalars()
        return list(rows)


def service_get(context, host: str, binary: str) -> models.Service:
    with _reader(context) as session:
        row = session.execute(
            sa.select(models.Service).where(
                models.Service.host == host,
                models.Service.binary == binary)).scalar_one_or_none()
        if row is None:
            raise exception.ComputeHostNotFound(host=host)
        return row


def service_is_up(service: models.Service) -> bool:
    if service.last_seen_up is None:
        return False
    age = timeutils.utcnow() - service.last_seen_up
    return age < datetime.timedelta(seconds=CONF.compute.service_down_time)


# Instances

@_retry
def instance_create(context, values: dict) -> models.Instance:
    with _writer(context) as session:
        row = models.Instance(**values)
        session.add(row)
        session.flush()
        session.expunge(row)
        return row


def instance_get(context, uuid: str, *, check_project: bool = True
                 ) -> models.Instance:
    """An instance; another project's answers 404 to a non-admin."""
    if not _storable_key(uuid):
        raise exception.InstanceNotFound(instance_id=uuid)
    with _reader(context) as session:
        row = session.execute(
            sa.select(models.Instance).where(
                models.Instance.uuid == uuid,
                models.Instance.deleted.is_(False))).scalar_one_or_none()
    if row is None or (check_project
                       and not context.can_see_project(row.project_id)):
        raise exception.InstanceNotFound(instance_id=uuid)
    return row


def instance_get_all(context, *, host: str | None = None,
                     project_id: str | None = None,
                     all_tenants: bool = False) -> list[models.Instance]:
    with _reader(context) as session:
        query = sa.select(models.Instance).where(
            models.Instance.deleted.is_(False))
        if host is not None:
            query = query.where(models.Instance.host == host)
        if not all_tenants or not context.is_admin:
            query = query.where(models.Instance.project_id == (
                project_id or context.project_id))
        elif project_id:
            query = query.where(models.Instance.project_id == project_id)
        return list(session.execute(
            query.order_by(models.Instance.id)).scalars())


@_retry
def instance_update(context, uuid: str, values: dict,
                    expected: dict | None = None) -> models.Instance:
    """Compare-and-swap update of an instance.

    :param expected: column -> value or tuple of values the row must hold
        (e.g. ``{'task_state': None}``); raises UnexpectedValues otherwise.
    """
    with _writer(context) as session:
        return _cas_update_one(session, models.Instance, 'uuid', uuid,
                               values, expected)


@_retry
def instance_destroy(context, uuid: str) -> None:
    with _writer(context) as session:
        _cas_update(session, models.Instance, 'uuid', uuid,
                    {'deleted': True, 'terminated_at': timeutils.utcnow()})
        session.execute(sa.update(models.BlockDeviceMapping).where(
            models.BlockDeviceMapping.instance_uuid == uuid).values(
            deleted=True, updated_at=timeutils.utcnow()))


# Block device mappings

@_retry
def bdm_create(context, values: dict) -> models.BlockDeviceMapping:
    with _writer(context) as session:
        row = models.BlockDeviceMapping(**values)
        session.add(row)
        session.flush()
        session.expunge(row)
        return row


def _bdm_query():
    return sa.select(models.BlockDeviceMapping).where(
        models.BlockDeviceMapping.deleted.is_(False))


def bdm_get_by_attachment(context, attachment_id: str
                          ) -> models.BlockDeviceMapping:
    if not _storable_key(attachment_id):
        raise exception.AttachmentNotFound(attachment_id=attachment_id)
    with _reader(context) as session:
        row = session.execute(_bdm_query().where(
            models.BlockDeviceMapping.attachment_id == attachment_id)
        ).scalars().first()
    if row is None:
        raise exception.AttachmentNotFound(attachment_id=attachment_id)
    return row


def bdm_get_by_volume(context, instance_uuid: str, volume_id: str
                      ) -> models.BlockDeviceMapping:
    if not _storable_key(instance_uuid, volume_id):
        raise exception.VolumeBDMNotFound(volume_id=volume_id,
                                          instance_uuid=instance_uuid)
    with _reader(context) as session:
        row = session.execute(_bdm_query().where(
            models.BlockDeviceMapping.instance_uuid == instance_uuid,
            models.BlockDeviceMapping.volume_id == volume_id)
        ).scalars().first()
    if row is None:
        raise exception.VolumeBDMNotFound(volume_id=volume_id,
                                          instance_uuid=instance_uuid)
    return row


def bdm_get_by_id(context, bdm_id: int) -> models.BlockDeviceMapping:
    with _reader(context) as session:
        row = session.get(models.BlockDeviceMapping, bdm_id)
    if row is None:
        raise exception.NotFound('block device mapping %s not found'
                                 % bdm_id)
    return row


def bdm_get_all_by_instance(context, instance_uuid: str
                            ) -> list[models.BlockDeviceMapping]:
    with _reader(context) as session:
        return list(session.execute(_bdm_query().where(
            models.BlockDeviceMapping.instance_uuid == instance_uuid
        ).order_by(models.BlockDeviceMapping.id)).scalars())


@_retry
def bdm_update(context, bdm_id: int, values: dict,
               expected: dict | None = None) -> models.BlockDeviceMapping:
    with _writer(context) as session:
        return _cas_update_one(session, models.BlockDeviceMapping, 'id',
                               bdm_id, values, expected)


@_retry
def bdm_destroy(context, bdm_id: int) -> None:
    with _writer(context) as session:
        _cas_update(session, models.BlockDeviceMapping, 'id', bdm_id,
                    {'deleted': True})


# Volume migrations

@_retry
def migration_create(context, values: dict) -> models.VolumeMigration:
    """INSERT a record; the unique index allows one active per attachment.

    Raises VolumeMigrationInProgress when another active record of the
    same src attachment exists (a concurrent start won).
    """
    try:
        with _writer(context) as session:
            row = models.VolumeMigration(**values)
            session.add(row)
            session.flush()
            session.expunge(row)
            return row
    except (sa.exc.IntegrityError, db_exc.DBDuplicateEntry):
        raise exception.VolumeMigrationInProgress(
            attachment_id=values.get('src_attachment_id'),
            status=values.get('status'))


def migration_get(context, migration_id: int) -> models.VolumeMigration:
    with _reader(context) as session:
        row = session.get(models.VolumeMigration, migration_id)
    if row is None:
        raise exception.NotFound('volume migration %s not found'
                                 % migration_id)
    return row


def migration_get_latest(context, src_attachment_id: str
                         ) -> models.VolumeMigration:
    """The most recent migration of an attachment (DESIGN 3)."""
    with _reader(context) as session:
        row = session.execute(
            sa.select(models.VolumeMigration).where(
                models.VolumeMigration.src_attachment_id == src_attachment_id
            ).order_by(models.VolumeMigration.id.desc()).limit(1)
        ).scalar_one_or_none()
    if row is None:
        raise exception.VolumeMigrationNotFound(
            attachment_id=src_attachment_id)
    return row


def migration_get_all(context, *, instance_uuid: str | None = None,
                      status: str | None = None,
                      statuses: Iterable[str] | None = None,
                      host: str | None = None,
                      project_id: str | None = None
                      ) -> list[models.VolumeMigration]:
    with _reader(context) as session:
        query = sa.select(models.VolumeMigration)
        if instance_uuid:
            query = query.where(
                models.VolumeMigration.instance_uuid == instance_uuid)
        if status:
            query = query.where(models.VolumeMigration.status == status)
        if statuses:
            query = query.where(
                models.VolumeMigration.status.in_(list(statuses)))
        if host:
            query = query.where(models.VolumeMigration.host == host)
        if project_id:
            query = query.join(
                models.Instance,
                models.Instance.uuid == models.VolumeMigration.instance_uuid
            ).where(models.Instance.project_id == project_id)
        return list(session.execute(
            query.order_by(models.VolumeMigration.id)).scalars())


@_retry
def migration_update(context, migration_id: int, values: dict,
                     expected: dict | None = None,
                     instance_values: dict | None = None,
                     instance_expected: dict | None = None
                     ) -> models.VolumeMigration:
    """Compare-and-swap update of a migration record.

    With ``instance_values``, the migration's instance is updated (a
    compare-and-swap on ``instance_expected``) in the same transaction:
    both change or neither does, so no crash leaves them disagreeing.
    """
    with _writer(context) as session:
        row = _cas_update_one(session, models.VolumeMigration, 'id',
                              migration_id, values, expected)
        if instance_values is not None:
            _cas_update_one(session, models.Instance, 'uuid',
                            row.instance_uuid, instance_values,
                            instance_expected)
        return row


# Instance actions

@_retry
def action_start(context, instance_uuid: str, action: str
                 ) -> models.InstanceAction:
    with _writer(context) as session:
        row = models.InstanceAction(
            action=action, instance_uuid=instance_uuid,
            request_id=context.request_id, user_id=context.user_id,
            project_id=context.project_id, start_time=timeutils.utcnow())
        session.add(row)
        session.flush()
        session.expunge(row)
        return row


def _action_by_request(session, instance_uuid, request_id):
    return session.execute(
        sa.select(models.InstanceAction).where(
            models.InstanceAction.instance_uuid == instance_uuid,
            models.InstanceAction.request_id == request_id
        ).order_by(models.InstanceAction.id.desc()).limit(1)
    ).scalar_one_or_none()


@_retry
def action_finish(context, instance_uuid: str, *, message: str | None = None,
                  request_id: str | None = None) -> None:
    with _writer(context) as session:
        row = _action_by_request(session, instance_uuid,
                                 request_id or context.request_id)
        if row is not None:
            row.finish_time = timeutils.utcnow()
            if message:
                row.message = message[:255]


@_retry
def action_event_start(context, instance_uuid: str, event: str,
                       host: str | None = None,
                       request_id: str | None = None) -> None:
    with _writer(context) as session:
        action = _action_by_request(session, instance_uuid,
                                    request_id or context.request_id)
        if action is None:
            LOG.warning('No action for request %s on instance %s: event %s '
                        'not recorded', request_id or context.request_id,
                        instance_uuid, event)
            return
        session.add(models.InstanceActionEvent(
            action_id=action.id, event=event, host=host,
            start_time=timeutils.utcnow()))


@_retry
def action_event_finish(context, instance_uuid: str, event: str,
                        result: str, traceback: str | None = None,
                        details: str | None = None,
                        request_id: str | None = None) -> None:
    with _writer(context) as session:
        action = _action_by_request(session, instance_uuid,
                                    request_id or context.request_id)
        if action is None:
            return
        ev = session.execute(
            sa.select(models.InstanceActionEvent).where(
                models.InstanceActionEvent.action_id == action.id,
                models.InstanceActionEvent.event == event,
                models.InstanceActionEvent.finish_time.is_(None)
            ).order_by(models.InstanceActionEvent.id.desc()).limit(1)
        ).scalar_one_or_none()
        if ev is None:
            ev = models.InstanceActionEvent(action_id=action.id, event=event,
                                            start_time=timeutils.utcnow())
            session.add(ev)
        ev.finish_time = timeutils.utcnow()
        ev.result = result
        ev.traceback = traceback
        ev.details = details
        if result == 'Error':
            action.message = 'Error'


def actions_get(context, instance_uuid: str) -> list[models.InstanceAction]:
    if not _storable_key(instance_uuid):
        return []
    with _reader(context) as session:
        return list(session.execute(
            sa.select(models.InstanceAction).where(
                models.InstanceAction.instance_uuid == instance_uuid
            ).order_by(models.InstanceAction.id.desc())).scalars())


def action_get_by_request_id(context, instance_uuid: str, request_id: str
                             ) -> tuple[models.InstanceAction,
                                        list[models.InstanceActionEvent]]:
    if not _storable_key(instance_uuid, request_id):
        raise exception.InstanceActionNotFound(
            request_id=request_id, instance_uuid=instance_uuid)
    with _reader(context) as session:
        action = _action_by_request(session, instance_uuid, request_id)
        if action is None:
            raise exception.InstanceActionNotFound(
                request_id=request_id, instance_uuid=instance_uuid)
        events = list(session.execute(
            sa.select(models.InstanceActionEvent).where(
                models.InstanceActionEvent.action_id == action.id
            ).order_by(models.InstanceActionEvent.id)).scalars())
        return action, events


def as_dict(row: Any) -> dict:
    return row.as_dict() if row is not None else None
