"""A running CinderService (aio arrays, file exports) and a fake Nova."""

from __future__ import annotations

import collections
import json
import os

import webob

from cinder_driver_side import service
from tests import base
from tests.unit.cinder import fake_nova
from volmig_common import polling

MiB = 1024 * 1024


class CinderTestCase(base.TestCase):
    protocol = 'file'

    def setUp(self):
        super().setUp()
        self.nova = fake_nova.FakeNova()
        self.addCleanup(self.nova.stop)
        self.cconf = service.aio_config(self.state_path, port=0,
                                        nova_endpoint=self.nova.endpoint,
                                        protocol=self.protocol)
        self.cconf.set_override('http_retries', 0, group='nova')
        self.cconf.set_override('nova_complete_timeout', 2)
        self.svc = service.CinderService(self.cconf)
        self.svc.start()
        self.addCleanup(self.svc.stop)
        self.nova.cinder_endpoint = self.svc.endpoint
        self.history = collections.defaultdict(list)
        db = self.svc.db
        original = db.volume_update

        def spy(ctx, volume_id, values, expected=None):
            row = original(ctx, volume_id, values, expected)
            if 'migration_status' in values:
                self.history[volume_id].append(values['migration_status'])
            return row
        db.volume_update = spy
        finish = db.finish_volume_migration

        def finish_spy(ctx, volume_id, new_volume_id, values, *args):
            finish(ctx, volume_id, new_volume_id, values, *args)
            if 'migration_status' in values:
                self.history[volume_id].append(values['migration_status'])
        db.finish_volume_migration = finish_spy
        end = db.migration_end

        def end_spy(ctx, migration_id, volume_id, volume_values, values):
            end(ctx, migration_id, volume_id, volume_values, values)
            if 'migration_status' in volume_values:
                self.history[volume_id].append(
                    volume_values['migration_status'])
        db.migration_end = end_spy

    def api(self, method: str, path: str, body=None, token='admin:p1',
            roles=None, version='3.72') -> tuple[int, dict | None]:
        """A request through the WSGI app (webob Request.blank)."""
        headers = {'X-Auth-Token': token}
        if version:
            headers['OpenStack-API-Version'] = 'volume %s' % version
        if roles:
            headers['X-Roles'] = roles
        if path != '/' and not path.startswith('/v3'):
            path = '/v3/p1' + path
        req = webob.Request.blank(path, method=method, headers=headers)
        if body is not None:
            req.body = json.dumps(body).encode()
            req.content_type = 'application/json'
        response = req.get_response(self.svc.wsgi_app)
        return response.status_int, (response.json if response.body
                                     else None)

    def create_volume(self, size=4 * MiB, pattern=b'\x5a', **kw) -> str:
        status, body = self.api('POST', '/volumes', {'volume': dict(
            size_bytes=size, name='v', **kw)})
        self.assertEqual(202, status, body)
        volume_id = body['volume']['id']
        with open(self.path_of(volume_id), 'r+b') as f:
            f.write(pattern * (size // 2))     # second half stays a hole
        return volume_id

    def volume(self, volume_id: str, **kw) -> dict:
        status, body = self.api('GET', '/volumes/%s' % volume_id, **kw)
        self.assertEqual(200, status, body)
        return body['volume']

    def path_of(self, volume_id: str) -> str:
        volume = self.svc.db.volume_get(_admin(), volume_id)
        arr, pool = self.svc.manager.locate(volume)
        return arr.volume_path(pool, volume.backend_name)

    def migrate(self, volume_id: str, host='aio@array1#pool2', **kw):
        return self.api('POST', '/volumes/%s/action' % volume_id,
                        {'os-migrate_volume': dict(host=host, **kw)})

    def wait_done(self, volume_id: str, timeout: float = 30) -> dict:
        def done():
            volume = self.volume(volume_id)
            if volume['migration_status'] in ('success', 'error',
                                              'cancelled') and \
                    self.svc.manager.get_flow(volume_id) is None:
                return volume
            return None
        return polling.wait_for(done, timeout, 0.05,
                                'migration of %s to end' % volume_id,
                                error=self.failureException)

    def wait_status(self, volume_id: str, status: str,
                    timeout: float = 30) -> dict:
        return polling.wait_for(
            lambda: (lambda v: v if v['migration_status'] == status
                     else None)(self.volume(volume_id)),
            timeout, 0.02, '%s to reach %s' % (volume_id, status),
            error=self.failureException)

    def pool_files(self, array='array1', pool='pool2') -> list[str]:
        return sorted(os.listdir(self.cconf[array].pools[pool]))


def _admin():
    from cinder_driver_side import context
    return context.get_admin_context()


def read(path: str) -> bytes:
    with open(path, 'rb') as f:
        return f.read()
