"""Guest write latency by phase, from the writer's report lines.

The writer times each write with the guest's CLOCK_MONOTONIC and reports
the latencies of the writes it *issued* in each window (default 100 ms).
:class:`ClockMap` places guest windows on the host's ``time.monotonic``
axis: a window's line cannot reach the host before the window ended, so
the smallest (arrival - window end) over all lines bounds the offset
between the clocks from above and, with lines read every few ms, pins it
within one polling interval (the NTP minimum-delay filter). Phases
(before / during a migration, a pivot) are host-time intervals.

"Time writes are blocked" at a start or pivot is the longest latency of a
write issued around that moment: with one write in flight (queue depth 1)
a pause of QEMU's I/O shows as exactly one long write.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from volmig_bench import exception
from volmig_bench.guest import protocol


@dataclasses.dataclass(frozen=True)
class LatencySummary:
    """Latency of the writes of one phase, in milliseconds."""

    count: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def summarize(latencies_us) -> LatencySummary:
    values = np.asarray(latencies_us, dtype=np.float64)
    if values.size == 0:
        return LatencySummary(0, None, None, None)
    p50, p99 = np.percentile(values, [50, 99])
    return LatencySummary(int(values.size), round(float(p50) / 1000, 3),
                          round(float(p99) / 1000, 3),
                          round(float(values.max()) / 1000, 3))


@dataclasses.dataclass(frozen=True)
class ClockMap:
    """host_time = guest_us / 1e6 + offset_s."""

    offset_s: float

    @classmethod
    def from_log(cls, log: protocol.WriterLog) -> 'ClockMap':
        if log.t0_us is None:
            raise exception.WriterLogError(path='-',
                                           reason='no start (S) line')
        bounds = [w.arrived - (log.t0_us + (w.index + 1) * log.window_us)
                  / 1e6 for w in log.windows if w.arrived is not None]
        if log.started_at is not None:
            bounds.append(log.started_at - log.t0_us / 1e6)
        if not bounds:
            raise exception.WriterLogError(
                path='-', reason='no line carries a host arrival time')
        return cls(min(bounds))

    def to_host(self, guest_us: float) -> float:
        return guest_us / 1e6 + self.offset_s

    def to_guest_us(self, host_s: float) -> float:
        return (host_s - self.offset_s) * 1e6


class LatencyTimeline:
    """Per-window latencies of one writer log on the host's time axis."""

    def __init__(self, log: protocol.WriterLog, clock: ClockMap):
        self.log = log
        self.clock = clock
        window_s = log.window_us / 1e6
        starts, lats = [], []
        for w in log.windows:
            start = clock.to_host(log.t0_us + w.index * log.window_us)
            starts.extend([start] * len(w.latencies_us))
            lats.extend(w.latencies_us)
        #: host time of the start of each write's issue window
        self.window_start = np.asarray(starts, dtype=np.float64)
        self.latency_us = np.asarray(lats, dtype=np.float64)
        self.window_s = window_s

    def between(self, host_from: float, host_to: float) -> np.ndarray:
        """Latencies of writes issued in windows starting in [from, to)."""
        mask = ((self.window_start >= host_from)
                & (self.window_start < host_to))
        return self.latency_us[mask]

    def phase(self, host_from: float, host_to: float) -> LatencySummary:
        return summarize(self.between(host_from, host_to))

    def blocked_s(self, host_from: float, host_to: float | None = None
                  ) -> float | None:
        """Longest write around the event [from, to] (one window slack).

        None when no write was issued then (the guest was idle).
        """
        host_to = host_from if host_to is None else host_to
        lats = self.between(host_from - self.window_s, host_to)
        if lats.size == 0:
            return None
        return round(float(lats.max()) / 1e6, 6)

    def in_flight_max_s(self, host_from: float, host_to: float,
                        slack: float = 0.05) -> float | None:
        """Longest write that may have been in flight during [from, to].

        A write issued in the window starting at ``w`` with latency ``l``
        was in flight somewhere in ``[w, w + window + l]``; with one
        write at a time (queue depth 1) a pause of QEMU's I/O is exactly
        the write that spans it, however long it lasted. ``slack``
        widens the interval for event delivery delays. None when no
        write was issued then.
        """
        ends = self.window_start + self.window_s + self.latency_us / 1e6
        mask = ((self.window_start <= host_to + slack)
                & (ends >= host_from - slack))
        lats = self.latency_us[mask]
        if lats.size == 0:
            return None
        return round(float(lats.max()) / 1e6, 6)

    def series(self, bucket_s: float = 1.0, origin: float | None = None
               ) -> dict:
        """p50 / p99 / max per bucket, for plots; times from ``origin``."""
        if self.latency_us.size == 0:
            return {'t_s': [], 'p50_ms': [], 'p99_ms': [], 'max_ms': []}
        origin = self.window_start.min() if origin is None else origin
        bucket = np.floor((self.window_start - origin) / bucket_s)
        out = {'t_s': [], 'p50_ms': [], 'p99_ms': [], 'max_ms': []}
        for b in np.unique(bucket):
            s = summarize(self.latency_us[bucket == b])
            out['t_s'].append(round(float(b) * bucket_s, 3))
            out['p50_ms'].append(s.p50_ms)
            out['p99_ms'].append(s.p99_ms)
            out['max_ms'].append(s.max_ms)
        return out


def chunk_bytes(offsets: np.ndarray, sizes: np.ndarray, chunk: int) -> int:
    """Bytes of the distinct ``chunk``-aligned chunks the writes touch."""
    if not len(offsets):
        return 0
    first = offsets // chunk
    last = (offsets + np.maximum(sizes, 1) - 1) // chunk
    spans = [np.arange(a, b + 1) for a, b in zip(first, last)]
    return int(np.unique(np.concatenate(spans)).size) * chunk


def achieved_rate(log: protocol.WriterLog, params: protocol.WriterParams,
                  disk_size: int) -> float:
    """Bytes per second the writer achieved over its reported windows."""
    from volmig_bench.guest import expected

    n = log.reported_writes
    if n == 0 or not log.windows:
        return 0.0
    total = sum(w.size for w in expected.schedule(
        params.seed, params.mix, disk_size, n, align=params.align))
    span_s = (log.windows[-1].index + 1) * log.window_us / 1e6
    return total / span_s
