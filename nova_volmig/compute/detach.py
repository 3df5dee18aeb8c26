"""Asynchronous volume detach on the compute host (compute RPC 1.1).

As upstream, ``DELETE /servers/{id}/os-volume_attachments/{volume}`` is
answered 202 once the API's checks pass (the BDM exists, the instance's
``task_state`` could be claimed); the compute API then *casts*
``detach_volume`` and this module does the work: the hypervisor's unplug
(``virDomainDetachDeviceFlags``, which on a running guest waits up to
``[libvirt] device_detach_timeout`` for the guest OS), Cinder's
``DELETE /attachments/{id}`` and the BDM. Nobody waits for a cast, so the
outcome is recorded where upstream records it: the instance action's
``compute_detach_volume`` event (``Success`` or ``Error`` with the
reason) and the ``instance.volume_detach.{start,end,error}``
notifications.
"""

from __future__ import annotations

import traceback

from oslo_log import log as logging

from nova_volmig.compute import task_states
from nova_volmig.compute import utils as compute_utils
from nova_volmig.db import api as db
from nova_volmig import notifications

LOG = logging.getLogger(__name__)

#: The instance action event of a detach (upstream's name).
EVENT = 'compute_detach_volume'


class DetachMixin:
    """``detach_volume`` of the compute manager (a cast since RPC 1.1).

    Uses the manager's ``host``, ``driver`` and ``volume_api``.
    """

    def detach_volume(self, context, instance_uuid: str, bdm_id: int
                      ) -> None:
        """Detach the BDM ``bdm_id`` from its instance; record the outcome.

        Runs under the instance's lock and always releases the
        ``detaching_volume`` task state the API claimed. On failure the BDM
        and the Cinder attachment stay (the volume is still attached as far
        as anyone can tell), the event is ``Error`` with the reason, and the
        error is re-raised for the RPC layer (logged for a cast, returned to
        a 1.0 ``call``).
        """
        db.action_event_start(context, instance_uuid, EVENT, host=self.host)
        instance = None
        volume_id = None
        try:
            with compute_utils.instance_lock(instance_uuid):
                try:
                    instance = db.instance_get(context, instance_uuid,
                                               check_project=False)
                    bdm = db.bdm_get_by_id(context, bdm_id)
                    volume_id = bdm.volume_id
                    notifications.notify_volume_detach(context, instance,
                                                       volume_id, 'start')
                    if bdm.connection_info:
                        self.driver.detach_volume(
                            context, bdm.connection_info,
                            instance, bdm.device_name)
                    self.volume_api.attachment_delete(context,
                                                      bdm.attachment_id)
                    db.bdm_destroy(context, bdm.id)
                finally:
                    compute_utils.clear_task_state(
                        context, instance_uuid, task_states.DETACHING_VOLUME)
        except Exception as e:
            reason = compute_utils.error_text(e)
            LOG.warning('Detach of BDM %s from instance %s failed: %s',
                        bdm_id, instance_uuid, reason)
            db.action_event_finish(context, instance_uuid, EVENT, 'Error',
                                   traceback=traceback.format_exc(),
                                   details=reason)
            db.action_finish(context, instance_uuid, message=reason)
            if instance is not None and volume_id is not None:
                notifications.notify_volume_detach(
                    context, instance, volume_id, 'error', fault=reason)
            raise
        db.action_event_finish(context, instance_uuid, EVENT, 'Success')
        db.action_finish(context, instance_uuid)
        notifications.notify_volume_detach(context, instance, volume_id,
                                           'end')
        LOG.info('Volume %s detached from instance %s', volume_id,
                 instance_uuid)
