"""Rate, ETA and stall detection of a migration's data movement.

One ``Estimator`` per copy (native, generic) or legacy swap: it is fed
``(bytes_done)`` samples as the copy reports them and answers the
current rate over a sliding window (bytes/s), the time left at that rate
(ETA, seconds) and how long the copy has made no progress at all (for
the stall detection of ``migration_stall_timeout``). Pure logic with an
injectable clock, so it is unit tested without any I/O. ``StallWatchdog``
is the thread that acts on ``stalled_for`` during a copy.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import threading
import time
from typing import Callable

from oslo_log import log as logging

from cinder_driver_side import exception

LOG = logging.getLogger(__name__)

#: Seconds of samples the rate is computed over: long enough to smooth a
#: rate limiter's sleeps and a progress write interval (0.5 s), short
#: enough that a rate change shows within seconds.
DEFAULT_WINDOW = 5.0


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """What the estimator says at one instant (the API's fields)."""

    bytes_done: int
    bytes_total: int
    #: bytes/s over the window; None until two samples span some time.
    rate: int | None
    #: seconds left at ``rate``; None while the rate is unknown or 0.
    eta: int | None


class Estimator:
    """Sliding-window rate and ETA of ``total`` bytes being moved."""

    def __init__(self, total: int, window: float = DEFAULT_WINDOW,
                 clock: Callable[[], float] = time.monotonic):
        self.total = max(0, int(total))
        self.window = window
        self._clock = clock
        now = clock()
        self._samples: collections.deque[tuple[float, int]] = \
            collections.deque([(now, 0)])
        self._done = 0
        self._advanced_at = now

    @property
    def bytes_done(self) -> int:
        return self._done

    def update(self, done: int) -> None:
        """Record that ``done`` bytes are moved now (monotonic or not)."""
        now = self._clock()
        done = max(0, min(int(done), self.total)) if self.total else \
            max(0, int(done))
        if done > self._done:
            self._advanced_at = now
        self._done = done
        self._samples.append((now, done))
        # Keep one sample at or before the window's start so the rate
        # always spans the whole window once the copy is that old.
        while len(self._samples) > 2 and \
                self._samples[1][0] <= now - self.window:
            self._samples.popleft()

    def rate(self) -> float | None:
        """bytes/s between the window's oldest sample and now."""
        now = self._clock()
        # The newest sample at or before the window's start (so a copy
        # that stopped reporting decays to 0), else the oldest one.
        first_t, first_done = self._samples[0]
        for t, done in self._samples:
            if t > now - self.window:
                break
            first_t, first_done = t, done
        span = now - first_t
        if span <= 0 or len(self._samples) < 2:
            return None
        return max(0.0, (self._done - first_done) / span)

    def eta(self) -> float | None:
        """Seconds left at the current rate; 0 once done."""
        remaining = self.total - self._done
        if remaining <= 0:
            return 0.0
        rate = self.rate()
        if not rate:
            return None
        return remaining / rate

    def stalled_for(self) -> float:
        """Seconds since the bytes done last grew (or since the start)."""
        return self._clock() - self._advanced_at

    def snapshot(self) -> Snapshot:
        rate = self.rate()
        eta = self.eta()
        return Snapshot(
            bytes_done=self._done, bytes_total=self.total,
            rate=None if rate is None else int(round(rate)),
            eta=None if eta is None else int(math.ceil(eta)))


class StallWatchdog:
    """A copy's watchdog thread: ``wakeup`` set once it is stuck.

    Used as a context manager around the copy. ``wakeup`` is set when
    the estimator's bytes have not grown for ``timeout`` seconds (0:
    never) or when ``abort`` is set, so that a rate limiter's sleep ends
    at once and the copy's next report calls ``check``. A copy blocked
    inside a system call notices when the call returns.
    """

    def __init__(self, estimator: Estimator, timeout: float,
                 abort: threading.Event, name: str = 'stall-watchdog'):
        self.estimator = estimator
        self.timeout = timeout
        self.abort = abort
        self.wakeup = threading.Event()
        self.stalled = False
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=name)

    def __enter__(self) -> StallWatchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._finished.set()

    def _run(self) -> None:
        interval = min(1.0, self.timeout / 4) if self.timeout else 1.0
        while not self._finished.wait(interval):
            if self.abort.is_set():
                self.wakeup.set()
                return
            if self.timeout and \
                    self.estimator.stalled_for() >= self.timeout:
                LOG.error('Copy made no progress for %d s at %d of %d '
                          'bytes', self.timeout, self.estimator.bytes_done,
                          self.estimator.total)
                self.stalled = True
                self.wakeup.set()
                return

    def check(self) -> None:
        """Raise CopyStalled once the copy was found stuck."""
        if self.stalled:
            raise exception.CopyStalled(
                seconds=int(self.estimator.stalled_for()),
                done=self.estimator.bytes_done, total=self.estimator.total)
