"""Volume migration records, exactly the fields of DESIGN 3."""

from nova_volmig.api.openstack import common


def record(migration) -> dict:
    return {
        'src_attachment_id': migration.src_attachment_id,
        'dst_attachment_id': migration.dst_attachment_id,
        'instance_uuid': migration.instance_uuid,
        'volume_id': migration.volume_id,
        'status': migration.status,
        'progress': migration.progress,
        'created_at': common.isotime_micro(migration.created_at),
        'updated_at': common.isotime_micro(migration.updated_at),
        'error': migration.error,
    }
