"""Block-job events of the bench's domains, timed on the host's clock.

The bench watches libvirt itself (its own connection, the process-wide
event loop the libvirt driver also uses) rather than trusting the product
to say when a job got ready or pivoted: a ``READY`` event marks a mirror
in sync, and ``COMPLETED`` after a pivot marks the moment the guest moved
to the job's destination. Times are ``time.monotonic()`` at delivery.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import libvirt

from nova_volmig.virt.libvirt import host as libvirt_host

JOB_TYPES = {
    libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_PULL: 'pull',
    libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_COPY: 'copy',
    libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_COMMIT: 'commit',
    libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT: 'active-commit',
}
STATUSES = {
    libvirt.VIR_DOMAIN_BLOCK_JOB_COMPLETED: 'completed',
    libvirt.VIR_DOMAIN_BLOCK_JOB_FAILED: 'failed',
    libvirt.VIR_DOMAIN_BLOCK_JOB_CANCELED: 'cancelled',
    libvirt.VIR_DOMAIN_BLOCK_JOB_READY: 'ready',
}


@dataclasses.dataclass(frozen=True)
class BlockJobEvent:
    at: float
    domain_uuid: str
    disk: str
    job: str
    status: str


class BlockJobRecorder:
    """Records every block-job event of the domains it is told about."""

    def __init__(self, uri: str = 'qemu:///system'):
        self.uri = uri
        self._events: list[BlockJobEvent] = []
        self._lock = threading.Lock()
        self._conn = None
        self._callback_id = None
        self.domains: set[str] = set()

    def _on_event(self, conn, dom, disk, job_type, status, opaque):
        uuid = dom.UUIDString()
        if uuid not in self.domains:
            return
        event = BlockJobEvent(time.monotonic(), uuid, disk,
                              JOB_TYPES.get(job_type, str(job_type)),
                              STATUSES.get(status, str(status)))
        with self._lock:
            self._events.append(event)

    def start(self) -> 'BlockJobRecorder':
        libvirt_host.start_event_loop()
        self._conn = libvirt.open(self.uri)
        self._callback_id = self._conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2, self._on_event,
            None)
        return self

    def stop(self) -> None:
        if self._conn is None:
            return
        try:
            if self._callback_id is not None:
                self._conn.domainEventDeregisterAny(self._callback_id)
        except libvirt.libvirtError:
            pass
        finally:
            self._conn.close()
            self._conn = None

    def watch(self, domain_uuid: str) -> None:
        self.domains.add(domain_uuid)

    def between(self, domain_uuid: str, start: float, end: float | None
                ) -> list[BlockJobEvent]:
        """Events of one domain delivered in [start, end]."""
        with self._lock:
            return [e for e in self._events
                    if e.domain_uuid == domain_uuid and e.at >= start
                    and (end is None or e.at <= end)]

    def __enter__(self) -> 'BlockJobRecorder':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
