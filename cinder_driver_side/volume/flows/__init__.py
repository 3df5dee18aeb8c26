"""Migration flows, one strategy per way of moving a volume's data.

Statuses, on the volume (``migration_status``) and the migration record
alike: ``starting -> migrating -> completing -> success | error``
(``objects.fields.VolumeMigrationStatus``).

* ``detached.DetachedFlow``: no attachment; Cinder copies alone.
* ``attached.AttachedFlow``: Nova's volume-migration start / copy /
  complete (DESIGN 7).
* ``legacy.LegacyFlow``: Nova's swap and os-migrate_volume_completion.

``choose_kind`` picks the strategy of a new migration, ``flow_for``
builds the flow of a migration record (new or being recovered).
"""

from __future__ import annotations

from cinder_driver_side.db import models
from cinder_driver_side.objects import fields
from cinder_driver_side.volume.flows import attached
from cinder_driver_side.volume.flows import base
from cinder_driver_side.volume.flows import detached
from cinder_driver_side.volume.flows import legacy

Collaborators = base.Collaborators
MigrationFlow = base.MigrationFlow

STRATEGIES: dict[str, type[base.MigrationFlow]] = {
    cls.kind: cls for cls in (detached.DetachedFlow, attached.AttachedFlow,
                              legacy.LegacyFlow)}

#: ``[DEFAULT] attached_migration_mode`` value that selects the swap.
LEGACY_MODE = 'legacy'


def choose_kind(is_attached: bool, force_host_copy: bool,
                attached_migration_mode: str) -> str:
    """The kind of a new migration (a key of STRATEGIES).

    Attached volumes take Nova's volume migration, unless the operator
    chose the legacy swap or the caller forces a host copy (which, for
    an attached volume, upstream does with Nova's swap).
    """
    if not is_attached:
        return fields.MigrationKind.DETACHED
    if force_host_copy or attached_migration_mode == LEGACY_MODE:
        return fields.MigrationKind.LEGACY
    return fields.MigrationKind.ATTACHED


def copy_engine(kind: str, force_host_copy: bool,
                same_array: bool) -> str | None:
    """The copy engine a new migration of ``kind`` records."""
    return STRATEGIES[kind].copy_engine(force_host_copy, same_array)


def flow_for(record: models.Migration,
             deps: base.Collaborators) -> base.MigrationFlow:
    """The flow (not yet started) of the migration ``record``."""
    return STRATEGIES[record.kind](record, deps)
