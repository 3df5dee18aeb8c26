"""Volume snapshots: a point-in-time copy of the volume on its own pool.

What upstream Cinder's snapshot API does, at this companion's scale: the
copy is made at create time with the array's native copy (a reflink where
the filesystem has it) into ``snapshot-<id>`` next to the volume's data.
A volume with snapshots can be neither migrated (the offline-migration
blueprint's first rule, upstream's ``Volume %s must not have snapshots.``)
nor deleted (``Volume still has %d dependent snapshots.``).
"""

from __future__ import annotations

from oslo_log import log as logging

from cinder_driver_side.db import models
from cinder_driver_side import exception
from cinder_driver_side.objects import fields
from cinder_driver_side.volume import copy_engines

LOG = logging.getLogger(__name__)

SNAP = fields.SnapshotStatus

#: volume statuses a snapshot may be taken in (in-use needs ``force``)
SNAPSHOT_STATUSES = (fields.VolumeStatus.AVAILABLE,
                     fields.VolumeStatus.IN_USE)


def check_no_snapshots(db, ctx, volume: models.Volume) -> None:
    """Refuse to migrate (or retype with migration) a volume with snapshots.

    Raises InvalidVolume with upstream Cinder's message
    (``cinder.volume.api.API.migrate_volume``).
    """
    if db.snapshot_get_all(ctx.elevated(), volume_id=volume.id,
                           all_projects=True):
        raise exception.InvalidVolume(
            reason='Volume %s must not have snapshots.' % volume.id)


def check_no_dependent_snapshots(db, ctx, volume: models.Volume) -> None:
    """Refuse to delete a volume with snapshots (upstream's message)."""
    snapshots = db.snapshot_get_all(ctx.elevated(), volume_id=volume.id,
                                    all_projects=True)
    if snapshots:
        raise exception.InvalidVolume(
            reason='Volume still has %d dependent snapshots.'
            % len(snapshots))


def create(manager, ctx, volume: models.Volume, *, name: str | None = None,
           description: str | None = None,
           force: bool = False) -> models.Snapshot:
    """Copy the volume's data into a new snapshot on the volume's pool.

    An in-use volume needs ``force`` (its guest may be writing: the copy
    is crash-consistent at best), as upstream.
    """
    if volume.status not in SNAPSHOT_STATUSES or (
            volume.status == fields.VolumeStatus.IN_USE and not force):
        raise exception.InvalidVolume(
            reason='Volume %s status must be available, or in-use with '
                   'force, but current status is: %s'
            % (volume.id, volume.status))
    if volume.migration_status in ('starting', 'migrating', 'completing'):
        raise exception.InvalidVolume(
            reason='Volume %s is migrating' % volume.id)
    db = manager.db
    snapshot = db.snapshot_create(ctx, {
        'volume_id': volume.id, 'project_id': volume.project_id,
        'user_id': ctx.user_id, 'display_name': name,
        'display_description': description, 'volume_size': volume.size,
        'status': SNAP.CREATING, 'host': volume.host})
    try:
        array, pool = manager.placement.locate(volume)
        copy_engines.get_engine('native').copy(
            array.volume_path(pool, volume.backend_name),
            array.volume_path(pool, snapshot.backend_name),
            volume.size_bytes)
    except Exception as e:
        LOG.error('Snapshot %s of volume %s failed: %s', snapshot.id,
                  volume.id, e)
        return db.snapshot_update(ctx, snapshot.id, {'status': SNAP.ERROR})
    LOG.info('Created snapshot %s of volume %s', snapshot.id, volume.id)
    return db.snapshot_update(ctx, snapshot.id, {'status': SNAP.AVAILABLE})


def delete(manager, ctx, snapshot: models.Snapshot) -> None:
    """Remove the snapshot's data, then its row."""
    if snapshot.status not in SNAP.DELETABLE:
        raise exception.InvalidSnapshot(
            reason='Snapshot status must be available or error, but '
                   'current status is: %s' % snapshot.status)
    db = manager.db
    db.snapshot_update(ctx, snapshot.id, {'status': SNAP.DELETING},
                       expected={'status': snapshot.status})
    try:
        array, pool = manager.placement.array_for_host(snapshot.host)
        array.delete_volume(pool, snapshot.backend_name)
    except Exception as e:
        LOG.error('Deleting snapshot %s failed: %s', snapshot.id, e)
        db.snapshot_update(ctx, snapshot.id, {'status': SNAP.ERROR_DELETING})
        raise
    db.snapshot_destroy(ctx, snapshot.id)
