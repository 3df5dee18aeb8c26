"""Status values of volumes, attachments and migrations.

As upstream's ``cinder/objects/fields.py`` (``VolumeStatus``,
``VolumeAttachStatus``, ``VolumeMigrationStatus``): one name per value
the database and the REST API carry, so no module spells them itself.
Nova's own volume-migration statuses and what they mean to Cinder are in
``cinder_driver_side.compute.migration_status``.
"""

from __future__ import annotations


class VolumeStatus:
    """``volumes.status``."""

    CREATING = 'creating'
    AVAILABLE = 'available'
    RESERVED = 'reserved'
    ATTACHING = 'attaching'
    IN_USE = 'in-use'
    MAINTENANCE = 'maintenance'
    #: An available volume whose retype migrates it (upstream's value).
    RETYPING = 'retyping'
    DELETING = 'deleting'
    DELETED = 'deleted'
    ERROR = 'error'
    ERROR_DELETING = 'error_deleting'

    #: A volume may be migrated or retyped from these.
    MIGRATABLE = (AVAILABLE, IN_USE)
    #: A volume may be deleted from these.
    DELETABLE = (AVAILABLE, ERROR, ERROR_DELETING)
    #: A volume may get one more attachment from these.
    ATTACHABLE = (AVAILABLE, IN_USE, RESERVED, ATTACHING)


class SnapshotStatus:
    """``snapshots.status`` (upstream's ``SnapshotStatus``)."""

    CREATING = 'creating'
    AVAILABLE = 'available'
    DELETING = 'deleting'
    ERROR = 'error'
    ERROR_DELETING = 'error_deleting'

    #: A snapshot may be deleted from these.
    DELETABLE = (AVAILABLE, ERROR, ERROR_DELETING)


class VolumeAttachStatus:
    """``volumes.attach_status`` and ``volume_attachment.attach_status``."""

    RESERVED = 'reserved'
    ATTACHING = 'attaching'
    ATTACHED = 'attached'
    DETACHED = 'detached'


class VolumeMigrationStatus:
    """``volumes.migration_status`` and ``migrations.status`` alike.

    ``[queued ->] starting -> migrating -> completing -> success | error``
    (DESIGN 7); ``queued``, ``starting`` or ``migrating`` may also end
    ``cancelled`` (os-migrate_volume_cancel). ``target:<id>`` marks the
    destination volume of a migration of <id>.
    """

    #: Waiting for a slot of its backend (max_concurrent_migrations).
    QUEUED = 'queued'
    STARTING = 'starting'
    MIGRATING = 'migrating'
    COMPLETING = 'completing'
    SUCCESS = 'success'
    ERROR = 'error'
    #: Ended by an administrator before the switch: src untouched, dst
    #: gone. Not ``error``: nothing failed, and monitoring that alerts on
    #: ``error`` must not page for an operator's decision.
    CANCELLED = 'cancelled'

    #: A migration in one of these has a flow (or a recovery) to run.
    ACTIVE = (QUEUED, STARTING, MIGRATING, COMPLETING)
    #: os-migrate_volume_cancel may end a migration in these (the flow
    #: may still refuse, e.g. a legacy swap already requested).
    CANCELLABLE = (QUEUED, STARTING, MIGRATING)
    #: A volume may start a migration from these (None: never migrated).
    RESTARTABLE = (None, SUCCESS, ERROR, CANCELLED)

    TARGET_PREFIX = 'target:'

    @classmethod
    def target(cls, volume_id: str) -> str:
        """The destination's status while ``volume_id`` migrates to it."""
        return cls.TARGET_PREFIX + volume_id

    @classmethod
    def target_of(cls, status: str | None) -> str | None:
        """The source volume id of a destination's status, else None."""
        if status and status.startswith(cls.TARGET_PREFIX):
            return status[len(cls.TARGET_PREFIX):]
        return None


class MigrationKind:
    """``migrations.kind``: which flow moves the data."""

    #: No attachment: Cinder copies alone, no Nova.
    DETACHED = 'detached'
    #: Attached: Nova's volume-migration start / complete / cancel.
    ATTACHED = 'attached'
    #: Attached: Nova's swap and the os-migrate_volume_completion callback.
    LEGACY = 'legacy'


class CopyEngine:
    """``migrations.copy_engine`` (None: Nova mirrors the data itself)."""

    NATIVE = 'native'
    GENERIC = 'generic'
