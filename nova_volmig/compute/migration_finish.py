"""The asynchronous part of a volume migration's complete and cancel.

``volume_migration_complete`` and ``volume_migration_cancel`` return once
the synchronous switch is done; the driver's ``*_finish`` step runs here in
a background thread of the compute manager, under the instance's lock, and
ends the record ``completed`` or ``cancelled`` (or ``error``). Start-up
reconciliation resumes it after a crash.
"""

from __future__ import annotations

import traceback
from typing import Callable

from oslo_utils import timeutils

from nova_volmig.compute import task_states
from nova_volmig.compute import utils as compute_utils
from nova_volmig.db import api as db
from nova_volmig import exception
from nova_volmig import notifications
from nova_volmig.objects import volume_migration as vm_obj

VolumeMigration = vm_obj.VolumeMigration

#: driver_data['finish']['state'] values, shown in the record.
FINISH_QUEUED = 'queued'
FINISH_RUNNING = 'running'


class MigrationFinishMixin:
    """The background finish of complete and cancel (compute manager).

    Uses the manager's ``host``, ``driver``, ``_instance``, ``_spawn``,
    ``_finish_queue`` and ``_migration_failed``.
    """

    def _switch_bdm_to_dst(self, context, migration: VolumeMigration
                           ) -> None:
        """The BDM names dst once src is released (idempotent)."""
        migration.refresh()
        try:
            bdm = db.bdm_get_by_attachment(context,
                                           migration.src_attachment_id)
        except exception.AttachmentNotFound:
            return  # already switched
        db.bdm_update(context, bdm.id, {
            'attachment_id': migration.dst_attachment_id,
            'connection_info': migration.dst_connection_info})

    def _queue_finish(self, finish: Callable, context, instance_uuid: str,
                      migration_id: int) -> None:
        """Queue ``finish`` behind the host's cap, then run it.

        The place is taken here, in the caller's thread, so that finishes
        run in the order they were asked (or re-queued at start-up); the
        record shows it at once.
        """
        ticket = self._finish_queue.enqueue(migration_id)
        place = ticket.place()
        if place is not None:
            VolumeMigration.get_by_id(context, migration_id).set_finish(
                state=FINISH_QUEUED, queue_position=place,
                queued_at=timeutils.utcnow().isoformat())
        try:
            self._spawn(finish, context, instance_uuid, migration_id,
                        ticket)
        except Exception:
            ticket.release()
            raise

    def _complete_finish(self, context, instance_uuid: str,
                         migration_id: int, ticket=None) -> None:
        # On failure the guest runs on dst (with a local layer left over):
        # consistent, and src is no longer used.
        self._finish(context, instance_uuid, migration_id, 'complete',
                     self.driver.volume_migration_complete_finish,
                     VolumeMigration.complete_finished,
                     task_states.VOLUME_MIGRATION_COMPLETING, ticket)

    def _finish(self, context, instance_uuid: str, migration_id: int,
                action: str, driver_step: Callable,
                transition: Callable[[VolumeMigration], None],
                task_state: str, ticket=None) -> None:
        """The asynchronous part of complete or cancel, in the background.

        Waits for its turn (``ticket``, the host's cap) before taking the
        instance's lock; records its own instance-action event under the
        request that asked for it, and ends the migration with
        ``transition`` (or in ``error``).
        """
        if ticket is None:
            ticket = self._finish_queue.enqueue(migration_id)
        with ticket:
            migration = VolumeMigration.get_by_id(context, migration_id)
            ticket.wait(lambda place: migration.set_finish(
                state=FINISH_QUEUED, queue_position=place))
            migration.set_finish(state=FINISH_RUNNING, queue_position=None,
                                 started_at=timeutils.utcnow().isoformat())
            self._finish_locked(context, instance_uuid, migration, action,
                                driver_step, transition)

    def _finish_locked(self, context, instance_uuid: str,
                       migration: VolumeMigration, action: str,
                       driver_step: Callable,
                       transition: Callable[[VolumeMigration], None]
                       ) -> None:
        event = 'compute_volume_migration_%s_finish' % action
        with compute_utils.instance_lock(instance_uuid):
            instance = self._instance(context, instance_uuid)
            migration.refresh()
            db.action_event_start(context, instance_uuid, event,
                                  host=self.host)
            try:
                driver_step(context, instance, migration)
            except Exception as e:
                db.action_event_finish(context, instance_uuid, event,
                                       'Error', traceback.format_exc(),
                                       compute_utils.error_text(e))
                self._migration_failed(context, instance, migration,
                                       action, e)
                db.action_finish(context, instance_uuid,
                                 message=compute_utils.error_text(e))
                return
            transition(migration)
            compute_utils.settle_volume_migration_task_state(context,
                                                             instance_uuid)
            db.action_event_finish(context, instance_uuid, event, 'Success')
            db.action_finish(context, instance_uuid)
            notifications.notify_volume_migration(
                context, self._instance(context, instance_uuid), migration,
                action, 'end')

    def _cancel_finish(self, context, instance_uuid: str,
                       migration_id: int, ticket=None) -> None:
        # On failure the guest keeps writing to the overlay over src.
        self._finish(context, instance_uuid, migration_id, 'cancel',
                     self.driver.volume_migration_cancel_finish,
                     VolumeMigration.cancel_finished,
                     task_states.VOLUME_MIGRATION_CANCELLING, ticket)
