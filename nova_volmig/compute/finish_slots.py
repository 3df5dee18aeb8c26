"""A per-host cap on the asynchronous part of volume migrations.

The finish of complete (active commit of the overlay into dst, pivot)
and of cancel (commit into src) are the compute host's own copies: with
``[compute] max_concurrent_volume_migration_finishes`` set, at most that
many run at once on this host; the others wait in arrival order instead
of failing (vSphere queues Storage vMotions beyond 2 per host; XenServer
refuses the fourth). The record stays ``completing`` / ``cancelling``
meanwhile (DESIGN 4's statuses); the wait and its position are logged
and the instance-action event of the finish starts only once it runs.

The gate is taken outside the instance lock, so a waiting finish does
not hold up other operations on its instance.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from typing import Callable, Iterator

from oslo_log import log as logging

LOG = logging.getLogger(__name__)


class FinishSlots:
    """At most ``cap()`` finishes at once (0: no cap), FIFO."""

    def __init__(self, cap: Callable[[], int]):
        self._cap = cap
        self._cond = threading.Condition()
        self._running = 0
        self._waiting: collections.deque = collections.deque()

    def _free(self) -> bool:
        cap = self._cap() or 0
        return cap <= 0 or self._running < cap

    @contextlib.contextmanager
    def slot(self, migration_id: int) -> Iterator[None]:
        """Run the body once every earlier waiter has and a slot is free."""
        with self._cond:
            self._waiting.append(migration_id)
            if len(self._waiting) > 1 or not self._free():
                LOG.info('Volume migration %s: finish queued at position '
                         '%d (%d running)', migration_id,
                         len(self._waiting), self._running)
            self._cond.wait_for(lambda: self._waiting[0] == migration_id
                                and self._free())
            self._waiting.popleft()
            self._running += 1
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()

    def position(self, migration_id: int) -> int | None:
        """1-based place of a waiting finish, None if not waiting."""
        with self._cond:
            for index, waiting in enumerate(self._waiting, 1):
                if waiting == migration_id:
                    return index
        return None

    @property
    def running(self) -> int:
        with self._cond:
            return self._running
