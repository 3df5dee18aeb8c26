"""Client side of the compute RPC API.

API version history:

* 1.0 - Initial version: build_and_run_instance, start_instance,
        stop_instance, terminate_instance, attach_volume, detach_volume,
        swap_volume (legacy), volume_migration_start,
        volume_migration_complete, volume_migration_cancel.
        volume_migration_start and volume_migration_complete carry a
        ``deadline`` (ISO 8601 UTC): a compute host that finishes the
        synchronous part after the API stopped waiting undoes it instead
        of leaving an instance the caller believes untouched.
* 1.1 - detach_volume is a cast: the REST API answers 202 at once and
        the compute host records the outcome as the instance action's
        ``compute_detach_volume`` event (as upstream). A 1.0 host is
        still sent the blocking ``call``.

Start and the synchronous part of complete are ``call``s bounded by
``[compute] volume_migration_start_timeout`` /
``volume_migration_complete_timeout``; cancel and the long-running
operations are ``cast``s.
"""

from __future__ import annotations

import datetime

from oslo_config import cfg
import oslo_messaging as messaging
from oslo_utils import timeutils

from nova_volmig import rpc

CONF = cfg.CONF

TOPIC = 'compute'
RPC_API_VERSION = '1.1'


def deadline_after(seconds: float) -> str:
    """The ISO time just before the caller gives up waiting ``seconds``."""
    when = timeutils.utcnow() + datetime.timedelta(
        seconds=max(seconds - 2, seconds * 0.9))
    return when.isoformat()


class ComputeAPI:
    """Client side of the compute RPC API (see module history)."""

    def __init__(self):
        target = messaging.Target(topic=TOPIC, version='1.0')
        self.client = rpc.get_client(target, version_cap=RPC_API_VERSION)

    def _prepare(self, host: str, version: str = '1.0',
                 timeout: int | None = None):
        return self.client.prepare(server=host, version=version,
                                   timeout=timeout or
                                   CONF.compute.rpc_call_timeout)

    def build_and_run_instance(self, ctxt, instance_uuid: str, host: str):
        self._prepare(host).cast(ctxt, 'build_and_run_instance',
                                 instance_uuid=instance_uuid)

    def start_instance(self, ctxt, instance_uuid: str, host: str):
        self._prepare(host).cast(ctxt, 'start_instance',
                                 instance_uuid=instance_uuid)

    def stop_instance(self, ctxt, instance_uuid: str, host: str):
        self._prepare(host).cast(ctxt, 'stop_instance',
                                 instance_uuid=instance_uuid)

    def terminate_instance(self, ctxt, instance_uuid: str, host: str):
        self._prepare(host).cast(ctxt, 'terminate_instance',
                                 instance_uuid=instance_uuid)

    def attach_volume(self, ctxt, instance_uuid: str, host: str,
                      bdm_id: int):
        return self._prepare(host).call(ctxt, 'attach_volume',
                                        instance_uuid=instance_uuid,
                                        bdm_id=bdm_id)

    def detach_volume(self, ctxt, instance_uuid: str, host: str,
                      bdm_id: int) -> None:
        if self.client.can_send_version('1.1'):
            self._prepare(host, '1.1').cast(ctxt, 'detach_volume',
                                            instance_uuid=instance_uuid,
                                            bdm_id=bdm_id)
            return
        self._prepare(host).call(ctxt, 'detach_volume',
                                 instance_uuid=instance_uuid, bdm_id=bdm_id)

    def swap_volume(self, ctxt, instance_uuid: str, host: str,
                    old_volume_id: str, new_volume_id: str):
        self._prepare(host).cast(ctxt, 'swap_volume',
                                 instance_uuid=instance_uuid,
                                 old_volume_id=old_volume_id,
                                 new_volume_id=new_volume_id)

    def volume_migration_start(self, ctxt, instance_uuid: str, host: str,
                               migration_id: int):
        timeout = CONF.compute.volume_migration_start_timeout
        return self._prepare(host, '1.0', timeout).call(
            ctxt, 'volume_migration_start', instance_uuid=instance_uuid,
            migration_id=migration_id, deadline=deadline_after(timeout))

    def volume_migration_complete(self, ctxt, instance_uuid: str, host: str,
                                  migration_id: int):
        timeout = CONF.compute.volume_migration_complete_timeout
        return self._prepare(host, '1.0', timeout).call(
            ctxt, 'volume_migration_complete', instance_uuid=instance_uuid,
            migration_id=migration_id, deadline=deadline_after(timeout))

    def volume_migration_cancel(self, ctxt, instance_uuid: str, host: str,
                                migration_id: int):
        self._prepare(host).cast(ctxt, 'volume_migration_cancel',
                                 instance_uuid=instance_uuid,
                                 migration_id=migration_id)
