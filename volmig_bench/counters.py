"""Byte counters sampled in the background, read at any past moment.

A migration's bytes are the counter's increase between two moments the
bench learns only afterwards (server timestamps of when the migration
really ended); sampling every few tens of ms and interpolating keeps the
polling delay out of the numbers.
"""

from __future__ import annotations

import bisect
import threading
import time
from typing import Callable

import psutil


class CounterSampler:
    """Samples ``read()`` every ``interval`` s from a daemon thread.

    ``read`` returns an int, or a tuple of ints (several counters read
    together); :meth:`at` and :meth:`delta` answer in the same shape.
    """

    def __init__(self, read: Callable[[], int | tuple[int, ...]],
                 interval: float = 0.05,
                 clock: Callable[[], float] = time.monotonic):
        self._read = read
        self.interval = interval
        self._clock = clock
        self._times: list[float] = []
        self._values: list = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> None:
        try:
            value = self._read()
        except OSError:
            return  # the counted thing went away (process, interface)
        now = self._clock()
        with self._lock:
            self._times.append(now)
            self._values.append(value)

    def start(self) -> 'CounterSampler':
        self.sample()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='counter-sampler')
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()

    def at(self, when: float):
        """The counter(s) at ``when``, interpolated between samples."""
        with self._lock:
            if not self._times or when < self._times[0]:
                return None
            i = bisect.bisect_right(self._times, when)
            if i >= len(self._times):
                return _scale(self._values[-1], self._values[-1], 0.0)
            t0, t1 = self._times[i - 1], self._times[i]
            v0, v1 = self._values[i - 1], self._values[i]
        share = 0.0 if t1 == t0 else (when - t0) / (t1 - t0)
        return _scale(v0, v1, share)

    def delta(self, start: float, end: float):
        """The increase over [start, end]; None before the first sample."""
        first, last = self.at(start), self.at(end)
        if first is None or last is None:
            return None
        if isinstance(first, tuple):
            return tuple(int(round(b - a)) for a, b in zip(first, last))
        return int(round(last - first))


def _scale(v0, v1, share: float):
    if isinstance(v0, tuple):
        return tuple(a + (b - a) * share for a, b in zip(v0, v1))
    return v0 + (v1 - v0) * share


def qemu_pid(domain_name: str) -> int:
    """The pid of a running libvirt QEMU domain (libvirt's pid file)."""
    with open('/run/libvirt/qemu/%s.pid' % domain_name) as f:
        return int(f.read().strip())


def process_io_bytes(pid: int) -> int:
    """Bytes a process read from and wrote to storage.

    psutil's ``io_counters()`` (``/proc/pid/io`` on Linux): its
    ``read_bytes`` / ``write_bytes`` are counted where I/O reaches the
    block layer, O_DIRECT and Linux AIO included (QEMU's ``cache=none,
    io=native`` disks), unlike ``read_chars``/``write_chars``.

    :raises OSError: the process is gone (ProcessLookupError) or may not
        be read (PermissionError), as :class:`CounterSampler` expects.
    """
    try:
        counters = psutil.Process(pid).io_counters()
    except psutil.NoSuchProcess as e:
        raise ProcessLookupError(str(e)) from e
    except psutil.AccessDenied as e:
        raise PermissionError(str(e)) from e
    return counters.read_bytes + counters.write_bytes
