"""python-novaclient and openstacksdk, unchanged, against the API.

The API is served on a loopback socket over a fake compute API; the
clients use a noauth2 token through keystoneauth's token_endpoint plugin.
"""

from keystoneauth1 import session
from keystoneauth1 import token_endpoint
import novaclient
from novaclient import api_versions
from novaclient import client as nova_client
import openstack

from nova_volmig.api import server
from tests.unit.api import fakes

OLD_VOLUME = '0d4f3c2b-1a09-4876-9543-21fedcba9876'
NEW_VOLUME = 'a1b2c3d4-e5f6-4789-8abc-def012345678'


class ClientsTest(fakes.APITestCase):

    def setUp(self):
        super().setUp()
        self.instance = fakes.instance(project_id='admin')
        self.bdm = fakes.bdm(self.instance.uuid, volume_id=OLD_VOLUME)
        api = self.compute_api
        api.get.return_value = self.instance
        api.get_all.return_value = [self.instance]
        api.create.return_value = self.instance
        api.get_attachments.return_value = [self.bdm]
        api.get_attachment.return_value = self.bdm
        api.attach_volume.return_value = self.bdm
        wsgi_server = server.WSGIServer(self.app, '127.0.0.1', 0)
        wsgi_server.start()
        self.addCleanup(wsgi_server.stop)
        self.endpoint = wsgi_server.endpoint + 'v2.1'
        self.session = session.Session(
            auth=token_endpoint.Token(self.endpoint, 'admin:admin'))

    def test_novaclient_discovers_its_highest_version(self):
        nova = nova_client.Client('2.1', session=self.session)
        version = api_versions.discover_version(
            nova, api_versions.APIVersion('2.latest'))
        # The highest version both sides know.
        self.assertEqual(min(novaclient.API_MAX_VERSION,
                             api_versions.APIVersion('2.105')), version)
        self.assertGreaterEqual(version, api_versions.APIVersion('2.89'))

    def test_novaclient_at_several_versions(self):
        for version in ('2.1', '2.79', '2.89', '2.96'):
            nova = nova_client.Client(version, session=self.session)
            self.assertEqual(['vm1'],
                             [s.name for s in nova.servers.list()])
            flavor = nova.flavors.get('1')  # what boot --flavor does
            nics = ({'nics': 'auto'} if nova.api_version >
                    api_versions.APIVersion('2.36') else {})
            created = nova.servers.create('vm1', image=None, flavor=flavor,
                                          **nics)
            self.assertEqual(self.instance.uuid, created.id)
            shown = nova.servers.get(self.instance.uuid)
            self.assertEqual('ACTIVE', shown.status)
            attachments = nova.volumes.get_server_volumes(
                self.instance.uuid)
            self.assertEqual([OLD_VOLUME],
                             [a.volumeId for a in attachments])
            # nova volume-update: the legacy swap.
            nova.volumes.update_server_volume(self.instance.uuid,
                                              OLD_VOLUME, NEW_VOLUME)
            self.assertEqual((OLD_VOLUME, NEW_VOLUME),
                             self.compute_api.swap_volume.call_args.args[2:])
            nova.servers.stop(self.instance.uuid)
            nova.servers.start(self.instance.uuid)

    def test_openstacksdk(self):
        conn = openstack.connect(
            auth_type='admin_token',
            auth={'endpoint': self.endpoint, 'token': 'admin:admin'},
            compute_api_version='2')
        self.addCleanup(conn.close)
        self.assertEqual(['vm1'], [s.name for s in conn.compute.servers()])
        found = conn.compute.get_server(self.instance.uuid)
        self.assertEqual('ACTIVE', found.status)
        self.assertEqual('compute1', found.compute_host)
        self.assertEqual(['volmig.tiny'],
                         [f.name for f in conn.compute.flavors()])
        created = conn.compute.create_server(name='vm1', flavor_id='1')
        self.assertEqual(self.instance.uuid, created.id)
        self.assertEqual([OLD_VOLUME], [
            a.volume_id for a in conn.compute.volume_attachments(found)])
        attached = conn.compute.create_volume_attachment(
            found, volume_id=OLD_VOLUME)
        self.assertEqual(OLD_VOLUME, attached.volume_id)
