"""The compute manager: RPC endpoint of nova-volmig-compute.

It owns every state change of the instances on its host. Each operation
runs under the instance's lock; the volume-migration status machine of
DESIGN 4 is driven here and the hypervisor work is delegated to the virt
driver. An error in any step leaves the migration in status ``error`` with
a message, and the instance's ``task_state`` cleared or left truthfully.
"""

from __future__ import annotations

import functools
import threading
import time
import traceback
from typing import Any, Callable

from oslo_concurrency import lockutils
from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_serialization import jsonutils
from oslo_utils import excutils
from oslo_utils import timeutils

from nova_volmig.compute import detach as compute_detach
from nova_volmig.compute import finish_slots
from nova_volmig.compute import power_state
from nova_volmig.compute import task_states
from nova_volmig.compute import vm_states
from nova_volmig import context as nova_context
from nova_volmig.db import api as db
from nova_volmig.db import models
from nova_volmig import exception
from nova_volmig.i18n import _
from nova_volmig import notifications
from nova_volmig.virt import driver as virt_driver
from nova_volmig.volume import cinder

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

# A complete that switched nothing: the instance is migrating again, in
# the same transaction as its record (db.migration_update).
_BACK_TO_MIGRATING = {
    'instance_values': {'task_state': task_states.VOLUME_MIGRATING},
    'instance_expected': {
        'task_state': task_states.VOLUME_MIGRATION_COMPLETING}}

ReconcileState = virt_driver.ReconcileState


class MigrationHandle:
    """The driver's view of a migration record (VolumeMigrationHandle)."""

    def __init__(self, context, row: models.VolumeMigration,
                 device_name: str):
        self._context = context
        self.id = row.id
        self.instance_uuid = row.instance_uuid
        self.volume_id = row.volume_id
        self.src_attachment_id = row.src_attachment_id
        self.dst_attachment_id = row.dst_attachment_id
        self.src_connection_info = _loads(row.src_connection_info)
        self.dst_connection_info = _loads(row.dst_connection_info)
        self.device_name = device_name
        self.driver_data: dict = _loads(row.driver_data) or {}
        self._lock = threading.Lock()
        self._last_progress_write = 0.0
        self._last_progress: int | None = None

    def save_driver_data(self, **values: Any) -> None:
        with self._lock:
            self.driver_data.update(values)
            db.migration_update(self._context, self.id, {
                'driver_data': jsonutils.dumps(self.driver_data)})

    def set_progress(self, percent: int | None) -> None:
        now = time.monotonic()
        if percent == self._last_progress:
            return
        final = percent is None or percent >= 100
        if (not final and now - self._last_progress_write
                < CONF.compute.progress_update_interval):
            return
        self._last_progress_write = now
        self._last_progress = percent
        db.migration_update(self._context, self.id, {
            'progress': None if percent is None else str(int(percent))})


def _loads(text: str | None):
    return jsonutils.loads(text) if text else None


def _error_text(e: BaseException) -> str:
    if isinstance(e, exception.NovaVolmigException):
        return e.format_message()
    return '%s: %s' % (type(e).__name__, e)


def _as_rpc_error(e: BaseException) -> exception.NovaVolmigException:
    """What crosses RPC: our exceptions as they are, others wrapped."""
    if isinstance(e, exception.NovaVolmigException):
        return e
    return exception.InternalError(err=_error_text(e))


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
                                       details=_error_text(e))
                db.action_finish(context, instance_uuid,
                                 message=_error_text(e))
                raise _as_rpc_error(e) from e
            db.action_event_finish(context, instance_uuid, event, 'Success')
            return result
        return wrapper
    return decorator


class ComputeManager:
    """Manages the instances and volume migrations of one host."""

    target = messaging.Target(version='1.1')

    def __init__(self, host: str | None = None,
                 driver: virt_driver.ComputeDriver | None = None,
                 volume_api: cinder.API | None = None):
        self.host = host or CONF.host
        self.driver = driver or virt_driver.load_compute_driver()
        self.volume_api = volume_api or cinder.API()
        # Daemon threads, not an executor: a finish waiting on a block job
        # must not hold the process past a SIGTERM's grace period (an
        # executor's workers are joined at interpreter exit).
        self._pending: set[threading.Thread] = set()
        self._pending_lock = threading.Lock()
        self._finish_slots = finish_slots.FinishSlots(
            lambda: CONF.compute.max_concurrent_volume_migration_finishes)

    # Service life cycle

    def init_host(self) -> None:
        """Connect the driver, then make every record on this host true."""
        self.driver.init_host(self.host)
        context = nova_context.get_admin_context()
        self._recover_instances(context)
        self._reconcile_volume_migrations(context)

    def cleanup_host(self, wait_seconds: float = 10.0) -> None:
        """Stop: give background work a bounded time to end.

        Work still running after that keeps its records consistent at
        every step; the next start-up's reconciliation resumes it.
        """
        self.wait_for_background(wait_seconds)
        self.driver.cleanup_host(self.host)

    def service_values(self) -> dict:
        caps = self.driver.capabilities
        return {'topic': 'compute',
                'compute_driver': type(self.driver).__name__,
                'supports_live_volume_migration':
                    bool(caps.get('supports_live_volume_migration'))}

    def wait_for_background(self, timeout: float | None = None) -> None:
        """Wait for asynchronous work (tests, graceful stop)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._pending_lock:
            pending = list(self._pending)
        for thread in pending:
            left = (None if deadline is None
                    else max(0.0, deadline - time.monotonic()))
            thread.join(left)

    def _spawn(self, fn: Callable, *args) -> threading.Thread:
        def run():
            try:
                self._run_logged(fn, *args)
            finally:
                with self._pending_lock:
                    self._pending.discard(threading.current_thread())

        thread = threading.Thread(target=run, daemon=True,
                                  name='compute-bg-%s' % fn.__name__)
        with self._pending_lock:
            self._pending.add(thread)
        thread.start()
        return thread

    @staticmethod
    def _run_logged(fn, *args):
        try:
            return fn(*args)
        except Exception:
            LOG.exception('Background task %s failed', fn.__name__)

    @staticmethod
    def _lock(instance_uuid: str):
        return lockutils.lock('instance-%s' % instance_uuid)

    # Helpers

    def _instance(self, context, instance_uuid: str) -> models.Instance:
        return db.instance_get(context, instance_uuid, check_project=False)

    def _block_device_info(self, context, instance_uuid: str) -> list[dict]:
        return [{'connection_info': _loads(b.connection_info),
                 'device_name': b.device_name}
                for b in db.bdm_get_all_by_instance(context, instance_uuid)
                if b.connection_info]

    def _set_instance(self, context, instance_uuid: str, values: dict,
                      expected: dict | None = None) -> models.Instance:
        return db.instance_update(context, instance_uuid, values, expected)

    def _clear_task_state(self, context, instance_uuid: str,
                          expected: str | tuple | None = None,
                          **values) -> None:
        values['task_state'] = None
        exp = {'task_state': expected} if expected is not None else None
        try:
            db.instance_update(context, instance_uuid, values, exp)
        except db.UnexpectedValues:
            LOG.warning('Instance %s: task_state was not %s when clearing '
                        'it', instance_uuid, expected)

    def _power_state(self, instance) -> int:
        try:
            return self.driver.get_power_state(instance)
        except exception.NovaVolmigException:
            return power_state.NOSTATE

    # Instances

    @instance_event('compute_build_and_run_instance')
    def build_and_run_instance(self, context, instance_uuid: str) -> None:
        with self._lock(instance_uuid):
            instance = self._instance(context, instance_uuid)
            try:
                self.driver.spawn(context, instance, [])
            except Exception as e:
                self._set_instance(context, instance_uuid, {
                    'vm_state': vm_states.ERROR, 'task_state': None,
                    'fault': _error_text(e)})
                raise
            self._set_instance(context, instance_uuid, {
                'vm_state': vm_states.ACTIVE, 'task_state': None,
                'power_state': self._power_state(instance),
                'launched_at': timeutils.utcnow()})
            db.action_finish(context, instance_uuid)

    @instance_event('compute_start_instance')
    def start_instance(self, context, instance_uuid: str) -> None:
        with self._lock(instance_uuid):
            instance = self._instance(context, instance_uuid)
            try:
                self.driver.power_on(
                    context, instance,
                    self._block_device_info(context, instance_uuid))
            finally:
                self._clear_task_state(
                    context, instance_uuid, task_states.POWERING_ON,
                    power_state=self._power_state(instance))
            self._set_instance(context, instance_uuid,
                               {'vm_state': vm_states.ACTIVE})
            db.action_finish(context, instance_uuid)

    @instance_event('compute_stop_instance')
    def stop_instance(self, context, instance_uuid: str) -> None:
        with self._lock(instance_uuid):
            instance = self._instance(context, instance_uuid)
            try:
                self.driver.power_off(context, instance)
            finally:
                self._clear_task_state(
                    context, instance_uuid, task_states.POWERING_OFF,
                    power_state=self._power_state(instance))
            self._set_instance(context, instance_uuid,
                               {'vm_state': vm_states.STOPPED})
            db.action_finish(context, instance_uuid)

    @instance_event('compute_terminate_instance')
    def terminate_instance(self, context, instance_uuid: str) -> None:
        with self._lock(instance_uuid):
            instance = self._instance(context, instance_uuid)
            bdms = db.bdm_get_all_by_instance(context, instance_uuid)
            try:
                self.driver.destroy(
                    context, instance,
                    self._block_device_info(context, instance_uuid))
            except Exception as e:
                self._set_instance(context, instance_uuid, {
                    'vm_state': vm_states.ERROR, 'task_state': None,
                    'fault': _error_text(e)})
                raise
            for bdm in bdms:
                if bdm.attachment_id:
                    try:
                        self.volume_api.attachment_delete(
                            context, bdm.attachment_id)
                    except exception.NovaVolmigException as e:
                        LOG.warning('Instance %s deleted; its attachment %s '
                                    'could not be deleted in Cinder: %s',
                                    instance_uuid, bdm.attachment_id, e)
            db.instance_destroy(context, instance_uuid)
            db.action_finish(context, instance_uuid)

    # Volumes

    @instance_event('compute_attach_volume')
    def attach_volume(self, context, instance_uuid: str, bdm_id: int
                      ) -> None:
        with self._lock(instance_uuid):
            instance = self._instance(context, instance_uuid)
            bdm = db.bdm_get_by_id(context, bdm_id)
            attached = False
            try:
                connector = self.driver.get_volume_connector(instance)
                attachment = self.volume_api.attachment_update(
                    context, bdm.attachment_id, connector)
                connection_info = attachment['connection_info']
                self.driver.attach_volume(context, connection_info,
                                          instance, bdm.device_name)
                attached = True
                self.volume_api.attachment_complete(context,
                                                    bdm.attachment_id)
                db.bdm_update(context, bdm.id, {
                    'connection_info': jsonutils.dumps(connection_info),
                    'status': 'attached'})
            except Exception:
                with excutils.save_and_reraise_exception():
                    if attached:
                        self._safe(self.driver.detach_volume, context,
                                   connection_info, instance,
                                   bdm.device_name)
                    self._safe(self.volume_api.attachment_delete, context,
                               bdm.attachment_id)
                    db.bdm_destroy(context, bdm.id)
            finally:
                self._clear_task_state(context, instance_uuid,
                                       task_states.ATTACHING_VOLUME)
            db.action_finish(context, instance_uuid)

    def detach_volume(self, context, instance_uuid: str, bdm_id: int
                      ) -> None:
        """A cast since RPC 1.1: the outcome is an instance action event."""
        compute_detach.detach_volume(self, context, instance_uuid, bdm_id)

    @staticmethod
    def _safe(fn, *args) -> None:
        try:
            fn(*args)
        except Exception:
            LOG.exception('Clean-up step %s failed', fn.__name__)

    @instance_event('compute_swap_volume')
    def swap_volume(self, context, instance_uuid: str, old_volume_id: str,
                    new_volume_id: str) -> None:
        """Legacy swap: full copy by the hypervisor, then Cinder's callback.

        As upstream: attach the new volume, block-copy and pivot, call
        ``os-migrate_volume_completion`` and move the BDM to the volume id
        Cinder keeps; on failure Cinder is told with ``error=True``.
        """
        with self._lock(instance_uuid):
            instance = self._instance(context, instance_uuid)
            bdm = db.bdm_get_by_volume(context, instance_uuid, old_volume_id)
            new_attachment = None
            try:
                connector = self.driver.get_volume_connector(instance)
                new_attachment = self.volume_api.attachment_create(
                    context, new_volume_id, instance_uuid, connector)
                new_ci = new_attachment['connection_info']
                db.bdm_update(context, bdm.id, {'swap_progress': '0'})

                def progress(pct: int) -> None:
                    db.bdm_update(context, bdm.id,
                                  {'swap_progress': str(int(pct))})

                self.driver.swap_volume(
                    context, _loads(bdm.connection_info), new_ci, instance,
                    bdm.device_name, progress)
            except Exception:
                with excutils.save_and_reraise_exception():
                    db.bdm_update(context, bdm.id, {'swap_progress': None})
                    if new_attachment is not None:
                        self._safe(self.volume_api.attachment_delete,
                                   context, new_attachment['id'])
                    self._safe(self.volume_api.migrate_volume_completion,
                               context, old_volume_id, new_volume_id, True)
                    self._clear_task_state(context, instance_uuid,
                                           task_states.SWAPPING_VOLUME)
            try:
                self.volume_api.attachment_complete(context,
                                                    new_attachment['id'])
                save_volume_id = self.volume_api.migrate_volume_completion(
                    context, old_volume_id, new_volume_id, False)
                db.bdm_update(context, bdm.id, {
                    'volume_id': save_volume_id,
                    'attachment_id': new_attachment['id'],
                    'connection_info': jsonutils.dumps(new_ci),
                    'swap_progress': None})
                self.volume_api.attachment_delete(context, bdm.attachment_id)
            finally:
                self._clear_task_state(context, instance_uuid,
                                       task_states.SWAPPING_VOLUME)
            db.action_finish(context, instance_uuid)

    # Volume migration (DESIGN 4 and 5)

    def _handle(self, context, migration: models.VolumeMigration
                ) -> MigrationHandle:
        bdm = self._bdm_of(context, migration)
        return MigrationHandle(context, migration, bdm.device_name)

    def _bdm_of(self, context, migration) -> models.BlockDeviceMapping:
        """The BDM of a migration, before or after its switch to dst."""
        try:
            return db.bdm_get_by_attachment(context,
                                            migration.src_attachment_id)
        except exception.AttachmentNotFound:
            if not migration.dst_attachment_id:
                raise
            return db.bdm_get_by_attachment(context,
                                            migration.dst_attachment_id)

    def _migration_failed(self, context, instance, migration_id: int,
                          action: str, error: BaseException,
                          clear_task_state: bool = True) -> None:
        LOG.error('Volume migration %s of instance %s failed during %s: %s',
                  migration_id, instance.uuid, action, _error_text(error))
        migration = db.migration_update(context, migration_id, {
            'status': 'error', 'error': _error_text(error),
            'progress': None})
        if clear_task_state:
            self._clear_task_state(context, instance.uuid,
                                   task_states.VOLUME_MIGRATION_STATES)
        notifications.notify_volume_migration(
            context, self._instance(context, instance.uuid), migration,
            action, 'error', fault=_error_text(error))

    @staticmethod
    def _past(deadline: str | None) -> bool:
        if not deadline:
            return False
        return timeutils.utcnow() > timeutils.parse_isotime(
            deadline).replace(tzinfo=None)

    @instance_event('compute_volume_migration_start')
    def volume_migration_start(self, context, instance_uuid: str,
                               migration_id: int,
                               deadline: str | None = None) -> None:
        """Redirect writes away from src; return once none reach it."""
        with self._lock(instance_uuid):
            instance = self._instance(context, instance_uuid)
            migration = db.migration_get(context, migration_id)
            # The API may have given up on this start before it reached us.
            self._refuse_stale(migration, 'start', 'starting')
            notifications.notify_volume_migration(
                context, instance, migration, 'start', 'start')
            try:
                running = (self.driver.get_power_state(instance)
                           == power_state.RUNNING)
                if (running and not self.driver.capabilities.get(
                        'supports_live_volume_migration')):
                    raise exception.VolumeMigrationUnsupported(
                        instance_uuid=instance_uuid,
                        reason=_('it is running and its hypervisor has no '
                                 'live storage migration; stop it first'))
                migration = db.migration_update(
                    context, migration_id, {'was_running': running})
                handle = self._handle(context, migration)
                self.driver.volume_migration_start(context, instance, handle)
            except Exception as e:
                self._migration_failed(context, instance, migration_id,
                                       'start', e)
                raise
            try:
                if self._past(deadline):
                    raise exception.VolumeMigrationFailed(
                        attachment_id=migration.src_attachment_id,
                        reason=_('start finished after the API stopped '
                                 'waiting; writes were put back on src'))
                migration = db.migration_update(
                    context, migration_id, {'status': 'running'},
                    {'status': 'starting'})
            except (exception.VolumeMigrationFailed,
                    db.UnexpectedValues) as e:
                # Nobody will copy or complete: undo the redirection.
                self._undo_start(context, instance, handle, e)
                raise exception.VolumeMigrationFailed(
                    attachment_id=migration.src_attachment_id,
                    reason=_error_text(e))
            notifications.notify_volume_migration(
                context, instance, migration, 'start', 'end')
            db.action_finish(context, instance_uuid)

    def _undo_start(self, context, instance, handle, error) -> None:
        try:
            self.driver.volume_migration_cancel(context, instance, handle)
            self.driver.volume_migration_cancel_finish(context, instance,
                                                       handle)
        except Exception as e:
            LOG.exception('Could not undo start of migration %s', handle.id)
            error = e
        self._migration_failed(context, instance, handle.id, 'start', error)

    @instance_event('compute_volume_migration_complete')
    def volume_migration_complete(self, context, instance_uuid: str,
                                  migration_id: int,
                                  deadline: str | None = None) -> None:
        """Switch to dst; return once src may be released.

        The rest runs in the background (``_complete_finish``).
        """
        with self._lock(instance_uuid):
            instance = self._instance(context, instance_uuid)
            migration = db.migration_get(context, migration_id)
            self._refuse_stale(migration, 'complete', 'completing')
            if self._past(deadline):
                self._expire_complete(context, instance, migration)
            migration = self._claim_complete(context, migration)
            notifications.notify_volume_migration(
                context, instance, migration, 'complete', 'start')
            try:
                if not migration.dst_connection_info:
                    migration = self._fetch_dst_connection_info(
                        context, instance, migration)
                handle = self._handle(context, migration)
                self.driver.volume_migration_complete(context, instance,
                                                      handle)
            except Exception as e:
                self._complete_sync_failed(context, instance, migration, e)
                raise
            self._switch_bdm_to_dst(context, migration)
            self._spawn(self._complete_finish, context, instance_uuid,
                        migration_id)

    @staticmethod
    def _refuse_stale(migration, action: str, expected: str) -> None:
        """A message older than the record's state changes nothing.

        A broker keeps a call or cast until it is consumed: after a
        restart, reconciliation may already have moved the record on.
        """
        if migration.status != expected:
            raise exception.VolumeMigrationInvalidState(
                action=action, attachment_id=migration.src_attachment_id,
                status=migration.status, expected=expected)

    def _claim_complete(self, context, migration):
        """Take the complete before switching anything (compare-and-swap).

        The API undoes a complete it stopped waiting for only while no
        host has claimed it: one of the two wins.
        """
        try:
            return db.migration_update(
                context, migration.id, {'claimed_by': self.host},
                {'status': 'completing', 'claimed_by': None})
        except db.UnexpectedValues:
            current = db.migration_get(context, migration.id)
            raise exception.VolumeMigrationInvalidState(
                action='complete', attachment_id=migration.src_attachment_id,
                status='%s (claimed by %s)' % (current.status,
                                               current.claimed_by),
                expected='completing, unclaimed')

    def _expire_complete(self, context, instance, migration) -> None:
        """The API stopped waiting before we began: switch nothing.

        The caller got a 409; the record goes back to ``running`` so it
        may call complete again or cancel.
        """
        try:
            db.migration_update(context, migration.id, {
                'status': 'running',
                'error': _('complete reached compute host %s after the API '
                           'stopped waiting; nothing was changed: call '
                           'complete again or cancel') % self.host},
                {'status': 'completing', 'claimed_by': None},
                **_BACK_TO_MIGRATING)
        except db.UnexpectedValues:
            # The API put it back to running first.
            self._refuse_stale(db.migration_get(context, migration.id),
                               'complete', 'completing')
            raise
        raise exception.VolumeMigrationFailed(
            attachment_id=migration.src_attachment_id,
            reason=_('complete arrived after its deadline; nothing was '
                     'changed'))

    def _fetch_dst_connection_info(self, context, instance, migration):
        connector = self.driver.get_volume_connector(instance)
        attachment = self.volume_api.attachment_update(
            context, migration.dst_attachment_id, connector)
        return db.migration_update(context, migration.id, {
            'dst_connection_info': jsonutils.dumps(
                attachment['connection_info'])})

    def _complete_sync_failed(self, context, instance, migration, error
                              ) -> None:
        """Where did the failed switch leave the guest? Be truthful."""
        try:
            handle = self._handle(context,
                                  db.migration_get(context, migration.id))
            state = self.driver.volume_migration_reconcile(context, instance,
                                                           handle)
        except Exception:
            LOG.exception('Could not tell where migration %s stands',
                          migration.id)
            self._migration_failed(context, instance, migration.id,
                                   'complete', error)
            return
        if state in (ReconcileState.ON_SRC, ReconcileState.OVERLAY_ON_SRC):
            # src still holds (or is still redirected for) the guest:
            # Cinder may call complete again or cancel.
            db.migration_update(context, migration.id, {
                'status': 'running', 'error': _error_text(error),
                'claimed_by': None},
                {'status': 'completing'}, **_BACK_TO_MIGRATING)
            notifications.notify_volume_migration(
                context, instance, migration, 'complete', 'error',
                fault=_error_text(error))
        else:
            LOG.warning('Migration %s: complete raised %s but the guest is '
                        'already on dst; finishing', migration.id, error)
            self._switch_bdm_to_dst(context, migration)
            self._spawn(self._complete_finish, context, instance.uuid,
                        migration.id)
            raise exception.VolumeMigrationFailed(
                attachment_id=migration.src_attachment_id,
                reason=_('switched to dst despite an error (%s); src may be '
                         'released') % _error_text(error))

    def _switch_bdm_to_dst(self, context, migration) -> None:
        migration = db.migration_get(context, migration.id)
        try:
            bdm = db.bdm_get_by_attachment(context,
                                           migration.src_attachment_id)
        except exception.AttachmentNotFound:
            return  # already switched
        db.bdm_update(context, bdm.id, {
            'attachment_id': migration.dst_attachment_id,
            'connection_info': migration.dst_connection_info})

    def _complete_finish(self, context, instance_uuid: str,
                         migration_id: int) -> None:
        # On failure the guest runs on dst (with a local layer left over):
        # consistent, and src is no longer used.
        with self._finish_slots.slot(migration_id):
            self._finish(context, instance_uuid, migration_id, 'complete',
                         self.driver.volume_migration_complete_finish,
                         'completing', 'completed',
                         task_states.VOLUME_MIGRATION_COMPLETING)

    def _finish(self, context, instance_uuid: str, migration_id: int,
                action: str, driver_step: Callable, status_from: str,
                status_to: str, task_state: str) -> None:
        """The asynchronous part of complete or cancel, in the background.

        Records its own instance-action event under the request that
        asked for it, and ends the migration ``status_to`` (or ``error``).
        """
        event = 'compute_volume_migration_%s_finish' % action
        with self._lock(instance_uuid):
            instance = self._instance(context, instance_uuid)
            migration = db.migration_get(context, migration_id)
            db.action_event_start(context, instance_uuid, event,
                                  host=self.host)
            try:
                driver_step(context, instance,
                            self._handle(context, migration))
            except Exception as e:
                db.action_event_finish(context, instance_uuid, event,
                                       'Error', traceback.format_exc(),
                                       _error_text(e))
                self._migration_failed(context, instance, migration_id,
                                       action, e)
                db.action_finish(context, instance_uuid,
                                 message=_error_text(e))
                return
            migration = db.migration_update(
                context, migration_id,
                {'status': status_to, 'progress': None},
                {'status': status_from})
            self._clear_task_state(context, instance_uuid, task_state)
            db.action_event_finish(context, instance_uuid, event, 'Success')
            db.action_finish(context, instance_uuid)
            notifications.notify_volume_migration(
                context, self._instance(context, instance_uuid), migration,
                action, 'end')

    @instance_event('compute_volume_migration_cancel')
    def volume_migration_cancel(self, context, instance_uuid: str,
                                migration_id: int) -> None:
        with self._lock(instance_uuid):
            instance = self._instance(context, instance_uuid)
            migration = db.migration_get(context, migration_id)
            self._refuse_stale(migration, 'cancel', 'cancelling')
            notifications.notify_volume_migration(
                context, instance, migration, 'cancel', 'start')
            try:
                self.driver.volume_migration_cancel(
                    context, instance, self._handle(context, migration))
            except Exception as e:
                self._migration_failed(context, instance, migration_id,
                                       'cancel', e)
                raise
        self._spawn(self._cancel_finish, context, instance_uuid,
                    migration_id)

    def _cancel_finish(self, context, instance_uuid: str,
                       migration_id: int) -> None:
        # On failure the guest keeps writing to the overlay over src.
        with self._finish_slots.slot(migration_id):
            self._finish(context, instance_uuid, migration_id, 'cancel',
                         self.driver.volume_migration_cancel_finish,
                         'cancelling', 'cancelled',
                         task_states.VOLUME_MIGRATION_CANCELLING)

    # Start-up reconciliation (DESIGN 6, invariant 5)

    def _recover_instances(self, context) -> None:
        """Settle instance task states an interrupted service left set."""
        for instance in db.instance_get_all(context, host=self.host,
                                            all_tenants=True):
            task = instance.task_state
            if task is None or task in task_states.VOLUME_MIGRATION_STATES:
                continue
            if task == task_states.SPAWNING:
                LOG.warning('Instance %s was spawning when the service '
                            'stopped; setting it to error', instance.uuid)
                self._set_instance(context, instance.uuid, {
                    'vm_state': vm_states.ERROR, 'task_state': None,
                    'fault': _('interrupted while spawning')})
                continue
            LOG.warning('Instance %s: clearing task_state %s left by an '
                        'interrupted service', instance.uuid, task)
            if task == task_states.SWAPPING_VOLUME:
                for bdm in db.bdm_get_all_by_instance(context,
                                                      instance.uuid):
                    if bdm.swap_progress is not None:
                        db.bdm_update(context, bdm.id,
                                      {'swap_progress': None})
            power = self._power_state(instance)
            self._set_instance(context, instance.uuid, {
                'task_state': None, 'power_state': power,
                'vm_state': (vm_states.ACTIVE
                             if power == power_state.RUNNING
                             else vm_states.STOPPED)})

    def _reconcile_volume_migrations(self, context) -> None:
        migrations = db.migration_get_all(
            context, host=self.host,
            statuses=db.ACTIVE_MIGRATION_STATUSES)
        for migration in migrations:
            try:
                self._reconcile_one(context, migration)
            except Exception as e:
                LOG.exception('Reconciliation of volume migration %s failed',
                              migration.id)
                instance = self._instance(context, migration.instance_uuid)
                self._migration_failed(
                    context, instance, migration.id, 'reconcile', e,
                    clear_task_state=False)

    def _reconcile_one(self, context, migration) -> None:
        instance = self._instance(context, migration.instance_uuid)
        handle = self._handle(context, migration)
        with self._lock(instance.uuid):
            state = self.driver.volume_migration_reconcile(context, instance,
                                                           handle)
        LOG.info('Volume migration %s (%s) of instance %s: hypervisor says '
                 '%s', migration.id, migration.status, instance.uuid,
                 state.value)
        status = migration.status
        on_src = (ReconcileState.ON_SRC, ReconcileState.OVERLAY_ON_SRC)
        if status == 'starting':
            # The API never got a confirmation: nobody copies or completes.
            error = exception.VolumeMigrationFailed(
                attachment_id=migration.src_attachment_id,
                reason=_('the compute service stopped during start'))
            if state == ReconcileState.OVERLAY_ON_SRC:
                with self._lock(instance.uuid):
                    self._undo_start(context, instance, handle, error)
            else:
                self._migration_failed(context, instance, migration.id,
                                       'start', error)
        elif status == 'running':
            if state not in on_src:
                raise exception.VolumeMigrationFailed(
                    attachment_id=migration.src_attachment_id,
                    reason=_('the guest left src while the migration was '
                             'running (%s)') % state.value)
        elif status == 'completing':
            if state in on_src:
                db.migration_update(context, migration.id, {
                    'status': 'running', 'claimed_by': None,
                    'error': _('complete was interrupted before the switch '
                               'to dst; call complete again or cancel')},
                    {'status': 'completing'},
                    instance_values={
                        'task_state': task_states.VOLUME_MIGRATING})
            else:
                self._switch_bdm_to_dst(context, migration)
                self._spawn(self._complete_finish, context, instance.uuid,
                            migration.id)
        elif status == 'cancelling':
            if state in on_src:
                self._spawn(self._cancel_finish, context, instance.uuid,
                            migration.id)
            else:
                raise exception.VolumeMigrationFailed(
                    attachment_id=migration.src_attachment_id,
                    reason=_('cancel found the guest on dst (%s)')
                    % state.value)
