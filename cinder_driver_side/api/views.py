"""JSON views of volumes, attachments, types and migrations."""

from __future__ import annotations

import json

from cinder_driver_side.api import microversions
from cinder_driver_side.db import models
from cinder_driver_side.objects import fields
from cinder_driver_side import policies


def _time(value):
    return value.isoformat() if value is not None else None


def link(base: str, project_id: str, collection: str, item_id: str) -> list:
    self_href = '%s/v3/%s/%s/%s' % (base, project_id, collection, item_id)
    bookmark = '%s/%s/%s/%s' % (base, project_id, collection, item_id)
    return [{'href': self_href, 'rel': 'self'},
            {'href': bookmark, 'rel': 'bookmark'}]


def volume_summary(base: str, volume: models.Volume) -> dict:
    return {'id': volume.id, 'name': volume.display_name,
            'links': link(base, volume.project_id, 'volumes', volume.id)}


def volume_detail(req, base: str, volume: models.Volume,
                  attachments: list[models.VolumeAttachment],
                  volume_type: models.VolumeType | None,
                  enforcer) -> dict:
    ctx = req.context
    version = req.api_version
    body = {
        'id': volume.id,
        'name': volume.display_name,
        'description': volume.display_description,
        'status': volume.status,
        'size': volume.size,
        'size_bytes': volume.size_bytes,
        'availability_zone': volume.availability_zone,
        'created_at': _time(volume.created_at),
        'updated_at': _time(volume.updated_at),
        'attachments': [{
            'id': volume.id, 'attachment_id': a.id,
            'volume_id': volume.id, 'server_id': a.instance_uuid,
            'host_name': a.attached_host, 'device': a.mountpoint,
            'attached_at': _time(a.attach_time)}
            for a in attachments
            if a.attach_status == fields.VolumeAttachStatus.ATTACHED],
        'links': link(base, volume.project_id, 'volumes', volume.id),
        'metadata': {},
        'bootable': 'false',
        'encrypted': False,
        'multiattach': volume.multiattach,
        'replication_status': None,
        'snapshot_id': None,
        'source_volid': None,
        'consistencygroup_id': None,
        'user_id': volume.user_id,
        'volume_type': volume_type.name if volume_type else None,
        'os-vol-tenant-attr:tenant_id': volume.project_id,
    }
    if version >= '3.13':
        body['group_id'] = None
    if version >= '3.21':
        body['provider_id'] = None
    if version >= '3.48':
        body['shared_targets'] = False
        body['service_uuid'] = None
    if version >= '3.61':
        body['cluster_name'] = None
    if version >= '3.63':
        body['volume_type_id'] = volume.volume_type_id
    if version >= '3.65':
        body['consumes_quota'] = True
    if enforcer.authorize(ctx, policies.HOST_ATTRIBUTE, fatal=False):
        body['os-vol-host-attr:host'] = volume.host
    if enforcer.authorize(ctx, policies.MIG_STATUS, fatal=False):
        body['os-vol-mig-status-attr:migstat'] = volume.migration_status
        body['os-vol-mig-status-attr:name_id'] = volume.name_id
        body['migration_status'] = volume.migration_status
    if (version >= microversions.MIGRATION_PROGRESS
            and volume.migration_status
            == fields.VolumeMigrationStatus.MIGRATING
            and volume.migration_progress is not None
            and enforcer.authorize(ctx, policies.MIG_PROGRESS,
                                   fatal=False)):
        body['migration_progress'] = volume.migration_progress
        body.update({
            'migration_bytes_done': volume.migration_bytes_done,
            'migration_bytes_total': volume.migration_bytes_total,
            'migration_rate': volume.migration_rate,
            'migration_eta': volume.migration_eta,
            'migration_bandwidth': volume.migration_bandwidth})
    return body


def snapshot(snap: models.Snapshot, detail: bool = True) -> dict:
    """Cinder's snapshot view (``os-extended-snapshot-attributes`` too)."""
    body = {'id': snap.id, 'volume_id': snap.volume_id,
            'status': snap.status, 'size': snap.volume_size,
            'name': snap.display_name,
            'description': snap.display_description,
            'created_at': _time(snap.created_at),
            'updated_at': _time(snap.updated_at), 'metadata': {}}
    if detail:
        body['os-extended-snapshot-attributes:project_id'] = snap.project_id
        body['os-extended-snapshot-attributes:progress'] = (
            '100%' if snap.status == 'available' else '0%')
        body['user_id'] = snap.user_id
    return body


def attachment(att: models.VolumeAttachment) -> dict:
    body = {
        'id': att.id,
        'status': att.attach_status,
        'instance': att.instance_uuid,
        'volume_id': att.volume_id,
        'attach_mode': att.attach_mode,
        'attached_at': _time(att.attach_time),
        'detached_at': _time(att.detach_time),
    }
    if att.connection_info:
        body['connection_info'] = json.loads(att.connection_info)
    return body


def volume_type(vtype: models.VolumeType, extra_specs: dict | None) -> dict:
    body = {'id': vtype.id, 'name': vtype.name,
            'description': vtype.description,
            'is_public': vtype.is_public,
            'os-volume-type-access:is_public': vtype.is_public,
            'qos_specs_id': None}
    if extra_specs is not None:
        body['extra_specs'] = extra_specs
    return body


def migration(record: models.Migration) -> dict:
    return {
        'id': record.id, 'volume_id': record.volume_id,
        'new_volume_id': record.new_volume_id, 'kind': record.kind,
        'copy_engine': record.copy_engine,
        'source_host': record.source_host, 'dest_host': record.dest_host,
        'new_type_id': record.new_type_id,
        'instance_uuid': record.instance_uuid,
        'src_attachment_id': record.src_attachment_id,
        'dst_attachment_id': record.dst_attachment_id,
        'lock_volume': record.lock_volume, 'status': record.status,
        'progress': record.progress, 'bytes_copied': record.bytes_copied,
        'error': record.error, 'created_at': _time(record.created_at),
        'updated_at': _time(record.updated_at),
        'finished_at': _time(record.finished_at),
        'copy_method': record.copy_method,
        'bytes_total': record.bytes_total, 'rate': record.rate,
        'eta': record.eta,
        'requested_bandwidth': record.requested_bandwidth,
        'bandwidth': record.bandwidth,
        'phase_times': json.loads(record.phase_times or '{}')}
