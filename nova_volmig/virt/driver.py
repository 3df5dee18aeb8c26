"""The hypervisor driver interface of nova-volmig-compute.

Modelled on Nova's ``nova.virt.driver.ComputeDriver``, reduced to what the
volume-migration prototype needs, and documented method by method like
os-brick's connector interface. The manager holds the per-instance lock and
owns every database state change; a driver changes only the hypervisor and
the files it owns, records its progress markers through the migration handle
(so that start-up reconciliation can finish or undo a step after a crash),
and raises a ``nova_volmig.exception`` subclass on failure.

Volume migration (DESIGN 1 and 5) is split the same way on every driver:

* ``volume_migration_start``: synchronous. On return nothing more is
  written to src until ``volume_migration_cancel_finish`` has run.
* ``volume_migration_complete``: synchronous part of complete. On return
  the instance no longer holds src open and src may be deleted.
* ``volume_migration_complete_finish``: the asynchronous remainder, run by
  the manager in the background; on return the instance uses dst alone.
* ``volume_migration_cancel`` / ``volume_migration_cancel_finish``: the
  same split for cancel; on return of the second, src holds every write.
"""

from __future__ import annotations

import abc
import enum
from typing import Any, Callable, Protocol

from oslo_config import cfg
from oslo_utils import importutils

CONF = cfg.CONF

DRIVERS = {
    'libvirt': 'nova_volmig.virt.libvirt.driver.LibvirtDriver',
    'offline': 'nova_volmig.virt.offline.driver.OfflineDriver',
    'fake': 'nova_volmig.virt.fake.FakeDriver',
}


class VolumeMigrationHandle(Protocol):
    """What a driver sees of a volume migration record.

    Attributes are read-only snapshots taken when the manager called the
    driver; ``save_driver_data`` and ``set_progress`` write through to the
    database at once.
    """

    id: int
    instance_uuid: str
    volume_id: str
    src_attachment_id: str
    dst_attachment_id: str | None
    #: e.g. ``{'driver_volume_type': 'file', 'data': {'device_path': ..}}``
    src_connection_info: dict
    #: set before ``volume_migration_complete`` is called
    dst_connection_info: dict | None
    #: the guest's device name, e.g. ``/dev/vdb``
    device_name: str
    #: driver progress markers, as last saved
    driver_data: dict

    def save_driver_data(self, **values: Any) -> None:
        """Merge ``values`` into driver_data and persist them now."""

    def set_progress(self, percent: int | None) -> None:
        """Record the progress of the running Nova-side job (0..100)."""


class ReconcileState(enum.Enum):
    """Where a volume migration stands on the hypervisor after a restart.

    Returned by :meth:`ComputeDriver.volume_migration_reconcile` once the
    driver has settled any block job it found (waited for it, pivoted it
    or aborted it), so that the state is stable.
    """

    #: The instance uses src directly; nothing is redirected.
    ON_SRC = 'on_src'
    #: Writes go to the start overlay over a read-only src.
    OVERLAY_ON_SRC = 'overlay_on_src'
    #: src is no longer open; the instance runs on a layer over dst and the
    #: asynchronous part of complete must still run.
    SWITCHED_TO_DST = 'switched_to_dst'
    #: The instance uses dst directly; no overlay is left.
    ON_DST = 'on_dst'


ProgressCallback = Callable[[int], None]


class ComputeDriver(abc.ABC):
    """Base class of hypervisor drivers."""

    capabilities: dict[str, bool] = {
        # True when a *running* instance keeps writing during a volume
        # migration (its writes are redirected); False when start requires
        # the instance to be shut off.
        'supports_live_volume_migration': False,
        # True when the legacy swap_volume (a full copy by the hypervisor)
        # is implemented.
        'supports_swap_volume': False,
    }

    # Host

    def init_host(self, host: str) -> None:
        """Connect to the hypervisor; called once before RPC is served."""

    def cleanup_host(self, host: str) -> None:
        """Release hypervisor connections on service stop."""

    # Instances

    @abc.abstractmethod
    def spawn(self, context, instance, block_device_info: list[dict]
              ) -> None:
        """Create the instance and power it on.

        :param block_device_info: ``[{'connection_info': dict,
            'device_name': str}]`` of volumes to attach at boot.
        """

    @abc.abstractmethod
    def destroy(self, context, instance, block_device_info: list[dict]
                ) -> None:
        """Power off and remove the instance; volumes are left alone."""

    @abc.abstractmethod
    def power_on(self, context, instance, block_device_info: list[dict]
                 ) -> None:
        """Start a shut-off instance with the given volumes."""

    @abc.abstractmethod
    def power_off(self, context, instance) -> None:
        """Stop a running instance (hard stop; no guest OS is assumed)."""

    @abc.abstractmethod
    def get_power_state(self, instance) -> int:
        """The instance's ``nova_volmig.compute.power_state`` value."""

    def instance_exists(self, instance) -> bool:
        try:
            self.get_power_state(instance)
        except Exception:
            return False
        return True

    # Volumes

    @abc.abstractmethod
    def get_volume_connector(self, instance) -> dict:
        """The connector dict Cinder needs to build connection_info."""

    @abc.abstractmethod
    def attach_volume(self, context, connection_info: dict, instance,
                      device_name: str) -> None:
        """Attach a volume to the instance, running or not."""

    @abc.abstractmethod
    def detach_volume(self, context, connection_info: dict, instance,
                      device_name: str) -> None:
        """Detach a volume from the instance, running or not."""

    # Volume migration (new flow)

    @abc.abstractmethod
    def volume_migration_start(self, context, instance,
                               migration: VolumeMigrationHandle) -> None:
        """Stop all writes to src; return only once none can happen.

        Raises ``VolumeMigrationUnsupported`` (409) when the instance's
        state cannot be served (e.g. running, on a driver without live
        storage migration) and another ``NovaVolmigException`` when the
        redirection failed; src is then untouched and still in use.
        """

    @abc.abstractmethod
    def volume_migration_complete(self, context, instance,
                                  migration: VolumeMigrationHandle) -> None:
        """Switch the instance from src to dst; return once src is free.

        ``migration.dst_connection_info`` is set. Cinder guarantees dst is a
        copy of src as of start.
        """

    def volume_migration_complete_finish(self, context, instance,
                                         migration: VolumeMigrationHandle
                                         ) -> None:
        """Asynchronous part of complete: leave the instance on dst alone.

        Runs in the background after ``volume_migration_complete``
        returned; the default has nothing left to do.
        """

    def volume_migration_cancel(self, context, instance,
                                migration: VolumeMigrationHandle) -> None:
        """Synchronous part of cancel; nothing by default."""

    @abc.abstractmethod
    def volume_migration_cancel_finish(self, context, instance,
                                       migration: VolumeMigrationHandle
                                       ) -> None:
        """Asynchronous part of cancel: put every write back on src."""

    @abc.abstractmethod
    def volume_migration_reconcile(self, context, instance,
                                   migration: VolumeMigrationHandle
                                   ) -> ReconcileState:
        """After a restart: settle jobs and say where the migration stands.

        Called by ``init_host`` for each unfinished migration of this host,
        with the migration's persisted driver_data.
        """

    # Legacy swap (the benchmark's baseline)

    def swap_volume(self, context, old_connection_info: dict,
                    new_connection_info: dict, instance, device_name: str,
                    progress_cb: ProgressCallback) -> None:
        """Copy the whole volume onto the new one and switch to it."""
        raise NotImplementedError()


def load_compute_driver(name: str | None = None) -> ComputeDriver:
    """Instantiate the driver named by ``[DEFAULT] compute_driver``."""
    name = name or CONF.compute_driver
    return importutils.import_object(DRIVERS.get(name, name))
