"""The volume manager: volumes, types, attachments and migrations.

Cinder splits this between cinder-api, the scheduler and cinder-volume;
here the request checks of volumes and migrations are in
``volume.api`` and the rest is one object per service, called
in-process. Migrations run in threads, one flow (strategy) each
(``cinder_driver_side.volume.flows``).
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
from cinder_driver_side.conf import backend as backend_conf
from cinder_driver_side import context as cinder_context
from cinder_driver_side.db import api as db_api
from cinder_driver_side.db import models
from cinder_driver_side import exception
from cinder_driver_side.objects import fields
from cinder_driver_side.volume import backend_array
from cinder_driver_side.volume import flows
from cinder_driver_side.volume import migration_queue
from cinder_driver_side.volume import placement as placement_mod
from cinder_driver_side.volume import utils

LOG = logging.getLogger(__name__)

MIG = fields.VolumeMigrationStatus
STATUS = fields.VolumeStatus
ATTACH = fields.VolumeAttachStatus
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
        self.placement = placement_mod.Placement(conf, self.arrays)
        self._flows: dict[str, flows.MigrationFlow] = {}
        self._flows_lock = threading.Lock()
        self.stopping = threading.Event()
        self.queue = migration_queue.MigrationQueue(
            lambda name: backend_conf.get(conf, name,
                                          'max_concurrent_migrations'))

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
        for row in self.db.migration_get_all(ctx, statuses=MIG.ACTIVE):
            if row.status == MIG.QUEUED:
                # Never started: back in the queue, oldest first.
                self.migrate_volume(ctx, row)
                continue
            flow = flows.flow_for(row, self._flow_collaborators())
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

    def _flow_collaborators(self) -> flows.Collaborators:
        return flows.Collaborators(
            conf=self.conf, db=self.db, nova=self.nova,
            placement=self.placement,
            connect_attachment=self.connect_attachment, done=self.flow_done)

    def _register(self, flow: flows.MigrationFlow) -> None:
        with self._flows_lock:
            self._flows[flow.volume_id] = flow

    def flow_done(self, flow: flows.MigrationFlow) -> None:
        with self._flows_lock:
            if self._flows.get(flow.volume_id) is flow:
                del self._flows[flow.volume_id]
        self.queue.release(flow.migration_id)

    def get_flow(self, volume_id: str) -> flows.MigrationFlow | None:
        with self._flows_lock:
            return self._flows.get(volume_id)

    # Placement

    def locate(self, volume: models.Volume
               ) -> tuple[backend_array.Array, str]:
        """The array and pool holding ``volume``'s data."""
        return self.placement.locate(volume)

    def pool_stats(self) -> list[dict]:
        return self.placement.pool_stats()

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
        arr = self.placement.array_for_type(ctx, self.db, vtype) or next(
            iter(self.arrays.values()))
        pool = next(iter(arr.pools))
        arr.check_volume_size(pool, size_bytes)
        volume = self.db.volume_create(ctx, {
            'display_name': name, 'display_description': description,
            'project_id': ctx.project_id, 'user_id': ctx.user_id,
            'size': utils.size_in_gib(size_bytes), 'size_bytes': size_bytes,
            'status': STATUS.CREATING, 'attach_status': ATTACH.DETACHED,
            'availability_zone': availability_zone or 'nova',
            'host': str(arr.location(pool)), 'volume_type_id': vtype.id,
            'multiattach': multiattach})
        try:
            arr.create_volume(pool, volume.backend_name, size_bytes)
        except Exception as e:
            LOG.error('Creating volume %s failed: %s', volume.id, e)
            return self.db.volume_update(ctx, volume.id,
                                         {'status': STATUS.ERROR})
        return self.db.volume_update(ctx, volume.id,
                                     {'status': STATUS.AVAILABLE})

    def delete_volume(self, ctx, volume: models.Volume) -> None:
        """Delete a volume volume.api.API.delete_volume let through."""
        self.db.volume_update(ctx, volume.id,
                              {'status': STATUS.DELETING},
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
                                  {'status': STATUS.ERROR_DELETING})
            raise
        self.db.volume_destroy(ctx, volume.id)

    # Attachments

    def attachment_create(self, ctx, volume: models.Volume,
                          instance_uuid: str | None,
                          connector: dict | None = None,
                          mode: str = 'rw') -> models.VolumeAttachment:
        if volume.migration_status in MIG.ACTIVE:
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
        if volume.status not in STATUS.ATTACHABLE:
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
            'instance_uuid': instance_uuid,
            'attach_status': ATTACH.RESERVED,
            'attach_mode': mode})
        reserved = exporting = False
        try:
            if volume.status == STATUS.AVAILABLE:
                self.db.volume_update(ctx, volume.id,
                                      {'status': STATUS.RESERVED},
                                      expected={'status': STATUS.AVAILABLE})
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
                    ctx, volume.id, {'status': STATUS.AVAILABLE},
                    expected={'status': (STATUS.RESERVED,
                                         STATUS.ATTACHING)})
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
            'attach_status': ATTACH.ATTACHING
            if attachment.attach_status != ATTACH.ATTACHED
            else ATTACH.ATTACHED})
        if volume.status in (STATUS.RESERVED, STATUS.AVAILABLE):
            self.db.volume_update(ctx, volume.id,
                                  {'status': STATUS.ATTACHING})
        return attachment

    def attachment_update(self, ctx, attachment_id: str, connector: dict
                          ) -> models.VolumeAttachment:
        attachment = self.db.attachment_get(ctx, attachment_id)
        volume = self.db.volume_get(ctx.elevated(), attachment.volume_id)
        return self.connect_attachment(ctx, volume, attachment, connector)

    def attachment_complete(self, ctx, attachment_id: str) -> None:
        attachment = self.db.attachment_get(ctx, attachment_id)
        self.db.attachment_update(ctx, attachment.id, {
            'attach_status': ATTACH.ATTACHED,
            'attach_time': timeutils.utcnow()})
        volume = self.db.volume_get(ctx.elevated(), attachment.volume_id)
        values = {'attach_status': ATTACH.ATTACHED}
        if volume.status != STATUS.MAINTENANCE:
            values['status'] = STATUS.IN_USE
        self.db.volume_update(ctx, volume.id, values)

    def attachment_delete(self, ctx, attachment_id: str) -> None:
        attachment = self.db.attachment_get(ctx, attachment_id)
        volume = self.db.volume_get(ctx.elevated(), attachment.volume_id)
        if volume.migration_status in MIG.ACTIVE:
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
                'status': STATUS.AVAILABLE
                if volume.status != STATUS.MAINTENANCE
                else STATUS.MAINTENANCE,
                'attach_status': ATTACH.DETACHED})

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

    def migrate_volume(self, ctx, record: models.Migration) -> None:
        """Start (or queue) the flow of a migration the API claimed.

        The source backend's max_concurrent_migrations caps how many run
        at once; beyond it the migration waits, ``queued``
        (volume.migration_queue).
        """
        flow = flows.flow_for(record, self._flow_collaborators())
        self._register(flow)
        backend = self.placement.array_for_host(record.source_host)[0].name

        def queued(position: int) -> None:
            self._set_migration_status(record, MIG.QUEUED)

        def start() -> None:
            if self.stopping.is_set():
                return      # stays queued; the next init_host starts it
            if self._reload_status(record) == MIG.QUEUED:
                self._set_migration_status(record, MIG.STARTING)
            flow.start()

        self.queue.submit(backend, record.id, start, queued)

    def _reload_status(self, record: models.Migration) -> str:
        ctx = cinder_context.get_admin_context()
        return self.db.migration_get(ctx, record.id).status

    def _set_migration_status(self, record: models.Migration,
                              status: str) -> None:
        ctx = cinder_context.get_admin_context()
        self.db.volume_update(ctx, record.volume_id,
                              {'migration_status': status})
        self.db.migration_update(ctx, record.id, {'status': status})

    def cancel_migration(self, ctx, volume: models.Volume) -> None:
        """Cancel the volume's migration (os-migrate_volume_cancel).

        A queued one ends ``cancelled`` at once and never starts; a
        running one is cancelled by its flow (which may answer 409).
        """
        record = self.db.migration_get_latest(ctx, volume.id)
        flow = self.get_flow(volume.id)
        if flow is None or flow.migration_id != record.id:
            raise exception.InvalidVolume(
                reason='volume %s has no migration running in this '
                       'service' % volume.id)
        if self.queue.remove(record.id):
            flow.cancel_queued()
            self.flow_done(flow)
            return
        flow.cancel()

    def migration_queue_position(self, migration_id: str) -> int | None:
        """1-based place of a queued migration in its backend's queue."""
        return self.queue.position(migration_id)

    def migrate_volume_completion(self, ctx, record: models.Migration,
                                  error: bool) -> str:
        """Nova's callback at the end of a legacy swap (checked by the API).

        The flow may be gone (e.g. after a restart): a new one finishes.
        """
        flow = self.get_flow(record.volume_id) or flows.flow_for(
            record, self._flow_collaborators())
        return flow.legacy_completion(error)

    def get_migration(self, ctx, volume_id: str) -> models.Migration:
        self.db.volume_get(ctx, volume_id)
        return self.db.migration_get_latest(ctx, volume_id)
