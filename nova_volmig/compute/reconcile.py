"""Start-up reconciliation of the compute host (DESIGN 6, invariant 5).

Before RPC is served, every instance task state an interrupted service
left set is settled, and every active volume migration of this host is
mapped onto where the hypervisor says it stands: finished, undone or put
back to ``running``.
"""

from __future__ import annotations

from oslo_log import log as logging

from nova_volmig.compute import power_state
from nova_volmig.compute import task_states
from nova_volmig.compute import utils as compute_utils
from nova_volmig.compute import vm_states
from nova_volmig.db import api as db
from nova_volmig import exception
from nova_volmig.i18n import _
from nova_volmig.objects import fields
from nova_volmig.objects import volume_migration as vm_obj
from nova_volmig.virt import driver as virt_driver

LOG = logging.getLogger(__name__)

Status = fields.VolumeMigrationStatus
VolumeMigration = vm_obj.VolumeMigration
ReconcileState = virt_driver.ReconcileState
#: The error of a migration whose server was deleted.
SERVER_DELETED = 'server deleted'


def _finish_order(migration: VolumeMigration) -> tuple:
    finish = (migration.driver_data or {}).get('finish') or {}
    return (finish.get('state') != 'running', finish.get('queued_at') or '',
            migration.id)


class ReconcileMixin:
    """``init_host``'s reconciliation (compute manager).

    Uses the manager's ``host``, ``driver``, ``_instance``,
    ``_power_state``, ``_set_instance``, ``_spawn``, ``_undo_start`` and
    ``_migration_failed``, and the finish of :mod:`migration_finish`.
    """

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
        migrations = VolumeMigration.list(context, host=self.host,
                                          statuses=Status.ACTIVE)
        # Finishes are re-queued in their original order: those that ran
        # first, then the queued ones as they were queued.
        migrations.sort(key=_finish_order)
        for migration in migrations:
            try:
                self._instance(context, migration.instance_uuid)
            except exception.InstanceNotFound:
                # Its server is gone: nobody completes or cancels it.
                LOG.warning('Volume migration %s: server %s was deleted; '
                            'marking it error', migration.id,
                            migration.instance_uuid)
                migration.fail(SERVER_DELETED)
                continue
            try:
                self._reconcile_one(context, migration)
            except Exception as e:
                LOG.exception('Reconciliation of volume migration %s failed',
                              migration.id)
                instance = self._instance(context, migration.instance_uuid)
                self._migration_failed(
                    context, instance, migration, 'reconcile', e,
                    clear_task_state=False)

    def _reconcile_one(self, context, migration: VolumeMigration) -> None:
        instance = self._instance(context, migration.instance_uuid)
        with compute_utils.instance_lock(instance.uuid):
            state = self.driver.volume_migration_reconcile(context, instance,
                                                           migration)
        LOG.info('Volume migration %s (%s) of instance %s: hypervisor says '
                 '%s', migration.id, migration.status, instance.uuid,
                 state.value)
        status = migration.status
        on_src = (ReconcileState.ON_SRC, ReconcileState.OVERLAY_ON_SRC)
        if status == Status.STARTING:
            # The API never got a confirmation: nobody copies or completes.
            error = exception.VolumeMigrationFailed(
                attachment_id=migration.src_attachment_id,
                reason=_('the compute service stopped during start'))
            if state == ReconcileState.OVERLAY_ON_SRC:
                with compute_utils.instance_lock(instance.uuid):
                    self._undo_start(context, instance, migration, error)
            else:
                self._migration_failed(context, instance, migration,
                                       'start', error)
        elif status == Status.RUNNING:
            if state not in on_src:
                raise exception.VolumeMigrationFailed(
                    attachment_id=migration.src_attachment_id,
                    reason=_('the guest left src while the migration was '
                             'running (%s)') % state.value)
        elif status == Status.COMPLETING:
            if state in on_src:
                migration.complete_undone(
                    _('complete was interrupted before the switch to dst; '
                      'call complete again or cancel'),
                    check_task_state=False)
            else:
                self._switch_bdm_to_dst(context, migration)
                self._queue_finish(self._complete_finish, context,
                                   instance.uuid, migration.id)
        elif status == Status.CANCELLING:
            if state in on_src:
                self._queue_finish(self._cancel_finish, context,
                                   instance.uuid, migration.id)
            else:
                raise exception.VolumeMigrationFailed(
                    attachment_id=migration.src_attachment_id,
                    reason=_('cancel found the guest on dst (%s)')
                    % state.value)
