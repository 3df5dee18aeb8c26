"""The volume manager: volumes, types, attachments and migrations.

Cinder splits this between cinder-api, the scheduler and cinder-volume;
here it is one object per service, called by the REST layer in-process.
Migrations run in threads (cinder_driver_side.volume.migration).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import excutils
from oslo_utils import strutils
from oslo_utils import timeutils

from cinder_driver_side.compute import nova
from cinder_driver_side import context as cinder_context
from cinder_driver_side.db import api as db_api
from cinder_driver_side.db import models
from cinder_driver_side import exception
from cinder_driver_side.volume import backend_array
from cinder_driver_side.volume import migration
from cinder_driver_side.volume import snapshots
from cinder_driver_side.volume import utils

LOG = logging.getLogger(__name__)

MIGRATING = migration.ACTIVE_STATUSES
#: Seconds a deleted attachment's NBD clients get to hang up before the
#: export is kept for them.
EXPORT_CLIENTS_SETTLE = 2.0


def _is_true(value: Any) -> bool:
    if isinstance(value, str) and value.startswith('<is> '):
        value = value[len('<is> '):]
    return strutils.bool_from_string(value)


class VolumeManager:
    """All volume operations of one cinder-volmig service."""

    def __init__(self, conf: cfg.ConfigOpts, db: db_api.Connection,
                 nova_client: nova.NovaClient | None = None):
        self.conf = conf
        self.db = db
        self.nova = nova_client or nova.NovaClient(conf)
        self.arrays: dict[str, backend_array.Array] = {}
        for name in conf.enabled_backends:
            self.arrays[name] = backend_array.Array(conf, name)
        if not self.arrays:
            raise exception.InvalidInput(
                reason='no backend: set [DEFAULT] enabled_backends')
        self._flows: dict[str, migration.MigrationFlow] = {}
        self._flows_lock = threading.Lock()
        self.stopping = threading.Event()

    # Life cycle

    def init_host(self) -> None:
        """Default type, NBD exports still needed, unfinished migrations."""
        ctx = cinder_context.get_admin_context()
        try:
            self.db.volume_type_get_by_name(ctx,
                                            self.conf.default_volume_type)
        except exception.VolumeTypeNotFound:
            self.db.volume_type_create(
                ctx, self.conf.default_volume_type,
                description='Default Volume Type')
        self._adopt_exports(ctx)
        for row in self.db.migration_get_all(ctx, statuses=MIGRATING):
            flow = migration.MigrationFlow(self, row)
            self._register(flow)
            flow.start(recover=True)

    def _adopt_exports(self, ctx) -> None:
        wanted: dict[str, dict[str, str]] = {n: {} for n in self.arrays}
        for att in self.db.attachment_get_all(ctx):
            info = json.loads(att.connection_info or 'null')
            if not info or info.get('driver_volume_type') != 'nbd':
                continue
            try:
                volume = self.db.volume_get(ctx, att.volume_id)
                arr, pool = self.locate(volume)
            except exception.CinderException:
                continue
            wanted[arr.name][volume.backend_name] = arr.volume_path(
                pool, volume.backend_name)
        for name, arr in self.arrays.items():
            arr.adopt_exports(wanted[name])

    def stop(self, timeout: float = 120.0, stop_exports: bool = True) -> None:
        """Stop: abort copies, let switches finish, stop NBD exports.

        Each aborted copy cancels on Nova and cleans up.
        """
        self.stopping.set()
        with self._flows_lock:
            flows = list(self._flows.values())
        for flow in flows:
            flow.abort('the volume service is stopping')
        for flow in flows:
            flow.join(timeout)
        if stop_exports:
            for arr in self.arrays.values():
                arr.stop()

    def _register(self, flow: migration.MigrationFlow) -> None:
        with self._flows_lock:
            self._flows[flow.volume_id] = flow

    def flow_done(self, flow: migration.MigrationFlow) -> None:
        with self._flows_lock:
            if self._flows.get(flow.volume_id) is flow:
                del self._flows[flow.volume_id]

    def get_flow(self, volume_id: str) -> migration.MigrationFlow | None:
        with self._flows_lock:
            return self._flows.get(volume_id)

    # Placement

    def _find_pool(self, host: str
                   ) -> tuple[backend_array.Array | None, str]:
        """The array (None if not one of ours) and pool of ``host``."""
        loc = utils.parse_host(host)
        arr = self.arrays.get(loc.backend)
        if arr is None or loc.host != self.conf.host \
                or loc.pool not in arr.pools:
            return None, loc.pool
        return arr, loc.pool

    def locate(self, volume: models.Volume
               ) -> tuple[backend_array.Array, str]:
        """The array and pool holding ``volume``'s data."""
        arr, pool = self._find_pool(volume.host)
        if arr is None:
            raise exception.BackendNotFound(host=volume.host)
        return arr, pool

    def array_for_host(self, host: str) -> tuple[backend_array.Array, str]:
        arr, pool = self._find_pool(host)
        if arr is None:
            known = ', '.join(h for a in self.arrays.values()
                              for h in a.pool_hosts())
            raise exception.InvalidHost(
                reason='no pool named %s; known pools: %s' % (host, known))
        return arr, pool

    def _array_for_type(self, ctx, volume_type: models.VolumeType | None
                        ) -> backend_array.Array | None:
        """First array matching the type's volume_backend_name, if any."""
        if volume_type is None:
            return None
        wanted = self.db.extra_specs_get(ctx, volume_type.id).get(
            'volume_backend_name')
        if not wanted:
            return None
        for arr in self.arrays.values():
            if arr.volume_backend_name == wanted:
                return arr
        raise exception.InvalidVolumeType(
            reason='no backend has volume_backend_name %s (type %s)'
            % (wanted, volume_type.name))

    def pool_stats(self) -> list[dict]:
        return [p for a in self.arrays.values() for p in a.pool_stats()]

    # Volume types

    def get_type(self, ctx, name_or_id: str | None) -> models.VolumeType:
        if not name_or_id:
            name_or_id = self.conf.default_volume_type
        try:
            return self.db.volume_type_get(ctx, name_or_id)
        except exception.VolumeTypeNotFound:
            return self.db.volume_type_get_by_name(ctx, name_or_id)

    # Volumes

    def create_volume(self, ctx, *, size_bytes: int,
                      name: str | None = None,
                      description: str | None = None,
                      volume_type: str | None = None,
                      multiattach: bool = False,
                      availability_zone: str | None = None
                      ) -> models.Volume:
        vtype = self.get_type(ctx, volume_type)
        specs = self.db.extra_specs_get(ctx, vtype.id)
        multiattach = multiattach or _is_true(specs.get('multiattach',
                                                        'False'))
        arr = self._array_for_type(ctx, vtype) or next(
            iter(self.arrays.values()))
        pool = next(iter(arr.pools))
        arr.check_volume_size(pool, size_bytes)
        volume = self.db.volume_create(ctx, {
            'display_name': name, 'display_description': description,
            'project_id': ctx.project_id, 'user_id': ctx.user_id,
            'size': utils.size_in_gib(size_bytes), 'size_bytes': size_bytes,
            'status': 'creating', 'attach_status': 'detached',
            'availability_zone': availability_zone or 'nova',
            'host': str(arr.location(pool)), 'volume_type_id': vtype.id,
            'multiattach': multiattach})
        try:
            arr.create_volume(pool, volume.backend_name, size_bytes)
        except Exception as e:
            LOG.error('Creating volume %s failed: %s', volume.id, e)
            return self.db.volume_update(ctx, volume.id, {'status': 'error'})
        return self.db.volume_update(ctx, volume.id, {'status': 'available'})

    def delete_volume(self, ctx, volume: models.Volume) -> None:
        if volume.migration_status in MIGRATING:
            raise exception.InvalidVolume(
                reason='Volume cannot be deleted while migrating')
        if (volume.migration_status or '').startswith('target:'):
            raise exception.InvalidVolume(
                reason='Volume is the destination of a migration of %s'
                % volume.migration_status[len('target:'):])
        if self.db.attachment_get_all(ctx.elevated(), volume_id=volume.id):
            raise exception.InvalidVolume(
                reason='Volume status must be available or error and '
                       'have no attachments; it has attachments')
        snapshots.check_no_dependent_snapshots(self.db, ctx, volume)
        if volume.status not in ('available', 'error', 'error_deleting'):
            raise exception.InvalidVolume(
                reason='Volume status must be available or error, but '
                       'current status is: %s' % volume.status)
        self.db.volume_update(ctx, volume.id, {'status': 'deleting'},
                              expected={'status': volume.status})
        self.destroy_volume_data(ctx, volume)

    def destroy_volume_data(self, ctx, volume: models.Volume) -> None:
        """Delete the data and the row; the row says error if data stays."""
        try:
            arr, pool = self.locate(volume)
            arr.delete_volume(pool, volume.backend_name)
        except Exception as e:
            LOG.error('Deleting the data of volume %s failed: %s',
                      volume.id, e)
            self.db.volume_update(ctx, volume.id,
                                  {'status': 'error_deleting'})
            raise
        self.db.volume_destroy(ctx, volume.id)

    # Attachments

    def attachment_create(self, ctx, volume: models.Volume,
                          instance_uuid: str | None,
                          connector: dict | None = None,
                          mode: str = 'rw') -> models.VolumeAttachment:
        if volume.migration_status in MIGRATING:
            flow = self.get_flow(volume.id)
            if flow is not None and flow.abortable_by_other_actions():
                # lock_volume=False: other actions may end the migration.
                flow.abort('volume %s is being attached' % volume.id)
                flow.join()
                volume = self.db.volume_get(ctx, volume.id)
            else:
                raise exception.InvalidVolume(
                    reason='volume %s is migrating (migration_status %s)'
                    % (volume.id, volume.migration_status))
        if volume.status not in ('available', 'in-use', 'reserved',
                                 'attaching'):
            raise exception.InvalidVolume(
                reason='Volume status must be available or in-use to '
                       'attach, but current status is: %s' % volume.status)
        existing = self.db.attachment_get_all(ctx.elevated(),
                                              volume_id=volume.id)
        if existing and not volume.multiattach:
            raise exception.InvalidVolume(
                reason='volume %s is already attached and is not '
                       'multiattach' % volume.id)
        attachment = self.db.attachment_create(ctx, {
            'volume_id': volume.id, 'project_id': volume.project_id,
            'instance_uuid': instance_uuid, 'attach_status': 'reserved',
            'attach_mode': mode})
        reserved = exporting = False
        try:
            if volume.status == 'available':
                self.db.volume_update(ctx, volume.id,
                                      {'status': 'reserved'},
                                      expected={'status': 'available'})
                reserved = True
            if connector:
                exporting = True
                attachment = self.connect_attachment(ctx, volume,
                                                     attachment, connector)
        except Exception:
            # Nothing half-done stays: no reserved attachment, no export,
            # and the volume back to its status (the next attach works).
            with excutils.save_and_reraise_exception():
                self._undo_attachment(ctx, volume, attachment.id, reserved,
                                      exporting)
        return attachment

    def _undo_attachment(self, ctx, volume: models.Volume,
                         attachment_id: str, reserved: bool,
                         exporting: bool) -> None:
        """Undo what attachment_create did; only what it did."""
        try:
            self.db.attachment_destroy(ctx, attachment_id)
            others = [a for a in self.db.attachment_get_all(
                ctx.elevated(), volume_id=volume.id)
                if a.id != attachment_id]
            if exporting and not any(a.connection_info for a in others):
                arr, _pool = self.locate(volume)
                arr.terminate_connection(volume.backend_name)
            if reserved and not others:
                self.db.volume_update(
                    ctx, volume.id, {'status': 'available'},
                    expected={'status': ('reserved', 'attaching')})
        except Exception:
            LOG.exception('Rolling back attachment %s of volume %s',
                          attachment_id, volume.id)

    def connect_attachment(self, ctx, volume, attachment, connector: dict
                           ) -> models.VolumeAttachment:
        arr, pool = self.locate(volume)
        info = arr.initialize_connection(pool, volume.backend_name,
                                         connector)
        attachment = self.db.attachment_update(ctx, attachment.id, {
            'connector': json.dumps(connector),
            'connection_info': json.dumps(info),
            'attached_host': connector.get('host'),
            'mountpoint': connector.get('mountpoint'),
            'attach_status': 'attaching'
            if attachment.attach_status != 'attached' else 'attached'})
        if volume.status in ('reserved', 'available'):
            self.db.volume_update(ctx, volume.id, {'status': 'attaching'})
        return attachment

    def attachment_update(self, ctx, attachment_id: str, connector: dict
                          ) -> models.VolumeAttachment:
        attachment = self.db.attachment_get(ctx, attachment_id)
        volume = self.db.volume_get(ctx.elevated(), attachment.volume_id)
        return self.connect_attachment(ctx, volume, attachment, connector)

    def attachment_complete(self, ctx, attachment_id: str) -> None:
        attachment = self.db.attachment_get(ctx, attachment_id)
        self.db.attachment_update(ctx, attachment.id, {
            'attach_status': 'attached', 'attach_time': timeutils.utcnow()})
        volume = self.db.volume_get(ctx.elevated(), attachment.volume_id)
        values = {'attach_status': 'attached'}
        if volume.status not in ('maintenance',):
            values['status'] = 'in-use'
        self.db.volume_update(ctx, volume.id, values)

    def attachment_delete(self, ctx, attachment_id: str) -> None:
        attachment = self.db.attachment_get(ctx, attachment_id)
        volume = self.db.volume_get(ctx.elevated(), attachment.volume_id)
        if volume.migration_status in MIGRATING:
            raise exception.InvalidVolume(
                reason='volume %s is migrating (migration_status %s); '
                       'detach it when the migration ends'
                % (volume.id, volume.migration_status))
        self.remove_attachment(ctx, volume, attachment)

    def remove_attachment(self, ctx, volume: models.Volume,
                          attachment: models.VolumeAttachment) -> None:
        """Destroy an attachment; stop the export with the last one."""
        self.db.attachment_destroy(ctx, attachment.id)
        left = [a for a in self.db.attachment_get_all(ctx.elevated(),
                                                      volume_id=volume.id)
                if a.id != attachment.id]
        if not any(a.connection_info for a in left):
            try:
                arr, _pool = self.locate(volume)
                clients = self._settled_clients(arr, volume.backend_name)
                if clients:
                    # Deleted under a connected guest: cutting its disk
                    # would lose its writes; the export stays (reused by
                    # a new attachment, stopped with the volume) and
                    # detached migrations see the client (holders).
                    LOG.warning('Attachment %s of volume %s deleted while '
                                'its export still has clients; keeping '
                                'the export: %s', attachment.id, volume.id,
                                '; '.join(map(str, clients)))
                else:
                    arr.terminate_connection(volume.backend_name)
            except exception.CinderException as e:
                LOG.warning('Terminating connection of %s: %s', volume.id,
                            e)
        if not left:
            self.db.volume_update(ctx, volume.id, {
                'status': 'available' if volume.status != 'maintenance'
                else 'maintenance', 'attach_status': 'detached'})

    @staticmethod
    def _settled_clients(arr: backend_array.Array, backend_name: str
                         ) -> list:
        """The export's clients once a just-detached one has hung up.

        Nova deletes the attachment right after QEMU dropped the disk;
        its connection may take a moment to leave ESTABLISHED.
        """
        deadline = time.monotonic() + EXPORT_CLIENTS_SETTLE
        clients = arr.export_clients(backend_name)
        while clients and time.monotonic() < deadline:
            time.sleep(0.1)
            clients = arr.export_clients(backend_name)
        return clients

    # Migration

    def check_not_in_use(self, volume: models.Volume,
                         action: str = 'migrated') -> None:
        """Raise VolumeInUse if anything on this host still uses the data.

        Cinder's attachments may be gone while a guest still has the
        volume (its owner deleted the attachment, Nova kept the BDM):
        the array's host is asked (holders) before data is deleted.
        """
        arr, pool = self.locate(volume)
        in_use = arr.volume_in_use(pool, volume.backend_name)
        if in_use:
            raise exception.VolumeInUse(
                volume_id=volume.id, action=action,
                holders='; '.join(str(h) for h in in_use))

    def migrate_volume(self, ctx, volume: models.Volume, host: str,
                       force_host_copy: bool = False,
                       lock_volume: bool = False,
                       new_type: models.VolumeType | None = None
                       ) -> models.Migration:
        """Validate, claim the volume and start the flow in a thread.

        The claim is a compare-and-swap; returns the migration record.
        """
        if self.stopping.is_set():
            raise exception.InvalidVolume(
                reason='the volume service is stopping')
        if volume.migration_status in MIGRATING:
            raise exception.InvalidVolume(
                reason='Volume %s is already part of an active migration '
                       '(migration_status %s)'
                % (volume.id, volume.migration_status))
        if (volume.migration_status or '').startswith('target:'):
            raise exception.InvalidVolume(
                reason='volume %s is the destination of a migration'
                % volume.id)
        if volume.status not in ('available', 'in-use'):
            raise exception.InvalidVolume(
                reason='Volume status must be available or in-use, but '
                       'current status is: %s' % volume.status)
        snapshots.check_no_snapshots(self.db, ctx, volume)
        dest_array, dest_pool = self.array_for_host(host)
        dest_array.check_volume_size(dest_pool, volume.size_bytes)
        src_array, _src_pool = self.locate(volume)
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
        attachments = self.db.attachment_get_all(ctx, volume_id=volume.id)
        if attachments and volume.multiattach:
            raise exception.MultiattachMigrationRefused(volume_id=volume.id)
        if len(attachments) > 1:
            raise exception.InvalidVolume(
                reason='volume %s has %d attachments'
                % (volume.id, len(attachments)))
        src_attachment = attachments[0] if attachments else None
        if src_attachment is not None and (
                src_attachment.attach_status != 'attached'
                or not src_attachment.instance_uuid
                or not src_attachment.connection_info):
            raise exception.InvalidVolume(
                reason='attachment %s of volume %s is %s; migrate attached '
                       'volumes once the attachment is complete'
                % (src_attachment.id, volume.id,
                   src_attachment.attach_status))
        if src_attachment is None:
            kind = migration.DETACHED
            # Detached deletes src at the end: refuse now if a guest
            # still has it (the flow checks again before the switch).
            self.check_not_in_use(volume)
        elif force_host_copy or \
                self.conf.attached_migration_mode == 'legacy':
            kind = migration.LEGACY
        else:
            kind = migration.ATTACHED
        if kind == migration.LEGACY:
            engine = None   # Nova mirrors the data itself.
        elif force_host_copy or dest_array is not src_array:
            engine = 'generic'
        else:
            engine = 'native'
        # Upstream: lock_volume applies to available volumes only.
        lock = bool(lock_volume) and volume.status == 'available'
        values = {'migration_status': 'starting',
                  'migration_progress': None}
        if lock:
            values['status'] = 'maintenance'
        if new_type is not None and volume.status == 'available':
            # Upstream: "retyping" until the retype ends (what Watcher's
            # check_retyped waits on), then restored as a lock is.
            lock, values['status'] = True, 'retyping'
        try:
            self.db.volume_update(ctx, volume.id, values, expected={
                'migration_status': (None, 'success', 'error'),
                'status': volume.status})
        except db_api.UnexpectedValues:
            raise exception.InvalidVolume(
                reason='Volume %s is already part of an active migration '
                       'or changed state meanwhile' % volume.id)
        record = self.db.migration_create(ctx, {
            'volume_id': volume.id, 'kind': kind, 'copy_engine': engine,
            'source_host': volume.host, 'dest_host': host,
            'new_type_id': new_type.id if new_type else None,
            'instance_uuid': src_attachment.instance_uuid
            if src_attachment else None,
            'src_attachment_id': src_attachment.id
            if src_attachment else None,
            'lock_volume': lock, 'original_status': volume.status,
            'status': 'starting'})
        LOG.info('Migrating volume %(vol)s from %(src)s to %(dst)s: '
                 '%(kind)s, copy %(engine)s, migration %(mig)s',
                 {'vol': volume.id, 'src': volume.host, 'dst': host,
                  'kind': kind, 'engine': engine, 'mig': record.id})
        flow = migration.MigrationFlow(self, record)
        self._register(flow)
        flow.start()
        return record

    def retype(self, ctx, volume: models.Volume, new_type_name: str,
               migration_policy: str = 'never') -> models.Migration | None:
        new_type = self.get_type(ctx, new_type_name)
        if new_type.id == volume.volume_type_id:
            raise exception.InvalidInput(
                reason='New volume type must be different from the '
                       'current one (%s)' % new_type.name)
        if volume.status not in ('available', 'in-use'):
            raise exception.InvalidVolume(
                reason='Volume status must be available or in-use, but '
                       'current status is: %s' % volume.status)
        if volume.migration_status in MIGRATING:
            raise exception.InvalidVolume(
                reason='Volume %s is already part of an active migration'
                % volume.id)
        src_array, _pool = self.locate(volume)
        target = self._array_for_type(ctx, new_type)
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
        """Nova's callback at the end of a legacy swap."""
        volume = self.db.volume_get(ctx, volume_id)
        new_volume = self.db.volume_get(ctx, new_volume_id)
        if volume.migration_status not in MIGRATING:
            raise exception.InvalidVolume(
                reason='Source volume not mid-migration.')
        if new_volume.migration_status != 'target:%s' % volume.id:
            raise exception.InvalidVolume(
                reason='Destination volume not mid-migration.')
        record = self.db.migration_get_latest(ctx, volume_id)
        if record.kind != migration.LEGACY or \
                record.new_volume_id != new_volume_id:
            raise exception.InvalidVolume(
                reason='volume %s is not in a swap to %s'
                % (volume_id, new_volume_id))
        flow = self.get_flow(volume_id) or migration.MigrationFlow(
            self, record)
        return flow.legacy_completion(error)

    def get_migration(self, ctx, volume_id: str) -> models.Migration:
        self.db.volume_get(ctx, volume_id)
        return self.db.migration_get_latest(ctx, volume_id)
