"""The compute manager: RPC endpoint of nova-volmig-compute.

It owns every state change of the instances on its host. Each operation
runs under the instance's lock; the volume-migration status machine of
DESIGN 4 is driven here, through the transitions of
:class:`nova_volmig.objects.volume_migration.VolumeMigration`, and the
hypervisor work is delegated to the virt driver. An error in any step
leaves the migration in status ``error`` with a message, and the
instance's ``task_state`` cleared or left truthfully.

Its parts, one module each: ``detach`` (asynchronous detach), ``swap``
(legacy swap_volume), ``migration_finish`` (the background finish of
complete and cancel) and ``reconcile`` (start-up reconciliation).
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_utils import excutils
from oslo_utils import timeutils

from nova_volmig.compute import detach as compute_detach
from nova_volmig.compute import finish_queue
from nova_volmig.compute import migration_finish
from nova_volmig.compute import power_state
from nova_volmig.compute import reconcile
from nova_volmig.compute import swap
from nova_volmig.compute import task_states
from nova_volmig.compute import utils as compute_utils
from nova_volmig.compute import vm_states
from nova_volmig import context as nova_context
from nova_volmig.db import api as db
from nova_volmig.db import models
from nova_volmig import exception
from nova_volmig.i18n import _
from nova_volmig import notifications
from nova_volmig.objects import fields
from nova_volmig.objects import volume_migration as vm_obj
from nova_volmig.virt import driver as virt_driver
from nova_volmig.volume import cinder

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

Status = fields.VolumeMigrationStatus
VolumeMigration = vm_obj.VolumeMigration
ReconcileState = virt_driver.ReconcileState
SERVER_DELETED = reconcile.SERVER_DELETED


class ComputeManager(compute_detach.DetachMixin, swap.SwapVolumeMixin,
                     migration_finish.MigrationFinishMixin,
                     reconcile.ReconcileMixin):
    """Manages the instances and volume migrations of one host.

    The RPC endpoint: its public methods (with those of its parts, one
    module each: detach, legacy swap, the background finish of a volume
    migration, start-up reconciliation) are the compute RPC API.
    """

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
        self._finish_queue = finish_queue.FinishQueue(
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

    # Helpers

    def _instance(self, context, instance_uuid: str) -> models.Instance:
        return db.instance_get(context, instance_uuid, check_project=False)

    def _block_device_info(self, context, instance_uuid: str) -> list[dict]:
        return [{'connection_info': b.connection_info,
                 'device_name': b.device_name, 'volume_id': b.volume_id}
                for b in db.bdm_get_all_by_instance(context, instance_uuid)
                if b.connection_info]

    def _set_instance(self, context, instance_uuid: str, values: dict,
                      expected: dict | None = None) -> models.Instance:
        return db.instance_update(context, instance_uuid, values, expected)

    def _power_state(self, instance) -> int:
        try:
            return self.driver.get_power_state(instance)
        except exception.NovaVolmigException:
            return power_state.NOSTATE

    # Instances

    @compute_utils.instance_event('compute_build_and_run_instance')
    def build_and_run_instance(self, context, instance_uuid: str) -> None:
        with compute_utils.instance_lock(instance_uuid):
            instance = self._instance(context, instance_uuid)
            try:
                self.driver.spawn(context, instance, [])
            except Exception as e:
                self._set_instance(context, instance_uuid, {
                    'vm_state': vm_states.ERROR, 'task_state': None,
                    'fault': compute_utils.error_text(e)})
                raise
            self._set_instance(context, instance_uuid, {
                'vm_state': vm_states.ACTIVE, 'task_state': None,
                'power_state': self._power_state(instance),
                'launched_at': timeutils.utcnow()})
            db.action_finish(context, instance_uuid)

    @compute_utils.instance_event('compute_start_instance')
    def start_instance(self, context, instance_uuid: str) -> None:
        with compute_utils.instance_lock(instance_uuid):
            instance = self._instance(context, instance_uuid)
            try:
                self.driver.power_on(
                    context, instance,
                    self._block_device_info(context, instance_uuid))
            finally:
                compute_utils.clear_task_state(
                    context, instance_uuid, task_states.POWERING_ON,
                    power_state=self._power_state(instance))
            self._set_instance(context, instance_uuid,
                               {'vm_state': vm_states.ACTIVE})
            db.action_finish(context, instance_uuid)

    @compute_utils.instance_event('compute_stop_instance')
    def stop_instance(self, context, instance_uuid: str) -> None:
        with compute_utils.instance_lock(instance_uuid):
            instance = self._instance(context, instance_uuid)
            try:
                self.driver.power_off(context, instance)
            finally:
                compute_utils.clear_task_state(
                    context, instance_uuid, task_states.POWERING_OFF,
                    power_state=self._power_state(instance))
            self._set_instance(context, instance_uuid,
                               {'vm_state': vm_states.STOPPED})
            db.action_finish(context, instance_uuid)

    @compute_utils.instance_event('compute_terminate_instance')
    def terminate_instance(self, context, instance_uuid: str) -> None:
        with compute_utils.instance_lock(instance_uuid):
            instance = self._instance(context, instance_uuid)
            bdms = db.bdm_get_all_by_instance(context, instance_uuid)
            self._end_migrations_of_deleted(context, instance)
            try:
                self.driver.destroy(
                    context, instance,
                    self._block_device_info(context, instance_uuid))
            except Exception as e:
                self._set_instance(context, instance_uuid, {
                    'vm_state': vm_states.ERROR, 'task_state': None,
                    'fault': compute_utils.error_text(e)})
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

    def _end_migrations_of_deleted(self, context, instance) -> None:
        """Server delete: end its active volume migrations first.

        A migration past start has its writes put back on src (cancel's
        driver calls) so the volume keeps them; each record ends in
        ``error`` "server deleted" and nothing reconciles it again. The
        driver's destroy removes the overlays.
        """
        for migration in VolumeMigration.list(
                context, instance_uuid=instance.uuid,
                statuses=Status.ACTIVE):
            if migration.status in (Status.STARTING, Status.RUNNING):
                try:
                    self.driver.volume_migration_cancel(context, instance,
                                                        migration)
                    self.driver.volume_migration_cancel_finish(
                        context, instance, migration)
                except Exception:
                    LOG.exception('Server %s deleted: could not put the '
                                  'writes of migration %s back on src',
                                  instance.uuid, migration.id)
            LOG.warning('Server %s deleted while its volume migration %s '
                        'was %s', instance.uuid, migration.id,
                        migration.status)
            migration.fail(SERVER_DELETED)

    # Volumes

    @compute_utils.instance_event('compute_attach_volume')
    def attach_volume(self, context, instance_uuid: str, bdm_id: int
                      ) -> None:
        with compute_utils.instance_lock(instance_uuid):
            instance = self._instance(context, instance_uuid)
            bdm = db.bdm_get_by_id(context, bdm_id)
            attached = False
            try:
                connector = self.driver.get_volume_connector(instance)
                attachment = self.volume_api.attachment_update(
                    context, bdm.attachment_id, connector)
                # As Nova's DriverVolumeBlockDevice: the disk's serial.
                connection_info = dict(attachment['connection_info'],
                                       serial=bdm.volume_id)
                self.driver.attach_volume(context, connection_info,
                                          instance, bdm.device_name)
                attached = True
                self.volume_api.attachment_complete(context,
                                                    bdm.attachment_id)
                db.bdm_update(context, bdm.id, {
                    'connection_info': connection_info,
                    'status': 'attached'})
            except Exception:
                with excutils.save_and_reraise_exception():
                    if attached:
                        compute_utils.safe(self.driver.detach_volume,
                                           context, connection_info,
                                           instance, bdm.device_name)
                    compute_utils.safe(self.volume_api.attachment_delete,
                                       context, bdm.attachment_id)
                    db.bdm_destroy(context, bdm.id)
            finally:
                compute_utils.clear_task_state(
                    context, instance_uuid, task_states.ATTACHING_VOLUME)
            db.action_finish(context, instance_uuid)

    # Volume migration (DESIGN 4 and 5)

    def _migration_failed(self, context, instance,
                          migration: VolumeMigration, action: str,
                          error: BaseException,
                          clear_task_state: bool = True) -> None:
        reason = compute_utils.error_text(error)
        LOG.error('Volume migration %s of instance %s failed during %s: %s',
                  migration.id, instance.uuid, action, reason)
        migration.fail(reason)
        if clear_task_state:
            compute_utils.settle_volume_migration_task_state(context,
                                                             instance.uuid)
        notifications.notify_volume_migration(
            context, self._instance(context, instance.uuid), migration,
            action, 'error', fault=reason)

    @staticmethod
    def _past(deadline: str | None) -> bool:
        if not deadline:
            return False
        return timeutils.utcnow() > timeutils.parse_isotime(
            deadline).replace(tzinfo=None)

    @compute_utils.instance_event('compute_volume_migration_start')
    def volume_migration_start(self, context, instance_uuid: str,
                               migration_id: int,
                               deadline: str | None = None) -> None:
        """Redirect writes away from src; return once none reach it."""
        with compute_utils.instance_lock(instance_uuid):
            instance = self._instance(context, instance_uuid)
            migration = VolumeMigration.get_by_id(context, migration_id)
            # The API may have given up on this start before it reached us.
            self._refuse_stale(migration, 'start', Status.STARTING)
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
                migration.record_power_state(running)
                self.driver.volume_migration_start(context, instance,
                                                   migration)
            except Exception as e:
                self._migration_failed(context, instance, migration,
                                       'start', e)
                raise
            try:
                if self._past(deadline):
                    raise exception.VolumeMigrationFailed(
                        attachment_id=migration.src_attachment_id,
                        reason=_('start finished after the API stopped '
                                 'waiting; writes were put back on src'))
                migration.mark_running()
            except (exception.VolumeMigrationFailed,
                    exception.VolumeMigrationInvalidState) as e:
                # Nobody will copy or complete: undo the redirection.
                self._undo_start(context, instance, migration, e)
                raise exception.VolumeMigrationFailed(
                    attachment_id=migration.src_attachment_id,
                    reason=compute_utils.error_text(e))
            notifications.notify_volume_migration(
                context, instance, migration, 'start', 'end')
            db.action_finish(context, instance_uuid)

    def _undo_start(self, context, instance, migration: VolumeMigration,
                    error) -> None:
        try:
            self.driver.volume_migration_cancel(context, instance, migration)
            self.driver.volume_migration_cancel_finish(context, instance,
                                                       migration)
        except Exception as e:
            LOG.exception('Could not undo start of migration %s',
                          migration.id)
            error = e
        self._migration_failed(context, instance, migration, 'start', error)

    @compute_utils.instance_event('compute_volume_migration_complete')
    def volume_migration_complete(self, context, instance_uuid: str,
                                  migration_id: int,
                                  deadline: str | None = None) -> None:
        """Switch to dst; return once src may be released.

        The rest runs in the background (``_complete_finish``).
        """
        with compute_utils.instance_lock(instance_uuid):
            instance = self._instance(context, instance_uuid)
            migration = VolumeMigration.get_by_id(context, migration_id)
            self._refuse_stale(migration, 'complete', Status.COMPLETING)
            if self._past(deadline):
                self._expire_complete(context, instance, migration)
            migration.claim_complete(self.host)
            notifications.notify_volume_migration(
                context, instance, migration, 'complete', 'start')
            try:
                if not migration.dst_connection_info:
                    migration.set_dst_connection_info(
                        self._dst_connection_info(context, instance,
                                                  migration))
                self.driver.volume_migration_complete(context, instance,
                                                      migration)
            except Exception as e:
                self._complete_sync_failed(context, instance, migration, e)
                raise
            self._switch_bdm_to_dst(context, migration)
            self._queue_finish(self._complete_finish, context,
                               instance_uuid, migration_id)

    @staticmethod
    def _refuse_stale(migration: VolumeMigration, action: str,
                      expected: str) -> None:
        """A message older than the record's state changes nothing.

        A broker keeps a call or cast until it is consumed: after a
        restart, reconciliation may already have moved the record on.
        """
        if migration.status != expected:
            raise exception.VolumeMigrationInvalidState(
                action=action, attachment_id=migration.src_attachment_id,
                status=migration.status, expected=expected)

    def _expire_complete(self, context, instance,
                         migration: VolumeMigration) -> None:
        """The API stopped waiting before we began: switch nothing.

        The caller got a 409; the record goes back to ``running`` so it
        may call complete again or cancel.
        """
        try:
            migration.complete_not_taken(
                _('complete reached compute host %s after the API stopped '
                  'waiting; nothing was changed: call complete again or '
                  'cancel') % self.host)
        except exception.VolumeMigrationInvalidState:
            # The API put it back to running first.
            self._refuse_stale(migration.refresh(), 'complete',
                               Status.COMPLETING)
            raise
        raise exception.VolumeMigrationFailed(
            attachment_id=migration.src_attachment_id,
            reason=_('complete arrived after its deadline; nothing was '
                     'changed'))

    def _dst_connection_info(self, context, instance,
                             migration: VolumeMigration) -> dict:
        """dst's connection_info when the API handed on none.

        Cinder's (``GET /attachments/{id}``) if it has one by now, else
        dst is connected for this host here (``PUT /attachments/{id}``).
        """
        attachment = self.volume_api.attachment_get(
            context, migration.dst_attachment_id)
        if attachment.get('connection_info'):
            return attachment['connection_info']
        connector = self.driver.get_volume_connector(instance)
        return self.volume_api.attachment_update(
            context, migration.dst_attachment_id,
            connector)['connection_info']

    def _complete_sync_failed(self, context, instance,
                              migration: VolumeMigration, error) -> None:
        """Where did the failed switch leave the guest? Be truthful."""
        try:
            state = self.driver.volume_migration_reconcile(
                context, instance, migration.refresh())
        except Exception:
            LOG.exception('Could not tell where migration %s stands',
                          migration.id)
            self._migration_failed(context, instance, migration,
                                   'complete', error)
            return
        if state in (ReconcileState.ON_SRC, ReconcileState.OVERLAY_ON_SRC):
            # src still holds (or is still redirected for) the guest:
            # Cinder may call complete again or cancel.
            migration.complete_undone(compute_utils.error_text(error))
            notifications.notify_volume_migration(
                context, instance, migration, 'complete', 'error',
                fault=compute_utils.error_text(error))
        else:
            LOG.warning('Migration %s: complete raised %s but the guest is '
                        'already on dst; finishing', migration.id, error)
            self._switch_bdm_to_dst(context, migration)
            self._queue_finish(self._complete_finish, context,
                               instance.uuid, migration.id)
            raise exception.VolumeMigrationFailed(
                attachment_id=migration.src_attachment_id,
                reason=_('switched to dst despite an error (%s); src may be '
                         'released') % compute_utils.error_text(error))

    @compute_utils.instance_event('compute_volume_migration_cancel')
    def volume_migration_cancel(self, context, instance_uuid: str,
                                migration_id: int) -> None:
        with compute_utils.instance_lock(instance_uuid):
            instance = self._instance(context, instance_uuid)
            migration = VolumeMigration.get_by_id(context, migration_id)
            self._refuse_stale(migration, 'cancel', Status.CANCELLING)
            notifications.notify_volume_migration(
                context, instance, migration, 'cancel', 'start')
            try:
                self.driver.volume_migration_cancel(context, instance,
                                                    migration)
            except Exception as e:
                self._migration_failed(context, instance, migration,
                                       'cancel', e)
                raise
        self._queue_finish(self._cancel_finish, context, instance_uuid,
                           migration_id)
