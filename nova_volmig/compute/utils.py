"""Helpers the compute manager's parts share.

Error texts as records and RPC show them, the instance-action event
around an RPC method, the per-instance lock and the task-state release.
"""

from __future__ import annotations

import functools
import traceback

from oslo_concurrency import lockutils
from oslo_log import log as logging

from nova_volmig.compute import task_states
from nova_volmig.db import api as db
from nova_volmig import exception
from nova_volmig.objects import fields

LOG = logging.getLogger(__name__)


def error_text(e: BaseException) -> str:
    if isinstance(e, exception.NovaVolmigException):
        return e.format_message()
    return '%s: %s' % (type(e).__name__, e)


def as_rpc_error(e: BaseException) -> exception.NovaVolmigException:
    """What crosses RPC: our exceptions as they are, others wrapped."""
    if isinstance(e, exception.NovaVolmigException):
        return e
    return exception.InternalError(err=error_text(e))


def instance_event(event: str):
    """Record an instance action event around an RPC method."""

    def decorator(f):
        @functools.wraps(f)
        def wrapper(self, context, instance_uuid, *args, **kwargs):
            db.action_event_start(context, instance_uuid, event,
                                  host=self.host)
            try:
                result = f(self, context, instance_uuid, *args, **kwargs)
            except Exception as e:
                db.action_event_finish(context, instance_uuid, event,
                                       'Error',
                                       traceback=traceback.format_exc(),
                                       details=error_text(e))
                db.action_finish(context, instance_uuid,
                                 message=error_text(e))
                raise as_rpc_error(e) from e
            db.action_event_finish(context, instance_uuid, event, 'Success')
            return result
        return wrapper
    return decorator


def instance_lock(instance_uuid: str):
    """The lock every operation on one instance runs under."""
    return lockutils.lock('instance-%s' % instance_uuid)


def clear_task_state(context, instance_uuid: str,
                     expected: str | tuple | None = None, **values) -> None:
    """Release the instance's task state (compare-and-swap on ``expected``).

    A task state that changed meanwhile is left alone and logged.
    """
    values['task_state'] = None
    exp = {'task_state': expected} if expected is not None else None
    try:
        db.instance_update(context, instance_uuid, values, exp)
    except db.UnexpectedValues:
        LOG.warning('Instance %s: task_state was not %s when clearing '
                    'it', instance_uuid, expected)


def safe(fn, *args) -> None:
    """Run a clean-up step; log its failure instead of raising it."""
    try:
        fn(*args)
    except Exception:
        LOG.exception('Clean-up step %s failed', fn.__name__)


def volume_migration_task_state(context, instance_uuid: str) -> str | None:
    """The task state the instance's active migrations call for.

    Several volumes of one instance may migrate at once: the instance is
    ``volume_migrating`` while any of them starts or runs, else
    completing or cancelling while any finishes, else nothing.
    """
    status = fields.VolumeMigrationStatus
    active = {m.status for m in db.migration_get_all(
        context, instance_uuid=instance_uuid, statuses=status.ACTIVE)}
    if active & {status.STARTING, status.RUNNING}:
        return task_states.VOLUME_MIGRATING
    if status.COMPLETING in active:
        return task_states.VOLUME_MIGRATION_COMPLETING
    if status.CANCELLING in active:
        return task_states.VOLUME_MIGRATION_CANCELLING
    return None


def settle_volume_migration_task_state(context, instance_uuid: str) -> None:
    """Set the task state the active migrations call for (after a change).

    Each caller changes its own record first, so the last one to settle
    sees every record as it ends up. A task state other than a volume
    migration's is left alone.
    """
    values = {'task_state': volume_migration_task_state(context,
                                                        instance_uuid)}
    try:
        db.instance_update(context, instance_uuid, values, {
            'task_state': task_states.VOLUME_MIGRATION_STATES})
    except db.UnexpectedValues:
        LOG.warning('Instance %s: task_state is no longer a volume '
                    'migration\'s; left alone', instance_uuid)
