"""Nova's volume-migration statuses, and what each means to Cinder.

The one place the Cinder side interprets the ``status`` of Nova's record
(``GET /os-volume-migrations/{src_attachment_id}``, DESIGN 4):
``starting -> running -> completing -> completed``,
``running -> cancelling -> cancelled``, any -> ``error``.
"""

from __future__ import annotations

import enum


class NovaMigrationStatus:
    """``status`` of Nova's volume-migration record."""

    STARTING = 'starting'
    RUNNING = 'running'
    COMPLETING = 'completing'
    COMPLETED = 'completed'
    CANCELLING = 'cancelling'
    CANCELLED = 'cancelled'
    ERROR = 'error'

    ACTIVE = (STARTING, RUNNING, COMPLETING, CANCELLING)
    #: Nova does nothing more on its own: a cancel has ended.
    TERMINAL = (COMPLETED, CANCELLED, ERROR)


class CompleteOutcome(enum.Enum):
    """What Nova's record says about a complete whose answer was lost."""

    #: Nova switched the guest to dst: src is released; Cinder finishes
    #: (``success``).
    SWITCHED = 'switched'
    #: Nothing switched and the migration still runs: complete may be
    #: called again, or the migration is cancelled (``error``).
    RUNNING = 'running'
    #: Nothing switched and Nova's migration is cancelled: dst goes
    #: (``error``).
    NOT_SWITCHED = 'not_switched'
    #: Nova failed: which disk the guest uses is unknown, both are kept
    #: (``error``).
    NOVA_ERROR = 'nova_error'
    #: Nova may still be switching or falling back to running: no answer
    #: yet (Cinder stays ``completing``; the next start asks again).
    PENDING = 'pending'


_COMPLETE_OUTCOMES = {
    NovaMigrationStatus.COMPLETED: CompleteOutcome.SWITCHED,
    NovaMigrationStatus.STARTING: CompleteOutcome.RUNNING,
    NovaMigrationStatus.RUNNING: CompleteOutcome.RUNNING,
    NovaMigrationStatus.CANCELLING: CompleteOutcome.NOT_SWITCHED,
    NovaMigrationStatus.CANCELLED: CompleteOutcome.NOT_SWITCHED,
    NovaMigrationStatus.COMPLETING: CompleteOutcome.PENDING,
}


def complete_outcome(nova_status: str | None) -> CompleteOutcome:
    """Map Nova's record status after a complete to Cinder's next step.

    Any status not listed (``error``, unknown, missing) is NOVA_ERROR:
    nothing is deleted then.
    """
    return _COMPLETE_OUTCOMES.get(nova_status, CompleteOutcome.NOVA_ERROR)


def is_terminal(nova_status: str | None) -> bool:
    """True once Nova's migration (e.g. a cancel) has ended."""
    return nova_status in NovaMigrationStatus.TERMINAL
