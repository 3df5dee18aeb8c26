"""nova-volmig-aio behind a real Keystone (``tools/aio_keystone.py``).

The aio's opt-in for Keystone: the configuration files that
``identity.serve_for_aio`` writes switch both sides of the one process to
keystonemiddleware and to their service users for the calls between them.
"""

from __future__ import annotations

import requests

from tests import base
from tests.functional.fixtures import aio as aio_fixtures
from tests.functional.fixtures import libvirt as lv
from volmig_distributed import deployment
from volmig_distributed import identity

MiB = 1024 * 1024


class TestAioKeystone(base.TestCase):

    def setUp(self):
        super().setUp()
        state = self.state_file('ks')
        keystone, process = identity.serve_for_aio(
            state, deployment.free_port(), 'http://127.0.0.1:8774/v2.1',
            'http://127.0.0.1:8776/v3')
        self.addCleanup(process.wait, 30)
        self.addCleanup(process.terminate)
        self.keystone = keystone
        self.aio = self.useFixture(aio_fixtures.Aio(
            self.state_file('aio'), nova_conf=keystone.nova_options(),
            cinder_conf=keystone.cinder_options()))
        session = keystone.session()
        headers = {'X-Auth-Token': session.get_token()}
        self.aio.nova = aio_fixtures.RestClient(
            self.aio.info['compute'], 'compute', '2.105', headers)
        self.aio.cinder = aio_fixtures.RestClient(
            '%s/%s' % (self.aio.info['volume'], session.get_project_id()),
            'volume', '3.72', headers)

    def test_tokens_and_the_service_path_in_one_process(self):
        server = self.aio.create_server()
        volume = self.aio.create_volume(size_bytes=64 * MiB)
        att = self.aio.attach(server['id'], volume['id'])
        writer = aio_fixtures.HMPWriter(
            server['OS-EXT-SRV-ATTR:instance_name'], att['device'],
            bytes(64 * MiB), seed=3)
        self.addCleanup(writer.close)
        writer.write_some(3)
        self.aio.migrate(volume['id'], 'aio@array1#pool2')
        done = self.aio.wait_migration(volume['id'])
        self.assertEqual('success', done['migration_status'])
        self.aio.wait_nova_settled(server['id'])
        self.assertEqual(writer.sha256(),
                         lv.sha256_file(self.aio.volume_path(done)))
        # noauth2 tokens mean nothing any more.
        for url in (self.aio.info['compute'] + '/servers',
                    self.aio.info['volume'] + '/admin/volumes'):
            resp = requests.get(url, headers=aio_fixtures.ADMIN, timeout=30)
            self.assertEqual(401, resp.status_code, resp.text)
