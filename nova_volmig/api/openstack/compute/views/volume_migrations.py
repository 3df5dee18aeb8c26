"""Volume migration records: the fields of DESIGN 3, and ``finish``."""

from nova_volmig.api.openstack import common
from nova_volmig.objects import fields

Status = fields.VolumeMigrationStatus

#: What ``finish`` shows of driver_data['finish'].
FINISH_KEYS = ('state', 'queue_position', 'queued_at', 'started_at',
               'bytes_done', 'bytes_total')


def finish(migration) -> dict | None:
    """The asynchronous finish, while one is due (completing, cancelling).

    ``state`` is ``queued`` (waiting for the compute host's
    ``max_concurrent_volume_migration_finishes``, at ``queue_position``,
    1 being next) or ``running`` (with the block job's ``bytes_done`` and
    ``bytes_total`` once it reports them); null otherwise.
    """
    if migration.status not in (Status.COMPLETING, Status.CANCELLING):
        return None
    data = (migration.driver_data or {}).get('finish')
    if not data:
        return None
    return {key: data.get(key) for key in FINISH_KEYS}


def record(migration) -> dict:
    data = migration.driver_data or {}
    return {
        'src_attachment_id': migration.src_attachment_id,
        'dst_attachment_id': migration.dst_attachment_id,
        'instance_uuid': migration.instance_uuid,
        'volume_id': migration.volume_id,
        'status': migration.status,
        'progress': migration.progress,
        'finish': finish(migration),
        # how complete ran, once it chose (rebase, two_step or
        # write_blocking, after any fallback; null for drivers without
        # modes), and why a rebase complete was done two_step instead
        'complete_mode': data.get('complete_mode'),
        'rebase_fallback': data.get('rebase_fallback'),
        'created_at': common.isotime_micro(migration.created_at),
        'updated_at': common.isotime_micro(migration.updated_at),
        'error': migration.error,
    }
