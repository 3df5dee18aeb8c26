"""The per-host cap on asynchronous finishes of volume migrations.

Like Nova's ``max_concurrent_live_migrations``: at most
``[compute] max_concurrent_volume_migration_finishes`` finishes (the
commit and pivot after complete, the commit back after cancel) run at
once on a compute host; the others wait in a FIFO queue instead of
failing, each told its place whenever it changes (the record shows it).
Entries are taken in the caller's thread (:meth:`FinishQueue.enqueue`)
so that their order is the order of the requests, and of start-up
reconciliation's re-queueing.
"""

from __future__ import annotations

import collections
import threading
from typing import Callable

from oslo_log import log as logging

LOG = logging.getLogger(__name__)


class Ticket:
    """One finish's place in the queue; release it when the finish ends."""

    def __init__(self, queue: FinishQueue, key):
        self._queue = queue
        self.key = key
        self.position: int | None = None
        self.admitted = False
        self.released = False

    def __repr__(self) -> str:
        return '<Ticket %s %s>' % (
            self.key, 'running' if self.admitted else
            'queued at %s' % self.position)

    def wait(self, on_position: Callable[[int], None] | None = None
             ) -> None:
        """Block until admitted; ``on_position(n)`` on each new place.

        ``n`` counts from 1 (the next to run). The callback runs outside
        the queue's lock (it writes to the database).
        """
        self._queue._wait(self, on_position)

    def place(self) -> int | None:
        """The current place in the queue (1 is next), None once admitted."""
        return self._queue._place(self)

    def release(self) -> None:
        """Leave the queue (running or not) and admit the next ones."""
        self._queue._release(self)

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class FinishQueue:
    """FIFO admission of at most ``cap()`` concurrently running finishes.

    ``cap`` is read on every admission (a reloaded option applies at
    once); 0 or less means no cap.
    """

    def __init__(self, cap: Callable[[], int]):
        self._cap = cap
        self._cond = threading.Condition()
        self._waiting: collections.deque[Ticket] = collections.deque()
        self._running: list[Ticket] = []

    def enqueue(self, key) -> Ticket:
        """Take the next place in the queue (does not block)."""
        ticket = Ticket(self, key)
        with self._cond:
            self._waiting.append(ticket)
            self._admit()
        return ticket

    def snapshot(self) -> tuple[list, list]:
        """(running keys, waiting keys in order), for logs and tests."""
        with self._cond:
            return ([t.key for t in self._running],
                    [t.key for t in self._waiting])

    def _free(self) -> bool:
        cap = self._cap()
        return cap <= 0 or len(self._running) < cap

    def _admit(self) -> None:
        """Move waiting tickets to running while slots are free (locked)."""
        while self._waiting and self._free():
            ticket = self._waiting.popleft()
            ticket.admitted = True
            self._running.append(ticket)
        self._cond.notify_all()

    def _wait(self, ticket: Ticket, on_position) -> None:
        reported = None
        while True:
            with self._cond:
                while (not ticket.admitted and not ticket.released
                       and self._position(ticket) == reported):
                    self._cond.wait()
                if ticket.admitted or ticket.released:
                    return
                reported = self._position(ticket)
            ticket.position = reported
            LOG.info('Volume migration finish %s queued at position %d',
                     ticket.key, reported)
            if on_position is not None:
                try:
                    on_position(reported)
                except Exception:
                    LOG.exception('Could not record the queue position of '
                                  '%s', ticket.key)

    def _place(self, ticket: Ticket) -> int | None:
        with self._cond:
            if ticket.admitted or ticket.released:
                return None
            return self._position(ticket)

    def _position(self, ticket: Ticket) -> int:
        return self._waiting.index(ticket) + 1

    def _release(self, ticket: Ticket) -> None:
        with self._cond:
            if ticket.released:
                return
            ticket.released = True
            if ticket in self._running:
                self._running.remove(ticket)
            elif ticket in self._waiting:
                self._waiting.remove(ticket)
            self._admit()
