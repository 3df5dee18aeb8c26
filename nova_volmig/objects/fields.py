"""Enumerations of the Nova side's objects (as ``nova.objects.fields``)."""

from __future__ import annotations


class VolumeMigrationStatus:
    """The status of a volume migration record (DESIGN 4).

    The one vocabulary of the Nova side: the REST API shows these values,
    the compute API and manager change a record between them only through
    :class:`nova_volmig.objects.volume_migration.VolumeMigration`.
    """

    #: Created by the API; the compute host is redirecting writes.
    STARTING = 'starting'
    #: Writes no longer reach src; Cinder copies.
    RUNNING = 'running'
    #: Complete was asked: the switch to dst, then its asynchronous finish.
    COMPLETING = 'completing'
    COMPLETED = 'completed'
    #: Cancel was asked: writes go back to src asynchronously.
    CANCELLING = 'cancelling'
    CANCELLED = 'cancelled'
    ERROR = 'error'

    #: Every status, in the order the API documents them.
    ALL = (STARTING, RUNNING, COMPLETING, COMPLETED, CANCELLING, CANCELLED,
           ERROR)
    #: A migration in one of these holds its attachment and instance.
    ACTIVE = (STARTING, RUNNING, COMPLETING, CANCELLING)
    TERMINAL = (COMPLETED, CANCELLED, ERROR)
