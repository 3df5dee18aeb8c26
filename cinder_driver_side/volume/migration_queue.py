"""FIFO queue of migrations waiting for a slot of their backend.

A backend runs at most ``[<backend>] max_concurrent_migrations``
migrations at once (0: no cap); further requests wait here, in arrival
order, with ``migration_status`` ``queued``, instead of being refused, as
vSphere queues Storage vMotions beyond its per-host limit. The slot is
the source backend's: as upstream, the source's volume service runs the
migration and its array reads every byte.

Only the manager's in-process flows take slots; the queue holds no
database state, so after a restart the manager submits the ``queued``
records again, oldest first.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from typing import Callable

from oslo_log import log as logging

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class _Waiting:
    key: str
    backend: str
    start: Callable[[], None]


class MigrationQueue:
    """Slots per backend and a FIFO of what waits for them."""

    def __init__(self, cap_of: Callable[[str], int]):
        """``cap_of(backend)``: its max_concurrent_migrations (0: none)."""
        self._cap_of = cap_of
        self._lock = threading.Lock()
        self._running: dict[str, str] = {}          # key -> backend
        self._waiting: dict[str, collections.deque[_Waiting]] = \
            collections.defaultdict(collections.deque)

    def _has_slot(self, backend: str) -> bool:
        cap = self._cap_of(backend) or 0
        busy = sum(1 for b in self._running.values() if b == backend)
        return cap <= 0 or busy < cap

    def submit(self, backend: str, key: str, start: Callable[[], None],
               queued: Callable[[int], None]) -> int:
        """Start ``key`` now or queue it; returns its position (0: runs).

        ``queued(position)`` is called under the queue's lock, so what it
        records (``queued``) can never overwrite what a start that
        follows records; ``start()`` is called without it.
        """
        with self._lock:
            if not self._waiting[backend] and self._has_slot(backend):
                self._running[key] = backend
                position = 0
            else:
                self._waiting[backend].append(_Waiting(key, backend, start))
                position = len(self._waiting[backend])
                queued(position)
        if position == 0:
            start()
        else:
            LOG.info('Migration %s queued for backend %s at position %d',
                     key, backend, position)
        return position

    def release(self, key: str) -> None:
        """``key`` ended: its slot goes to the next ones waiting."""
        with self._lock:
            backend = self._running.pop(key, None)
            if backend is None:
                return
            ready = []
            waiting = self._waiting[backend]
            while waiting and self._has_slot(backend):
                entry = waiting.popleft()
                self._running[entry.key] = backend
                ready.append(entry)
        for entry in ready:
            LOG.info('Migration %s leaves the queue of backend %s',
                     entry.key, backend)
            try:
                entry.start()
            except Exception:
                LOG.exception('Starting queued migration %s', entry.key)
                self.release(entry.key)

    def remove(self, key: str) -> bool:
        """Take ``key`` out of the queue; False if it is not waiting."""
        with self._lock:
            for waiting in self._waiting.values():
                for entry in waiting:
                    if entry.key == key:
                        waiting.remove(entry)
                        return True
        return False

    def position(self, key: str) -> int | None:
        """1-based place of ``key`` in its backend's queue, else None."""
        with self._lock:
            for waiting in self._waiting.values():
                for index, entry in enumerate(waiting, 1):
                    if entry.key == key:
                        return index
        return None
