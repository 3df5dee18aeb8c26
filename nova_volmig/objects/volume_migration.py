"""The volume migration record and its state machine (DESIGN 3 and 4).

One object per record, in the spirit of Nova's versioned objects: its
fields are plain data (connection_info and driver_data are dicts; the
database column type is the one place they are JSON), and every state
change is one method, a compare-and-swap on the row
(``db.migration_update(values, expected)``). A swap that finds the record
in another state raises :class:`~nova_volmig.exception.
VolumeMigrationInvalidState`, the conflict the REST API answers 409.

The object is also what a virt driver sees of the migration
(:class:`nova_volmig.virt.driver.VolumeMigrationHandle`).
"""

from __future__ import annotations

import datetime
import threading
import time
from typing import Any, Iterable

from oslo_config import cfg

from nova_volmig.compute import task_states
from nova_volmig.db import api as db
from nova_volmig.db import models
from nova_volmig import exception
from nova_volmig.objects import fields

CONF = cfg.CONF

Status = fields.VolumeMigrationStatus

# A complete undone before its switch leaves the instance migrating again,
# in the same transaction as the record.
_BACK_TO_MIGRATING = {
    'instance_values': {'task_state': task_states.VOLUME_MIGRATING},
    'instance_expected': {
        'task_state': task_states.VOLUME_MIGRATION_STATES}}


class VolumeMigration:
    """One volume migration, keyed by its src attachment."""

    #: The record's fields, as the database holds them.
    FIELDS = ('id', 'src_attachment_id', 'dst_attachment_id',
              'instance_uuid', 'volume_id', 'host', 'status', 'progress',
              'error', 'src_connection_info', 'dst_connection_info',
              'device_name', 'driver_data', 'claimed_by', 'was_running',
              'created_at', 'updated_at')

    id: int
    src_attachment_id: str
    dst_attachment_id: str | None
    instance_uuid: str
    volume_id: str
    host: str | None
    status: str
    progress: str | None
    error: str | None
    src_connection_info: dict | None
    dst_connection_info: dict | None
    device_name: str | None
    driver_data: dict
    claimed_by: str | None
    was_running: bool | None
    created_at: datetime.datetime
    updated_at: datetime.datetime | None

    def __init__(self, context, row: models.VolumeMigration):
        self._context = context
        self._lock = threading.Lock()
        # -inf, not 0: monotonic() counts from boot, and a host up for
        # less than the interval would drop the first progress.
        self._last_progress_write = float('-inf')
        self._last_progress: int | None = None
        self._load(row)

    def __repr__(self) -> str:
        return '<VolumeMigration %s %s of attachment %s>' % (
            self.id, self.status, self.src_attachment_id)

    def _load(self, row: models.VolumeMigration,
              driver_data: bool = True) -> None:
        """Take the row's fields.

        A state change keeps driver_data as it is: a driver may be
        merging into it (:meth:`save_driver_data`) from its own thread.
        """
        for name in self.FIELDS:
            if name != 'driver_data':
                setattr(self, name, getattr(row, name))
        if driver_data:
            with self._lock:
                self.driver_data = row.driver_data or {}

    # Queries

    @classmethod
    def get_by_id(cls, context, migration_id: int) -> VolumeMigration:
        return cls(context, db.migration_get(context, migration_id))

    @classmethod
    def get_latest(cls, context, src_attachment_id: str) -> VolumeMigration:
        """The most recent migration of an attachment (DESIGN 3)."""
        return cls(context, db.migration_get_latest(context,
                                                    src_attachment_id))

    @classmethod
    def list(cls, context, *, instance_uuid: str | None = None,
             status: str | None = None,
             statuses: Iterable[str] | None = None,
             host: str | None = None, project_id: str | None = None
             ) -> list[VolumeMigration]:
        return [cls(context, row) for row in db.migration_get_all(
            context, instance_uuid=instance_uuid, status=status,
            statuses=statuses, host=host, project_id=project_id)]

    def refresh(self) -> VolumeMigration:
        """Re-read the record (another service may have changed it)."""
        self._load(db.migration_get(self._context, self.id))
        return self

    @property
    def active(self) -> bool:
        return self.status in Status.ACTIVE

    # The compare-and-swap every change goes through

    def _save(self, values: dict, expected: dict | None = None,
              action: str | None = None, **instance_update) -> None:
        """``db.migration_update`` of this record; the fields follow.

        When ``expected`` does not hold, raises VolumeMigrationInvalidState
        naming the status found (the instance's own compare-and-swap, when
        ``instance_update`` has one, raises db.UnexpectedValues).
        """
        try:
            row = db.migration_update(self._context, self.id, values,
                                      expected, **instance_update)
        except db.UnexpectedValues:
            current = db.migration_get(self._context, self.id)
            if all(getattr(current, col) == want
                   for col, want in (expected or {}).items()):
                raise  # the record matched: the instance did not
            self._load(current, driver_data=False)
            claim = 'claimed_by' in (expected or {})
            raise exception.VolumeMigrationInvalidState(
                action=action, attachment_id=self.src_attachment_id,
                status=('%s (claimed by %s)' % (current.status,
                                                current.claimed_by)
                        if claim else current.status),
                expected=(expected['status'] + (', unclaimed' if claim
                                                else '')))
        self._load(row, driver_data=False)

    # Transitions asked by the compute API

    @classmethod
    def create(cls, context, bdm: models.BlockDeviceMapping,
               host: str) -> VolumeMigration:
        """A new migration of ``bdm``'s attachment, ``starting``."""
        return cls(context, db.migration_create(context, {
            'src_attachment_id': bdm.attachment_id,
            'instance_uuid': bdm.instance_uuid,
            'volume_id': bdm.volume_id,
            'host': host,
            'status': Status.STARTING,
            'src_connection_info': bdm.connection_info,
            'device_name': bdm.device_name,
        }))

    def abandon_start(self, reason: str) -> None:
        """starting -> error: the compute host did not confirm start."""
        self._save({'status': Status.ERROR, 'error': reason},
                   {'status': Status.STARTING}, 'start')

    def begin_complete(self, dst_attachment_id: str,
                       dst_connection_info: dict | None = None) -> None:
        """running -> completing, towards ``dst_attachment_id``.

        ``dst_connection_info`` is Cinder's, as the API just read it with
        the attachment (Cinder's flow exports dst to the compute host's
        connector); without one the compute host connects dst itself.
        The one of an earlier attempt no longer holds.
        """
        self._save({'status': Status.COMPLETING,
                    'dst_attachment_id': dst_attachment_id,
                    'dst_connection_info': dst_connection_info,
                    'claimed_by': None, 'error': None},
                   {'status': Status.RUNNING}, 'complete')

    def begin_cancel(self) -> None:
        """running -> cancelling."""
        self._save({'status': Status.CANCELLING},
                   {'status': Status.RUNNING}, 'cancel')

    def complete_not_taken(self, reason: str) -> None:
        """completing (unclaimed) -> running; the instance migrating.

        No compute host took the complete: nothing was switched and the
        caller may complete again or cancel. Raises if a host took it.
        """
        self._save({'status': Status.RUNNING, 'error': reason},
                   {'status': Status.COMPLETING, 'claimed_by': None},
                   'complete', **_BACK_TO_MIGRATING)

    # Transitions made by the compute manager

    def record_power_state(self, running: bool) -> None:
        """Whether the guest ran when start redirected its writes."""
        self._save({'was_running': running})

    def mark_running(self) -> None:
        """starting -> running: nothing more is written to src."""
        self._save({'status': Status.RUNNING}, {'status': Status.STARTING},
                   'start')

    def claim_complete(self, host: str) -> None:
        """Take the complete before switching anything.

        The API undoes a complete it stopped waiting for only while no
        host has claimed it (:meth:`complete_not_taken`): one of the two
        wins.
        """
        self._save({'claimed_by': host},
                   {'status': Status.COMPLETING, 'claimed_by': None},
                   'complete')

    def set_dst_connection_info(self, connection_info: dict) -> None:
        """What the compute host got from Cinder for dst, for its switch."""
        self._save({'dst_connection_info': connection_info})

    def complete_undone(self, reason: str, *,
                        check_task_state: bool = True) -> None:
        """completing -> running, unclaimed: the guest is still on src.

        ``check_task_state=False`` (start-up reconciliation) sets the
        instance migrating whatever its task state was.
        """
        instance_update = dict(_BACK_TO_MIGRATING)
        if not check_task_state:
            del instance_update['instance_expected']
        self._save({'status': Status.RUNNING, 'claimed_by': None,
                    'error': reason},
                   {'status': Status.COMPLETING}, 'complete',
                   **instance_update)

    def complete_finished(self) -> None:
        """completing -> completed: the guest uses dst alone."""
        self._save({'status': Status.COMPLETED, 'progress': None},
                   {'status': Status.COMPLETING}, 'complete')

    def cancel_finished(self) -> None:
        """cancelling -> cancelled: src holds every write."""
        self._save({'status': Status.CANCELLED, 'progress': None},
                   {'status': Status.CANCELLING}, 'cancel')

    def fail(self, reason: str) -> None:
        """Any status -> error, with the reason shown to the caller."""
        self._save({'status': Status.ERROR, 'error': reason,
                    'progress': None})

    # What a virt driver writes (VolumeMigrationHandle)

    def save_driver_data(self, **values: Any) -> None:
        """Merge ``values`` into driver_data and persist them now."""
        with self._lock:
            self.driver_data.update(values)
            db.migration_update(self._context, self.id,
                                {'driver_data': self.driver_data})

    def set_finish(self, **values: Any) -> None:
        """Merge ``values`` into driver_data['finish'] and persist them.

        What the record shows of its asynchronous finish: ``state``
        (``queued`` or ``running``), ``queue_position`` while queued, and
        the block job's bytes (:meth:`set_job_bytes`).
        """
        with self._lock:
            finish = dict(self.driver_data.get('finish') or {})
            finish.update(values)
            self.driver_data['finish'] = finish
            db.migration_update(self._context, self.id,
                                {'driver_data': self.driver_data})

    def set_job_bytes(self, done: int, total: int) -> None:
        """Record the finish's block job bytes while the finish runs.

        ``done``/``total`` are ``cur``/``end`` of virDomainGetBlockJobInfo.
        """
        finish = (self.driver_data or {}).get('finish')
        if not finish or finish.get('state') != 'running':
            return  # the synchronous complete copy: the percent says it
        if (finish.get('bytes_done'), finish.get('bytes_total')) == (
                done, total):
            return
        self.set_finish(bytes_done=int(done), bytes_total=int(total))

    def set_progress(self, percent: int | None) -> None:
        """Record the copy's progress, at most every few seconds."""
        now = time.monotonic()
        if percent == self._last_progress:
            return
        final = percent is None or percent >= 100
        if (not final and now - self._last_progress_write
                < CONF.compute.progress_update_interval):
            return
        self._last_progress_write = now
        self._last_progress = percent
        db.migration_update(self._context, self.id, {
            'progress': None if percent is None else str(int(percent))})
