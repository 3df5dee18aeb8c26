"""REST calls of the plugin: keystoneauth Adapters with microversions."""

from __future__ import annotations

from typing import Any

from keystoneauth1 import adapter
from keystoneauth1 import session as ks_session

#: the volume-migration API of nova-volmig (DESIGN 3)
COMPUTE_MICROVERSION = '2.105'
#: ``migration_progress`` in volume details (DESIGN 7)
VOLUME_MICROVERSION = '3.72'
NOVA_TERMINAL = ('completed', 'cancelled', 'error')
CINDER_TERMINAL = ('success', 'error', 'cancelled')


class Client:
    """Nova's volume migrations and Cinder's volume migration view."""

    def __init__(self, session: ks_session.Session,
                 region_name: str | None = None,
                 interface: str | None = 'public'):
        common = {'session': session, 'region_name': region_name,
                  'interface': interface or 'public'}
        self.compute_api = adapter.Adapter(
            service_type='compute',
            default_microversion=COMPUTE_MICROVERSION, **common)
        self.volume_api = adapter.Adapter(
            service_type='block-storage',
            default_microversion=VOLUME_MICROVERSION, **common)

    # Nova: GET /os-volume-migrations[/{src_attachment_id}]

    def server_migrations(self, server_id: str | None = None,
                          status: str | None = None) -> list[dict]:
        params = {k: v for k, v in (('instance_uuid', server_id),
                                    ('status', status)) if v}
        resp = self.compute_api.get('/os-volume-migrations', params=params)
        return resp.json()['volume_migrations']

    def server_migration(self, src_attachment_id: str) -> dict:
        resp = self.compute_api.get('/os-volume-migrations/%s'
                                    % src_attachment_id)
        return resp.json()['volume_migration']

    # Cinder: GET /volumes/{id} and /volumes/{id}/migration

    def volume(self, volume_id: str) -> dict:
        return self.volume_api.get('/volumes/%s' % volume_id).json()['volume']

    def volume_migration(self, volume_id: str) -> dict[str, Any]:
        """Cinder's latest migration of a volume with its live progress.

        ``migration_progress`` of the volume (3.72, while migrating) is
        the percent of the copy now; the record's ``progress`` is the last
        one it stored.
        """
        resp = self.volume_api.get('/volumes/%s/migration' % volume_id)
        record = resp.json()['migration']
        volume = self.volume(volume_id)
        record['migration_status'] = volume.get('migration_status')
        if volume.get('migration_progress') is not None:
            record['progress'] = volume['migration_progress']
        return record

    def cancel_volume_migration(self, volume_id: str) -> None:
        """``os-migrate_volume_cancel`` (admin, 3.72).

        202, or 409 once Nova's complete may have switched the guest.
        """
        self.volume_api.post('/volumes/%s/action' % volume_id,
                             json={'os-migrate_volume_cancel': None})
