"""Tail a running guest writer's log from a thread.

:class:`volmig_bench.stats.ClockMap` pins the guest clock to the host's
from the arrival times of the writer's lines, so they must be read as they
arrive, whatever the bench's main thread is doing (waiting on an API
call, polling a migration). :class:`WriterMonitor` polls the virtio
console log every ``interval`` seconds in a daemon thread.
"""

from __future__ import annotations

import threading
import time

from volmig_bench import exception
from volmig_bench.guest import protocol


class WriterMonitor:
    """A :class:`protocol.WriterLogReader` polled from its own thread."""

    def __init__(self, path: str, interval: float = 0.05):
        self.reader = protocol.WriterLogReader(path)
        self.interval = interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: Exception | None = None

    def start(self) -> 'WriterMonitor':
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='writer-log')
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._lock:
                    self.reader.poll()
            except exception.BenchError as exc:
                self._error = exc
                return
            self._stop.wait(self.interval)

    def stop(self) -> protocol.WriterLog:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            return self.reader.poll()

    def snapshot(self) -> protocol.WriterLog:
        """The log as read so far (do not mutate)."""
        if self._error is not None:
            raise self._error
        return self.reader.log

    def wait_for(self, predicate, timeout: float, what: str):
        """Until ``predicate(log)`` holds; raise after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.snapshot()
            with self._lock:
                if predicate(log):
                    return log
                if log.errors:
                    raise exception.WriterLogError(
                        path=self.reader.path, reason='writer error: %s'
                        % '; '.join(log.errors))
            if time.monotonic() > deadline:
                raise exception.WriterLogError(
                    path=self.reader.path,
                    reason='%s: not within %.0f s' % (what, timeout))
            time.sleep(self.interval)
