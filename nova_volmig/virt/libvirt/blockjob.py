"""Waiting for block jobs, and making them converge.

A mirror-type job (copy, active commit) is ready when libvirt says so: a
``VIR_DOMAIN_BLOCK_JOB_READY`` event, or ``<mirror ready='yes'>`` in the
live XML when the event was lost (libvirtd restarted); never from
``cur == end`` alone. Every wait has a deadline; on expiry the job is
aborted (the guest stays on its previous disk) and a ``BlockJobTimeout``
names domain, disk, job and timeout.

Convergence (DESIGN 5): a job whose remaining work does not shrink within
a window while the guest writes faster than the job copies never gets
ready. ``WriteThrottle`` then lowers the guest disk's write limit step by
step, having first handed the guest's own limits to the caller to persist,
and restores them afterwards.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import libvirt
from oslo_config import cfg
from oslo_log import log as logging

from nova_volmig.virt.libvirt import exception as lv_exc
from nova_volmig.virt.libvirt import guest as libvirt_guest

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

#: the guest's limits the throttle may change, and restores
THROTTLED_KEYS = ('total_bytes_sec', 'write_bytes_sec')
#: remaining work must drop below this share of its value a window ago
SHRINK_RATIO = 0.95
POLL_INTERVAL = 0.5


class WriteThrottle:
    """Lowers a live disk's write limit until a block job converges.

    :param save_original: called with the guest's own limits before the
        first change, so they can be persisted and restored after a crash.
    :param original: limits saved by an earlier run, if any.
    """

    def __init__(self, guest: libvirt_guest.Guest, disk: str,
                 min_bytes_sec: int,
                 save_original: Callable[[dict], None] | None = None,
                 original: dict | None = None):
        self.guest = guest
        self.disk = disk
        self.min_bytes_sec = min_bytes_sec
        self._save_original = save_original
        self.original = dict(original) if original else None
        self.limit: int | None = None

    @property
    def active(self) -> bool:
        return self.limit is not None

    def tighten(self, job_bytes_sec: float) -> int:
        """Lower the write limit one step; return the new limit."""
        if self.original is None:
            tune = self.guest.get_block_io_tune(self.disk)
            self.original = {k: int(tune.get(k, 0)) for k in THROTTLED_KEYS}
            if self._save_original:
                self._save_original(dict(self.original))
        if self.limit is None:
            # Half what the job manages leaves it room to catch up.
            limit = int(job_bytes_sec / 2) if job_bytes_sec > 0 else 0
        else:
            limit = self.limit // 2
        limit = max(self.min_bytes_sec, limit)
        own = [v for v in self.original.values() if v]
        if own:
            limit = min(limit, min(own))
        if limit == self.limit:
            return limit
        if self.original.get('total_bytes_sec'):
            params = {'total_bytes_sec': limit}
        else:
            params = {'write_bytes_sec': limit}
        LOG.info('Block job on disk %s of domain %s does not converge; '
                 'limiting guest writes to %d bytes/s', self.disk,
                 self.guest.uuid, limit)
        self.guest.set_block_io_tune(self.disk, params)
        self.limit = limit
        return limit

    def restore(self) -> None:
        """Put the guest's own limits back, if anything was changed."""
        if self.original is None:
            return
        restore_limits(self.guest, self.disk, self.original)
        self.limit = None


def restore_limits(guest: libvirt_guest.Guest, disk: str,
                   original: dict) -> None:
    params = {k: int(original.get(k, 0)) for k in THROTTLED_KEYS}
    LOG.info('Restoring the I/O limits %s of disk %s of domain %s',
             params, disk, guest.uuid)
    guest.set_block_io_tune(disk, params)


@dataclasses.dataclass
class _Window:
    started: float
    remaining: int
    cur: int


class ReadyWaiter:
    """Waits until one block job of one disk is ready.

    Create it *before* starting the job, so that no event is missed.
    """

    def __init__(self, device: libvirt_guest.BlockDevice, job_label: str,
                 job_type: int, timeout: float,
                 progress_cb: Callable[[int], None] | None = None,
                 bytes_cb: Callable[[int, int], None] | None = None,
                 throttle: WriteThrottle | None = None,
                 window: float = 5.0, progress_interval: float = 0.5,
                 clock: Callable[[], float] = time.monotonic):
        self.device = device
        self.job_label = job_label
        self.job_type = job_type
        self.timeout = timeout
        self.progress_cb = progress_cb
        # cur/end of virDomainGetBlockJobInfo, along with each percent.
        self.bytes_cb = bytes_cb
        self.throttle = throttle
        self.window = window
        self.progress_interval = progress_interval
        self._clock = clock
        self._events = device.guest.host.block_job_events
        self._since = self._events.seq
        self._last_progress: tuple[float, int] | None = None

    def _error_kwargs(self) -> dict:
        return dict(job=self.job_label, disk=self.device.disk,
                    domain=self.device.guest.uuid)

    def wait(self) -> libvirt_guest.BlockJobInfo:
        """Return the job info once ready; raise on failure or timeout."""
        deadline = self._clock() + self.timeout
        window: _Window | None = None
        failed_hint = None
        while True:
            ready_event = False
            # Read before looking: an event from now on ends the sleep.
            looked = self._events.seq
            for event in self._events.since(self.device.guest.uuid,
                                            self.device.disk, self._since):
                if event.job_type != self.job_type:
                    continue
                if event.status == libvirt.VIR_DOMAIN_BLOCK_JOB_READY:
                    ready_event = True
                elif event.status in (libvirt.VIR_DOMAIN_BLOCK_JOB_FAILED,
                                      libvirt.VIR_DOMAIN_BLOCK_JOB_CANCELED,
                                      libvirt.VIR_DOMAIN_BLOCK_JOB_COMPLETED):
                    failed_hint = event.status
            info = self.device.get_job_info()
            state = self.device.get_state()
            if info is None and state.mirror is None:
                raise lv_exc.BlockJobFailed(
                    reason=self._ended_reason(failed_hint),
                    **self._error_kwargs())
            if ready_event or state.mirror_ready:
                # Ready: the copy is in sync, whatever cur/end say now.
                self._report(100, force=True, info=info)
                return info
            if info is not None:
                self._report(info.percent, info=info)
                window = self._check_convergence(info, window)
            now = self._clock()
            if now >= deadline:
                self._abort_on_timeout(info)
            self._events.wait(min(POLL_INTERVAL, max(deadline - now, 0.01)),
                              self.device.guest.uuid, self.device.disk,
                              looked)

    def _ended_reason(self, status: int | None) -> str:
        return {
            libvirt.VIR_DOMAIN_BLOCK_JOB_FAILED: 'it failed',
            libvirt.VIR_DOMAIN_BLOCK_JOB_CANCELED: 'it was cancelled',
            libvirt.VIR_DOMAIN_BLOCK_JOB_COMPLETED:
                'it completed without a pivot',
        }.get(status, 'it is no longer running (see the libvirtd and '
                      'QEMU logs)')

    def _report(self, percent: int, force: bool = False,
                info: libvirt_guest.BlockJobInfo | None = None) -> None:
        if self.progress_cb is None and self.bytes_cb is None:
            return
        now = self._clock()
        last = self._last_progress
        if not force and last is not None and (
                last[1] == percent or now - last[0] < self.progress_interval):
            return
        self._last_progress = (now, percent)
        try:
            if self.progress_cb is not None:
                self.progress_cb(percent)
            if self.bytes_cb is not None and info is not None:
                self.bytes_cb(info.cur, info.end)
        except Exception:
            LOG.exception('Progress callback failed')

    def _check_convergence(self, info: libvirt_guest.BlockJobInfo,
                           window: _Window | None) -> _Window:
        now = self._clock()
        if window is None:
            return _Window(now, info.remaining, info.cur)
        elapsed = now - window.started
        if elapsed < self.window:
            return window
        if (self.throttle is not None and
                info.remaining > 0 and
                info.remaining >= window.remaining * SHRINK_RATIO):
            rate = max(info.cur - window.cur, 0) / elapsed
            self.throttle.tighten(rate)
        return _Window(now, info.remaining, info.cur)

    def _abort_on_timeout(self, info) -> None:
        detail = ('%d of %d bytes done' % (info.cur, info.end)
                  if info is not None else 'no progress reported')
        try:
            self.device.abort_job()
        except libvirt.libvirtError as e:
            LOG.warning('Could not abort the %s job on %s: %s',
                        self.job_label, self.device, e)
        raise lv_exc.BlockJobTimeout(timeout=self.timeout, detail=detail,
                                     **self._error_kwargs())


def pivot(device: libvirt_guest.BlockDevice, job_label: str,
          timeout: float | None = None,
          clock: Callable[[], float] = time.monotonic) -> None:
    """Finish a ready mirror job onto its destination, within ``timeout``.

    ``virDomainBlockJobAbort(PIVOT | ASYNC)`` asks for the switch and
    returns at once; the pivot is over when the job is gone from both
    ``virDomainGetBlockJobInfo`` and the live XML's ``<mirror>``. A
    synchronous pivot would wait inside libvirtd for as long as QEMU takes,
    holding the migration (and the instance lock) forever if QEMU never
    finishes: here the wait has a deadline (``[libvirt]
    block_job_pivot_timeout`` by default) and ends in
    ``BlockJobPivotTimeout`` naming the disk and the timeout.
    """
    if timeout is None:
        timeout = CONF.libvirt.block_job_pivot_timeout
    guest = device.guest
    # The switch is a change of the block graph until QEMU and libvirt
    # are done with it, not only while it is asked for: nothing that
    # writes through the monitor may meet it (see Host.block_graph_lock).
    with guest.host.block_graph_lock(guest.uuid):
        _pivot(device, job_label, timeout, clock)


def _pivot(device: libvirt_guest.BlockDevice, job_label: str,
           timeout: float, clock: Callable[[], float]) -> None:
    guest = device.guest
    events = guest.host.block_job_events
    since = events.seq
    error = dict(job=job_label, disk=device.disk, domain=guest.uuid)
    try:
        device.abort_job(pivot=True, async_=True)
    except libvirt.libvirtError as e:
        raise lv_exc.BlockJobPivotFailed(reason=e, **error)
    deadline = clock() + timeout
    while True:
        looked = events.seq
        for event in events.since(guest.uuid, device.disk, since):
            if event.status in (libvirt.VIR_DOMAIN_BLOCK_JOB_FAILED,
                                libvirt.VIR_DOMAIN_BLOCK_JOB_CANCELED):
                raise lv_exc.BlockJobPivotFailed(
                    reason='libvirt reported the job %s' % (
                        'failed' if event.status ==
                        libvirt.VIR_DOMAIN_BLOCK_JOB_FAILED
                        else 'cancelled'), **error)
        info = device.get_job_info()
        state = device.get_state()
        if info is None and state.mirror is None:
            return
        now = clock()
        if now >= deadline:
            detail = ('the job is still listed' if info is not None
                      else 'the live XML still shows its mirror')
            raise lv_exc.BlockJobPivotTimeout(timeout=timeout,
                                              detail=detail, **error)
        events.wait(min(POLL_INTERVAL, max(deadline - now, 0.01)),
                    guest.uuid, device.disk, looked)
