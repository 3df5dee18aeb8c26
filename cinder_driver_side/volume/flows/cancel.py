"""Cancel of a running migration (``os-migrate_volume_cancel``).

A cancel is accepted while src is still the volume's data and the flow
may drop dst: ``queued``, ``starting`` and ``migrating`` (a legacy swap
only until Nova's swap is requested). It sets the flow's abort event, so
the copy stops at its next progress report and the flow takes the path
of a failed copy (Nova cancel, dst and its attachment deleted), except
that ``_fail`` records ``cancelled``. ``_enter_completing`` is the one
point after which a cancel answers 409: it and ``cancel`` decide under
the flow's lock, so a copy that has just finished either completes or
is cancelled, never both.
"""

from __future__ import annotations

from cinder_driver_side import exception
from cinder_driver_side.objects import fields

MIG = fields.VolumeMigrationStatus

CANCEL_REASON = 'cancelled by an administrator (os-migrate_volume_cancel)'


class CancelMixin:
    """Cancel of MigrationFlow (needs its _lock, _reload, abort, _fail)."""

    #: os-migrate_volume_cancel accepted: the flow ends ``cancelled``.
    _cancel_requested = False

    def cancel(self) -> None:
        """Stop this migration on an administrator's request.

        The flow then cleans up as after a failed copy and ends
        ``cancelled``. Raises MigrationCancelTooLate once the switch is
        under way.
        """
        with self._lock:
            reason = self._too_late_to_cancel(self._reload().status)
            if reason:
                raise exception.MigrationCancelTooLate(
                    migration_id=self.migration_id,
                    volume_id=self.volume_id, reason=reason)
            self._cancel_requested = True
            self.abort(CANCEL_REASON)

    def cancel_queued(self) -> None:
        """End a migration taken out of the queue: it never started."""
        self._cancel_requested = True
        self._abort_reason = CANCEL_REASON
        self._fail(CANCEL_REASON)

    def _too_late_to_cancel(self, status: str) -> str | None:
        """Why a cancel is refused now, or None (called under _lock)."""
        if status not in MIG.CANCELLABLE:
            return ('its status is %s: the switch to the destination is '
                    'under way' % status)
        return None

    def _enter_completing(self) -> bool:
        """Say ``completing`` unless cancelled; False if cancelled."""
        with self._lock:
            if self._cancel_requested:
                return False
            self._set_status(MIG.COMPLETING)
            return True
