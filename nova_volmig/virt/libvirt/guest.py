"""Thin wrappers over a libvirt domain and its disks, in the style of Nova.

``Guest`` wraps ``virDomain``; ``BlockDevice`` wraps one disk's block-job
calls. Boolean keyword arguments map to libvirt flags and each method
names the libvirt call it makes. Read-only calls survive a libvirtd
restart (the host reconnects and the domain is looked up again); calls
that change something are made once and their errors propagate.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, Callable, Protocol, TypeVar

import libvirt
import libvirt_qemu
from oslo_log import log as logging

from nova_volmig.compute import power_state
from nova_volmig import exception
from nova_volmig.virt.libvirt import blockdev
from nova_volmig.virt.libvirt import config
from nova_volmig.virt.libvirt import exception as lv_exc

LOG = logging.getLogger(__name__)
T = TypeVar('T')


class Host(Protocol):
    """What a Guest uses of its ``host.Host`` (which imports this module)."""

    generation: int

    def get_connection(self) -> libvirt.virConnect: ...

    def call(self, func: Callable[[], T], idempotent: bool = True) -> T: ...

    def block_graph_lock(self, domain_uuid: str) -> threading.RLock: ...


LIBVIRT_POWER_STATE = {
    libvirt.VIR_DOMAIN_NOSTATE: power_state.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: power_state.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: power_state.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: power_state.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: power_state.SHUTDOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: power_state.SHUTDOWN,
    libvirt.VIR_DOMAIN_CRASHED: power_state.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: power_state.SUSPENDED,
}

BLOCK_JOB_NAMES = {
    libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_PULL: 'pull',
    libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_COPY: 'copy',
    libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_COMMIT: 'commit',
    libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT: 'active-commit',
}


@dataclasses.dataclass(frozen=True)
class BlockJobInfo:
    """``virDomainGetBlockJobInfo`` of one disk."""

    job: int
    bandwidth: int
    cur: int
    end: int

    @property
    def name(self) -> str:
        return BLOCK_JOB_NAMES.get(self.job, str(self.job))

    @property
    def remaining(self) -> int:
        return max(self.end - self.cur, 0)

    @property
    def percent(self) -> int:
        if self.end <= 0:
            return 0
        return min(100, self.cur * 100 // self.end)


class Guest:
    """One libvirt domain, found again after a reconnection."""

    def __init__(self, host: Host, uuid: str,
                 domain: libvirt.virDomain):
        self._host = host
        self.uuid = uuid
        self._domain = domain
        self._generation = host.generation

    def __repr__(self) -> str:
        return '<Guest %s>' % self.uuid

    @property
    def host(self) -> Host:
        return self._host

    def _dom(self) -> libvirt.virDomain:
        if self._generation != self._host.generation:
            self._domain = self._host.get_connection().lookupByUUIDString(
                self.uuid)
            self._generation = self._host.generation
        return self._domain

    def _call(self, func: Callable[[libvirt.virDomain], T],
              idempotent: bool) -> T:
        """``func(domain)``; InstanceNotFound once the domain is gone."""
        def _on_domain():
            # A connection made meanwhile invalidates the cached domain.
            self._host.get_connection()
            return func(self._dom())
        try:
            return self._host.call(_on_domain, idempotent=idempotent)
        except libvirt.libvirtError as e:
            if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                raise exception.InstanceNotFound(instance_id=self.uuid) from e
            raise

    def _read(self, func: Callable[[libvirt.virDomain], T]) -> T:
        return self._call(func, idempotent=True)

    def _write(self, func: Callable[[libvirt.virDomain], T]) -> T:
        return self._call(func, idempotent=False)

    # identity and state

    @property
    def name(self) -> str:
        return self._read(lambda d: d.name())

    @property
    def id(self) -> int:
        """``virDomainGetID``: new each time the domain starts, -1 off.

        Answered from the looked-up handle, without a call to libvirtd.
        """
        return self._read(lambda d: d.ID())

    def get_power_state(self) -> int:
        """``virDomainGetState`` mapped to ``power_state``."""
        state, _reason = self._read(lambda d: d.state())
        return LIBVIRT_POWER_STATE.get(state, power_state.NOSTATE)

    def is_paused_on_io_error(self) -> bool:
        """``virDomainGetState``: paused because a disk request failed.

        QEMU's default write error policy for ENOSPC: the guest stops and
        the failed request is retried on resume.
        """
        state, reason = self._read(lambda d: d.state())
        return (state == libvirt.VIR_DOMAIN_PAUSED
                and reason == libvirt.VIR_DOMAIN_PAUSED_IOERROR)

    def resume(self) -> None:
        """``virDomainResume``."""
        self._write(lambda d: d.resume())

    def is_active(self) -> bool:
        """``virDomainIsActive``."""
        return bool(self._read(lambda d: d.isActive()))

    def get_xml_desc(self, dump_inactive: bool = False) -> str:
        """``virDomainGetXMLDesc``; the persistent XML if dump_inactive."""
        flags = libvirt.VIR_DOMAIN_XML_INACTIVE if dump_inactive else 0
        return self._read(lambda d: d.XMLDesc(flags))

    def launch(self, pause: bool = False) -> None:
        """``virDomainCreateWithFlags``."""
        flags = libvirt.VIR_DOMAIN_START_PAUSED if pause else 0
        self._write(lambda d: d.createWithFlags(flags))

    def poweroff(self) -> None:
        """``virDomainDestroy`` (a hard stop; there is no guest OS)."""
        try:
            self._write(lambda d: d.destroy())
        except libvirt.libvirtError as e:
            if e.get_error_code() != libvirt.VIR_ERR_OPERATION_INVALID:
                raise  # OPERATION_INVALID: it is already off

    def undefine(self) -> None:
        """``virDomainUndefineFlags`` keeping no snapshot metadata."""
        flags = (libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                 | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
        self._write(lambda d: d.undefineFlags(flags))

    # devices

    def get_disks(self, dump_inactive: bool = False
                  ) -> list[config.DiskState]:
        """The disks of the live (or persistent) XML, made true.

        A disk whose backing node was switched over QMP (``rebase.py``)
        is marked in the live metadata; libvirt's XML still names the
        node's old storage, so its chain is read from QEMU's graph.
        """
        xml = self.get_xml_desc(dump_inactive)
        disks = list(config.parse_disks(xml))
        rebased = set() if dump_inactive else config.rebased_targets(xml)
        if not rebased:
            return disks
        graph = blockdev.QemuMonitor(self).block_graph()
        return [blockdev.true_disk(graph, disk)
                if disk.target in rebased else disk for disk in disks]

    def mark_disk_rebased(self, target: str) -> None:
        """``virDomainSetMetadata`` (live): ``target``'s XML is stale.

        Live metadata lives as long as the QEMU process whose graph
        differs from the XML, and survives a libvirtd restart.
        """
        self._set_rebased(
            config.rebased_targets(self.get_xml_desc()) | {target})

    def unmark_disk_rebased(self, target: str) -> None:
        """``virDomainSetMetadata`` (live): ``target``'s XML is true again.

        The element is removed once no disk is marked; nothing is written
        when ``target`` is not marked.
        """
        targets = config.rebased_targets(self.get_xml_desc())
        if target in targets:
            self._set_rebased(targets - {target})

    def _set_rebased(self, targets: set[str]) -> None:
        metadata, prefix = ((config.rebased_metadata(targets),
                             config.REBASED_PREFIX) if targets
                            else (None, None))
        self._write(lambda d: d.setMetadata(
            libvirt.VIR_DOMAIN_METADATA_ELEMENT, metadata, prefix,
            config.REBASED_NS, libvirt.VIR_DOMAIN_AFFECT_LIVE))

    def get_disk(self, target: str, dump_inactive: bool = False
                 ) -> config.DiskState:
        """The disk ``target`` (e.g. ``vdb``); raises DiskNotFound."""
        for disk in self.get_disks(dump_inactive):
            if disk.target == target:
                return disk
        raise lv_exc.DiskNotFound(domain=self.uuid, disk=target)

    def has_disk(self, target: str, dump_inactive: bool = False) -> bool:
        return any(d.target == target
                   for d in self.get_disks(dump_inactive))

    def _device_flags(self, persistent: bool, live: bool) -> int:
        flags = 0
        if persistent:
            flags |= libvirt.VIR_DOMAIN_AFFECT_CONFIG
        if live:
            flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
        return flags

    def attach_device(self, xml: str, persistent: bool = False,
                      live: bool = False) -> None:
        """``virDomainAttachDeviceFlags``."""
        flags = self._device_flags(persistent, live)
        self._write(lambda d: d.attachDeviceFlags(xml, flags))

    def detach_device(self, xml: str, persistent: bool = False,
                      live: bool = False) -> None:
        """``virDomainDetachDeviceFlags``."""
        flags = self._device_flags(persistent, live)
        self._write(lambda d: d.detachDeviceFlags(xml, flags))

    def update_device(self, xml: str, persistent: bool = False,
                      live: bool = False) -> None:
        """``virDomainUpdateDeviceFlags``."""
        flags = self._device_flags(persistent, live)
        self._write(lambda d: d.updateDeviceFlags(xml, flags))

    def snapshot(self, xml: str, disk_only: bool = False,
                 no_metadata: bool = False, reuse_ext: bool = False,
                 quiesce: bool = False, atomic: bool = False) -> None:
        """``virDomainSnapshotCreateXML``."""
        flags = 0
        for enabled, flag in (
                (disk_only, libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY),
                (no_metadata, libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA),
                (reuse_ext, libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT),
                (quiesce, libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE),
                (atomic, libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC)):
            if enabled:
                flags |= flag
        with self._host.block_graph_lock(self.uuid):
            self._write(lambda d: d.snapshotCreateXML(xml, flags))

    def get_block_io_tune(self, disk: str) -> dict[str, Any]:
        """``virDomainGetBlockIoTune`` of the live disk."""
        return self._read(lambda d: d.blockIoTune(
            disk, libvirt.VIR_DOMAIN_AFFECT_LIVE))

    def set_block_io_tune(self, disk: str, params: dict[str, Any]) -> None:
        """``virDomainSetBlockIoTune`` on the live disk."""
        self._write(lambda d: d.setBlockIoTune(
            disk, params, libvirt.VIR_DOMAIN_AFFECT_LIVE))

    def qemu_monitor_command(self, command: str,
                             idempotent: bool = False) -> str:
        """``virDomainQemuMonitorCommand`` of one QMP command (JSON).

        For what libvirt has no API for (``blockdev.py``); libvirt marks
        the domain tainted ("custom-monitor"). Queries are ``idempotent``
        (retried over a libvirtd restart); changes are made once, under
        the block-graph lock.
        """
        flags = libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_DEFAULT
        call = (lambda d: libvirt_qemu.qemuMonitorCommand(d, command, flags))
        if idempotent:
            return self._read(call)
        with self._host.block_graph_lock(self.uuid):
            return self._write(call)

    def get_block_device(self, disk: str) -> BlockDevice:
        return BlockDevice(self, disk)


class BlockDevice:
    """The block-job calls of one disk of a guest."""

    def __init__(self, guest: Guest, disk: str):
        self.guest = guest
        self.disk = disk

    def __repr__(self) -> str:
        return '<BlockDevice %s of %s>' % (self.disk, self.guest.uuid)

    def get_job_info(self) -> BlockJobInfo | None:
        """``virDomainGetBlockJobInfo``; None when no job runs."""
        info = self.guest._read(lambda d: d.blockJobInfo(self.disk, 0))
        if not info:
            return None
        return BlockJobInfo(job=info.get('type', 0),
                            bandwidth=info.get('bandwidth', 0),
                            cur=info.get('cur', 0), end=info.get('end', 0))

    def get_state(self) -> config.DiskState:
        """The disk in the live XML (source chain, mirror, readiness)."""
        return self.guest.get_disk(self.disk)

    def copy(self, dest_xml: str, shallow: bool = False,
             reuse_ext: bool = False, transient: bool = False,
             synchronous_writes: bool = False, bandwidth: int = 0,
             granularity: int = 0) -> None:
        """``virDomainBlockCopy`` of the disk onto ``dest_xml``.

        ``granularity`` (bytes, a power of two; 0 = QEMU's default) is the
        unit the mirror tracks and copies dirty data in
        (``VIR_DOMAIN_BLOCK_COPY_GRANULARITY``).
        """
        flags = 0
        for enabled, flag in (
                (shallow, libvirt.VIR_DOMAIN_BLOCK_COPY_SHALLOW),
                (reuse_ext, libvirt.VIR_DOMAIN_BLOCK_COPY_REUSE_EXT),
                (transient, libvirt.VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB),
                (synchronous_writes,
                 libvirt.VIR_DOMAIN_BLOCK_COPY_SYNCHRONOUS_WRITES)):
            if enabled:
                flags |= flag
        params = {}
        if bandwidth:
            params[libvirt.VIR_DOMAIN_BLOCK_COPY_BANDWIDTH] = bandwidth
        if granularity:
            params[libvirt.VIR_DOMAIN_BLOCK_COPY_GRANULARITY] = granularity
        with self.guest.host.block_graph_lock(self.guest.uuid):
            self.guest._write(
                lambda d: d.blockCopy(self.disk, dest_xml, params, flags))

    def commit(self, base: str | None = None, top: str | None = None,
               active: bool = False, bandwidth: int = 0) -> None:
        """``virDomainBlockCommit``; ``active`` commits the active layer.

        ``bandwidth`` is in bytes/s (``VIR_DOMAIN_BLOCK_COMMIT_BANDWIDTH_
        BYTES``; without the flag libvirt reads MiB/s); 0 = unlimited.
        """
        flags = libvirt.VIR_DOMAIN_BLOCK_COMMIT_ACTIVE if active else 0
        if bandwidth:
            flags |= libvirt.VIR_DOMAIN_BLOCK_COMMIT_BANDWIDTH_BYTES
        with self.guest.host.block_graph_lock(self.guest.uuid):
            self.guest._write(lambda d: d.blockCommit(
                self.disk, base, top, bandwidth, flags))

    def abort_job(self, pivot: bool = False, async_: bool = False) -> None:
        """``virDomainBlockJobAbort``; ``pivot`` switches to the copy.

        Synchronous unless ``async_``: on return the job has ended and the
        live XML shows the result.
        """
        flags = 0
        if pivot:
            flags |= libvirt.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT
        if async_:
            flags |= libvirt.VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC
        with self.guest.host.block_graph_lock(self.guest.uuid):
            self.guest._write(lambda d: d.blockJobAbort(self.disk, flags))
