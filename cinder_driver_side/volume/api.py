"""The volume API: validate a request, claim the volume, hand it on.

As upstream's ``cinder/volume/api.py``: the REST layer calls ``API``,
which checks the request against the database and the arrays, claims
the volume with a compare-and-swap and then calls the manager (upstream
casts to it over RPC; here it is in-process). Whatever refuses a
request before anything changes belongs here, not in the manager.
"""

from __future__ import annotations

from oslo_log import log as logging

from cinder_driver_side.db import api as db_api
from cinder_driver_side.db import models
from cinder_driver_side import exception
from cinder_driver_side.objects import fields
from cinder_driver_side.volume import backend_array
from cinder_driver_side.volume import flows
from cinder_driver_side.volume import manager as manager_mod
from cinder_driver_side.volume import snapshots
from cinder_driver_side.volume import utils

LOG = logging.getLogger(__name__)

MIG = fields.VolumeMigrationStatus
STATUS = fields.VolumeStatus


class API:
    """Volume requests of the REST layer (VolumesController)."""

    def __init__(self, manager: manager_mod.VolumeManager):
        self.manager = manager
        self.conf = manager.conf
        self.db = manager.db
        self.placement = manager.placement

    # Volumes

    def create_volume(self, ctx, **kwargs) -> models.Volume:
        """See VolumeManager.create_volume (type and array choice)."""
        return self.manager.create_volume(ctx, **kwargs)

    def delete_volume(self, ctx, volume: models.Volume) -> None:
        if volume.migration_status in MIG.ACTIVE:
            raise exception.InvalidVolume(
                reason='Volume cannot be deleted while migrating')
        source_id = MIG.target_of(volume.migration_status)
        if source_id is not None:
            raise exception.InvalidVolume(
                reason='Volume is the destination of a migration of %s'
                % source_id)
        if self.db.attachment_get_all(ctx.elevated(), volume_id=volume.id):
            raise exception.InvalidVolume(
                reason='Volume status must be available or error and '
                       'have no attachments; it has attachments')
        snapshots.check_no_dependent_snapshots(self.db, ctx, volume)
        if volume.status not in STATUS.DELETABLE:
            raise exception.InvalidVolume(
                reason='Volume status must be available or error, but '
                       'current status is: %s' % volume.status)
        self.manager.delete_volume(ctx, volume)

    # Migration

    def get_migration(self, ctx, volume_id: str) -> models.Migration:
        """The latest migration record of a volume the caller may see."""
        return self.manager.get_migration(ctx, volume_id)

    def migrate_volume(self, ctx, volume: models.Volume, host: str,
                       force_host_copy: bool = False,
                       lock_volume: bool = False,
                       new_type: models.VolumeType | None = None,
                       bandwidth: int | None = None
                       ) -> models.Migration:
        """Validate, claim the volume, record the migration, start it.

        The checks run in this order (the first refusal answers); the
        claim is a compare-and-swap on the volume, so of concurrent
        requests one wins. Returns the migration record.
        """
        if self.manager.stopping.is_set():
            raise exception.InvalidVolume(
                reason='the volume service is stopping')
        self._check_volume_migratable(ctx, volume)
        dest_array, src_array = self._check_destination(ctx, volume, host,
                                                        new_type)
        src_attachment = self._check_attachments(ctx, volume)
        kind = flows.choose_kind(src_attachment is not None,
                                 force_host_copy,
                                 self.conf.attached_migration_mode)
        if kind == fields.MigrationKind.DETACHED:
            # Detached deletes src at the end: refuse now if a guest
            # still has it (the flow checks again before the switch).
            self.placement.check_not_in_use(volume)
        engine = flows.copy_engine(kind, force_host_copy,
                                   same_array=dest_array is src_array)
        record = self._claim(ctx, volume, host, kind, engine, lock_volume,
                             new_type, src_attachment, bandwidth)
        LOG.info('Migrating volume %(vol)s from %(src)s to %(dst)s: '
                 '%(kind)s, copy %(engine)s, migration %(mig)s',
                 {'vol': volume.id, 'src': volume.host, 'dst': host,
                  'kind': kind, 'engine': engine, 'mig': record.id})
        self.manager.migrate_volume(ctx, record)
        return record

    def cancel_migration(self, ctx, volume: models.Volume) -> None:
        """os-migrate_volume_cancel: end the volume's migration now.

        400 without an active migration, 409 once the switch is under
        way (``completing``); the flow decides the close races.
        """
        status = volume.migration_status
        if status not in MIG.ACTIVE:
            raise exception.InvalidVolume(
                reason='volume %s has no active migration to cancel '
                       '(migration_status %s)' % (volume.id, status))
        if status not in MIG.CANCELLABLE:
            record = self.db.migration_get_latest(ctx, volume.id)
            raise exception.MigrationCancelTooLate(
                migration_id=record.id, volume_id=volume.id,
                reason='its status is %s: the switch to the destination '
                       'is under way' % status)
        LOG.info('Cancelling the migration of volume %s (%s)', volume.id,
                 status)
        self.manager.cancel_migration(ctx, volume)

    def _check_volume_migratable(self, ctx, volume: models.Volume) -> None:
        """Refusals that depend on the volume alone.

        Checks of the volume itself (its status, other migrations, and
        any further condition such as snapshots) go here.
        """
        if volume.migration_status in MIG.ACTIVE:
            raise exception.InvalidVolume(
                reason='Volume %s is already part of an active migration '
                       '(migration_status %s)'
                % (volume.id, volume.migration_status))
        if MIG.target_of(volume.migration_status) is not None:
            raise exception.InvalidVolume(
                reason='volume %s is the destination of a migration'
                % volume.id)
        if volume.status not in STATUS.MIGRATABLE:
            raise exception.InvalidVolume(
                reason='Volume status must be available or in-use, but '
                       'current status is: %s' % volume.status)
        snapshots.check_no_snapshots(self.db, ctx, volume)

    def _check_destination(self, ctx, volume: models.Volume, host: str,
                           new_type: models.VolumeType | None
                           ) -> tuple[backend_array.Array,
                                      backend_array.Array]:
        """``host`` is one of our pools, other than the volume's, fit.

        Returns the destination's array and the volume's own.
        """
        dest_array, dest_pool = self.placement.array_for_host(host)
        dest_array.check_volume_size(dest_pool, volume.size_bytes)
        src_array, _src_pool = self.placement.locate(volume)
        if utils.parse_host(host) == utils.parse_host(volume.host):
            raise exception.InvalidHost(
                reason='Destination host must be different than the '
                       'current host')
        if new_type is None:
            vtype = self.db.volume_type_get(ctx, volume.volume_type_id)
            wanted = self.db.extra_specs_get(ctx, vtype.id).get(
                'volume_backend_name')
            if wanted and wanted != dest_array.volume_backend_name:
                raise exception.InvalidHost(
                    reason='volume type %s needs volume_backend_name %s; '
                           '%s is %s (use retype to change it)'
                    % (vtype.name, wanted, host,
                       dest_array.volume_backend_name))
        return dest_array, src_array

    def _check_attachments(self, ctx, volume: models.Volume
                           ) -> models.VolumeAttachment | None:
        """The one complete attachment to migrate with, or None."""
        attachments = self.db.attachment_get_all(ctx, volume_id=volume.id)
        if attachments and volume.multiattach:
            raise exception.MultiattachMigrationRefused(volume_id=volume.id)
        if len(attachments) > 1:
            raise exception.InvalidVolume(
                reason='volume %s has %d attachments'
                % (volume.id, len(attachments)))
        src_attachment = attachments[0] if attachments else None
        if src_attachment is not None and (
                src_attachment.attach_status
                != fields.VolumeAttachStatus.ATTACHED
                or not src_attachment.instance_uuid
                or not src_attachment.connection_info):
            raise exception.InvalidVolume(
                reason='attachment %s of volume %s is %s; migrate attached '
                       'volumes once the attachment is complete'
                % (src_attachment.id, volume.id,
                   src_attachment.attach_status))
        return src_attachment

    def _claim(self, ctx, volume: models.Volume, host: str, kind: str,
               engine: str | None, lock_volume: bool,
               new_type: models.VolumeType | None,
               src_attachment: models.VolumeAttachment | None,
               bandwidth: int | None = None) -> models.Migration:
        """Mark the volume ``starting`` (compare-and-swap), record it."""
        # Upstream: lock_volume applies to available volumes only.
        lock = bool(lock_volume) and volume.status == STATUS.AVAILABLE
        values = {'migration_status': MIG.STARTING,
                  'migration_progress': None}
        if lock:
            values['status'] = STATUS.MAINTENANCE
        if new_type is not None and volume.status == STATUS.AVAILABLE:
            # Upstream: "retyping" until the retype ends (what Watcher's
            # check_retyped waits on), then restored as a lock is.
            lock, values['status'] = True, STATUS.RETYPING
        try:
            self.db.volume_update(ctx, volume.id, values, expected={
                'migration_status': MIG.RESTARTABLE,
                'status': volume.status})
        except db_api.UnexpectedValues:
            raise exception.InvalidVolume(
                reason='Volume %s is already part of an active migration '
                       'or changed state meanwhile' % volume.id)
        return self.db.migration_create(ctx, {
            'volume_id': volume.id, 'kind': kind, 'copy_engine': engine,
            'source_host': volume.host, 'dest_host': host,
            'new_type_id': new_type.id if new_type else None,
            'instance_uuid': src_attachment.instance_uuid
            if src_attachment else None,
            'src_attachment_id': src_attachment.id
            if src_attachment else None,
            'lock_volume': lock, 'original_status': volume.status,
            'requested_bandwidth': bandwidth, 'status': MIG.STARTING})

    def retype(self, ctx, volume: models.Volume, new_type_name: str,
               migration_policy: str = 'never') -> models.Migration | None:
        """Change the type; migrate (on-demand) if the array changes."""
        new_type = self.manager.get_type(ctx, new_type_name)
        if new_type.id == volume.volume_type_id:
            raise exception.InvalidInput(
                reason='New volume type must be different from the '
                       'current one (%s)' % new_type.name)
        if volume.status not in STATUS.MIGRATABLE:
            raise exception.InvalidVolume(
                reason='Volume status must be available or in-use, but '
                       'current status is: %s' % volume.status)
        if volume.migration_status in MIG.ACTIVE:
            raise exception.InvalidVolume(
                reason='Volume %s is already part of an active migration'
                % volume.id)
        src_array, _pool = self.placement.locate(volume)
        target = self.placement.array_for_type(ctx, self.db, new_type)
        if target is None or target is src_array:
            self.db.volume_update(ctx, volume.id,
                                  {'volume_type_id': new_type.id})
            return None
        if migration_policy != 'on-demand':
            raise exception.InvalidInput(
                reason='Retype requires migration but is not allowed '
                       '(migration_policy is %s, not on-demand)'
                % migration_policy)
        host = str(target.location(next(iter(target.pools))))
        return self.migrate_volume(ctx, volume, host, new_type=new_type)

    def migrate_volume_completion(self, ctx, volume_id: str,
                                  new_volume_id: str, error: bool) -> str:
        """Nova's callback at the end of a legacy swap; save_volume_id."""
        volume = self.db.volume_get(ctx, volume_id)
        new_volume = self.db.volume_get(ctx, new_volume_id)
        if volume.migration_status not in MIG.ACTIVE:
            raise exception.InvalidVolume(
                reason='Source volume not mid-migration.')
        if new_volume.migration_status != MIG.target(volume.id):
            raise exception.InvalidVolume(
                reason='Destination volume not mid-migration.')
        record = self.db.migration_get_latest(ctx, volume_id)
        if record.kind != fields.MigrationKind.LEGACY or \
                record.new_volume_id != new_volume_id:
            raise exception.InvalidVolume(
                reason='volume %s is not in a swap to %s'
                % (volume_id, new_volume_id))
        return self.manager.migrate_volume_completion(ctx, record, error)
