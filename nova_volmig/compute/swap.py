"""Legacy swap_volume on the compute host (Cinder's legacy migration).

Upstream's flow: attach the new volume, let the hypervisor copy and pivot
(``virDomainBlockCopy``), call Cinder's ``os-migrate_volume_completion``
and move the BDM to the volume id Cinder keeps.
"""

from __future__ import annotations

from oslo_utils import excutils

from nova_volmig.compute import task_states
from nova_volmig.compute import utils as compute_utils
from nova_volmig.db import api as db


class SwapVolumeMixin:
    """``swap_volume`` of the compute manager (RPC 1.0).

    Uses the manager's ``host``, ``driver``, ``volume_api`` and
    ``_instance``.
    """

    @compute_utils.instance_event('compute_swap_volume')
    def swap_volume(self, context, instance_uuid: str, old_volume_id: str,
                    new_volume_id: str) -> None:
        """Legacy swap: full copy by the hypervisor, then Cinder's callback.

        As upstream: attach the new volume, block-copy and pivot, call
        ``os-migrate_volume_completion`` and move the BDM to the volume id
        Cinder keeps; on failure Cinder is told with ``error=True``.
        """
        with compute_utils.instance_lock(instance_uuid):
            instance = self._instance(context, instance_uuid)
            bdm = db.bdm_get_by_volume(context, instance_uuid, old_volume_id)
            new_attachment = None
            try:
                connector = self.driver.get_volume_connector(instance)
                new_attachment = self.volume_api.attachment_create(
                    context, new_volume_id, instance_uuid, connector)
                # As Nova: the guest keeps knowing the disk by its serial.
                new_ci = dict(new_attachment['connection_info'],
                              serial=(bdm.connection_info or {}).get(
                                  'serial', old_volume_id))
                db.bdm_update(context, bdm.id, {'swap_progress': '0'})

                def progress(pct: int) -> None:
                    db.bdm_update(context, bdm.id,
                                  {'swap_progress': str(int(pct))})

                self.driver.swap_volume(
                    context, bdm.connection_info, new_ci, instance,
                    bdm.device_name, progress)
            except Exception:
                with excutils.save_and_reraise_exception():
                    db.bdm_update(context, bdm.id, {'swap_progress': None})
                    if new_attachment is not None:
                        compute_utils.safe(self.volume_api.attachment_delete,
                                           context, new_attachment['id'])
                    compute_utils.safe(
                        self.volume_api.migrate_volume_completion,
                        context, old_volume_id, new_volume_id, True)
                    compute_utils.clear_task_state(
                        context, instance_uuid, task_states.SWAPPING_VOLUME)
            try:
                self.volume_api.attachment_complete(context,
                                                    new_attachment['id'])
                save_volume_id = self.volume_api.migrate_volume_completion(
                    context, old_volume_id, new_volume_id, False)
                db.bdm_update(context, bdm.id, {
                    'volume_id': save_volume_id,
                    'attachment_id': new_attachment['id'],
                    'connection_info': new_ci,
                    'swap_progress': None})
                self.volume_api.attachment_delete(context, bdm.attachment_id)
            finally:
                compute_utils.clear_task_state(
                    context, instance_uuid, task_states.SWAPPING_VOLUME)
            db.action_finish(context, instance_uuid)
