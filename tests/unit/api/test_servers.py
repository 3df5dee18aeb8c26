"""REST tests of /servers, os-start and os-stop."""

from nova_volmig.compute import task_states
from nova_volmig.compute import vm_states
from nova_volmig import exception
from tests.unit.api import fakes

URL = '/v2.1/servers'


class ServersTest(fakes.APITestCase):

    def setUp(self):
        super().setUp()
        self.instance = fakes.instance()
        self.compute_api.get.return_value = self.instance
        self.compute_api.get_all.return_value = [self.instance]
        self.compute_api.get_attachments.return_value = [
            fakes.bdm(self.instance.uuid, volume_id='vol-1')]

    def test_create_answers_202_with_id_and_links(self):
        self.compute_api.create.return_value = self.instance
        resp = self.request('POST', URL, {'server': {'name': 'vm1'}})
        self.assertEqual(202, resp.status_int)
        server = resp.json_body['server']
        self.assertEqual(self.instance.uuid, server['id'])
        self.assertEqual('http://localhost/v2.1/servers/%s'
                         % self.instance.uuid, server['links'][0]['href'])
        self.assertEqual('http://localhost/v2.1/servers/%s'
                         % self.instance.uuid, resp.headers['Location'])
        kwargs = self.compute_api.create.call_args.kwargs
        self.assertEqual({'name': 'vm1', 'flavor_ref': None,
                          'image_ref': None, 'availability_zone': None},
                         kwargs)

    def test_create_as_novaclient_boot_sends_it(self):
        self.compute_api.create.return_value = self.instance
        body = {'server': {'name': 'vm1', 'flavorRef': '1',
                           'imageRef': '', 'min_count': 1,
                           'max_count': 1, 'networks': 'auto'}}
        resp = self.request('POST', URL, body, version='2.96')
        self.assertEqual(202, resp.status_int)
        kwargs = self.compute_api.create.call_args.kwargs
        self.assertEqual('1', kwargs['flavor_ref'])
        self.assertIsNone(kwargs['image_ref'])

    def test_create_schema_errors(self):
        for body, message in (
                ({'server': {}}, "'name' is a required property"),
                ({'server': {'name': ''}}, 'Invalid input for field/'
                                           'attribute name'),
                ({'server': {'name': ' padded '}}, 'It does not match'),
                ({'server': {'name': 'x' * 256}}, 'longer than 255'),
                ({'server': {'name': 5}}, "5 is not of type 'string'"),
                ({'server': {'name': 'a', 'key_name': 'k'}},
                 "('key_name' was unexpected)"),
                ({'server': {'name': 'a', 'max_count': 2}},
                 'Invalid input for field/attribute max_count'),
                ({'server': {'name': 'a', 'networks': [{'uuid': 'x'}]}},
                 'Invalid input for field/attribute networks'),
                ({'server': {'name': 'a', 'flavorRef': 1}},
                 "1 is not of type 'string'")):
            resp = self.request('POST', URL, body)
            self.assertFault(resp, 400, 'badRequest', message)
        self.compute_api.create.assert_not_called()

    def test_image_ref_is_a_name_not_a_path(self):
        # imageRef names a directory under [libvirt] images_path: a path
        # would boot a kernel from anywhere on the host (issue 16).
        for ref in ('../../etc', '/boot', 'a/b', '..', '.', 'a\\b'):
            resp = self.request('POST', URL, {'server': {'name': 'a',
                                                         'imageRef': ref}})
            self.assertFault(resp, 400, 'badRequest', 'imageRef')
        self.compute_api.create.assert_not_called()
        self.compute_api.create.return_value = self.instance
        for ref in ('cirros-0.6.2', 'a..b', '...'):
            resp = self.request('POST', URL, {'server': {'name': 'a',
                                                         'imageRef': ref}})
            self.assertEqual(202, resp.status_int, resp.body)

    def test_create_with_an_unknown_flavor(self):
        self.compute_api.create.side_effect = exception.NotFound(
            'Flavor 99 could not be found.')
        resp = self.request('POST', URL, {'server': {'name': 'a',
                                                     'flavorRef': '99'}})
        self.assertFault(resp, 404, 'itemNotFound', 'Flavor 99')

    def test_index(self):
        resp = self.request('GET', URL)
        self.assertEqual(200, resp.status_int)
        self.assertEqual([{'id': self.instance.uuid, 'name': 'vm1',
                           'links': [
                               {'rel': 'self',
                                'href': 'http://localhost/v2.1/servers/%s'
                                        % self.instance.uuid},
                               {'rel': 'bookmark',
                                'href': 'http://localhost/servers/%s'
                                        % self.instance.uuid}]}],
                         resp.json_body['servers'])
        self.assertEqual({'all_tenants': False, 'project_id': None},
                         self.compute_api.get_all.call_args.kwargs)

    def test_all_tenants_for_admin(self):
        resp = self.admin('GET', URL + '/detail?all_tenants=1&project_id='
                          + fakes.OTHER_PROJECT)
        self.assertEqual(200, resp.status_int)
        self.assertEqual({'all_tenants': True,
                          'project_id': fakes.OTHER_PROJECT},
                         self.compute_api.get_all.call_args.kwargs)

    def test_all_tenants_is_forbidden_to_members(self):
        resp = self.request('GET', URL + '?all_tenants')
        self.assertFault(resp, 403, 'forbidden',
                         'servers:index:get_all_tenants')
        resp = self.request('GET', URL + '?all_tenants=false')
        self.assertEqual(200, resp.status_int)

    def test_all_tenants_must_be_a_boolean(self):
        resp = self.admin('GET', URL + '?all_tenants=maybe')
        self.assertFault(resp, 400, 'badRequest', 'all_tenants')

    def test_detail_and_show_bodies(self):
        resp = self.request('GET', '%s/%s' % (URL, self.instance.uuid),
                            version='2.105')
        self.assertEqual(200, resp.status_int)
        server = resp.json_body['server']
        self.assertEqual('ACTIVE', server['status'])
        self.assertEqual(fakes.PROJECT, server['tenant_id'])
        self.assertEqual('alice', server['user_id'])
        self.assertEqual('2025-01-02T03:04:05Z', server['created'])
        self.assertIsNone(server['OS-EXT-STS:task_state'])
        self.assertEqual('active', server['OS-EXT-STS:vm_state'])
        self.assertEqual(1, server['OS-EXT-STS:power_state'])
        self.assertEqual('nova', server['OS-EXT-AZ:availability_zone'])
        self.assertEqual({}, server['addresses'])
        self.assertEqual({}, server['metadata'])
        self.assertFalse(server['locked'])
        self.assertEqual('volmig.tiny', server['flavor']['original_name'])
        self.assertEqual(64, server['flavor']['ram'])
        self.assertEqual('', server['image'])
        self.assertEqual([{'id': 'vol-1', 'delete_on_termination': False}],
                         server['os-extended-volumes:volumes_attached'])
        # Host and domain name are admin-only, as upstream.
        self.assertNotIn('OS-EXT-SRV-ATTR:host', server)
        self.assertNotIn('OS-EXT-SRV-ATTR:instance_name', server)
        self.assertNotIn('fault', server)

        detail = self.request('GET', URL + '/detail', version='2.105')
        self.assertEqual([server], detail.json_body['servers'])

    def test_admin_sees_host_and_instance_name(self):
        server = self.admin('GET', '%s/%s' % (URL, self.instance.uuid)
                            ).json_body['server']
        self.assertEqual('compute1', server['OS-EXT-SRV-ATTR:host'])
        self.assertEqual('instance-00000001',
                         server['OS-EXT-SRV-ATTR:instance_name'])

    def test_flavor_is_linked_below_2_47(self):
        server = self.request('GET', '%s/%s' % (URL, self.instance.uuid),
                              version='2.46').json_body['server']
        self.assertEqual('1', server['flavor']['id'])
        self.assertNotIn('locked', self.request(
            'GET', '%s/%s' % (URL, self.instance.uuid)).json_body['server'])

    def test_task_state_and_status_while_migrating(self):
        self.instance.vm_state = vm_states.STOPPED
        self.instance.task_state = task_states.VOLUME_MIGRATING
        server = self.request('GET', '%s/%s' % (URL, self.instance.uuid)
                              ).json_body['server']
        self.assertEqual('SHUTOFF', server['status'])
        self.assertEqual('volume_migrating', server['OS-EXT-STS:task_state'])

    def test_fault_on_error(self):
        self.instance.vm_state = vm_states.ERROR
        self.instance.fault = 'spawn failed'
        server = self.request('GET', '%s/%s' % (URL, self.instance.uuid)
                              ).json_body['server']
        self.assertEqual('ERROR', server['status'])
        self.assertEqual('spawn failed', server['fault']['message'])

    def test_show_of_another_projects_server_is_404(self):
        self.compute_api.get.side_effect = exception.InstanceNotFound(
            instance_id='x')
        resp = self.request('GET', URL + '/x', project=fakes.OTHER_PROJECT)
        self.assertFault(resp, 404, 'itemNotFound',
                         'Instance x could not be found.')

    def test_owner_policy_is_checked_against_the_instance(self):
        # An instance that is not the caller's (as a lenient compute API
        # could return it): the owner rule refuses it.
        self.instance.project_id = fakes.OTHER_PROJECT
        resp = self.request('GET', '%s/%s' % (URL, self.instance.uuid))
        self.assertFault(resp, 403, 'forbidden', 'servers:show')

    def test_delete_answers_204(self):
        resp = self.request('DELETE', '%s/%s' % (URL, self.instance.uuid))
        self.assertEqual(204, resp.status_int)
        self.compute_api.delete.assert_called_once()

    def test_delete_while_migrating_is_409(self):
        self.compute_api.delete.side_effect = exception.InstanceBusy(
            instance_uuid=self.instance.uuid,
            task_state='volume_migrating')
        resp = self.request('DELETE', '%s/%s' % (URL, self.instance.uuid))
        self.assertFault(resp, 409, 'conflict', 'volume_migrating')

    def test_start_and_stop_answer_202(self):
        for action, method in (('os-start', self.compute_api.start),
                               ('os-stop', self.compute_api.stop)):
            resp = self.request('POST', '%s/%s/action'
                                % (URL, self.instance.uuid), {action: None})
            self.assertEqual(202, resp.status_int)
            self.assertIs(self.instance, method.call_args.args[1])

    def test_start_while_migrating_is_409(self):
        self.compute_api.start.side_effect = exception.InstanceBusy(
            instance_uuid=self.instance.uuid,
            task_state='volume_migrating')
        resp = self.request('POST', '%s/%s/action' % (URL,
                                                      self.instance.uuid),
                            {'os-start': None})
        self.assertFault(resp, 409, 'conflict')

    def test_stop_in_wrong_state_is_409(self):
        self.compute_api.stop.side_effect = exception.InstanceInvalidState(
            method='stop', instance_uuid=self.instance.uuid,
            attr='vm_state', state='stopped')
        resp = self.request('POST', '%s/%s/action' % (URL,
                                                      self.instance.uuid),
                            {'os-stop': None})
        self.assertFault(resp, 409, 'conflict', 'vm_state stopped')

    def test_other_actions_are_400(self):
        for body, message in (({'reboot': {'type': 'HARD'}},
                               'There is no such action: reboot'),
                              ({'os-start': {'force': True}},
                               'Invalid input for field/attribute '
                               'os-start')):
            resp = self.request('POST', '%s/%s/action'
                                % (URL, self.instance.uuid), body)
            self.assertFault(resp, 400, 'badRequest', message)

    def test_project_id_in_url(self):
        path = '/v2.1/%s/servers/%s' % (fakes.PROJECT, self.instance.uuid)
        resp = self.request('GET', path)
        self.assertEqual(200, resp.status_int)
        self.assertEqual('http://localhost/v2.1/%s/servers/%s'
                         % (fakes.PROJECT, self.instance.uuid),
                         resp.json_body['server']['links'][0]['href'])

    def test_project_id_in_url_must_be_the_callers(self):
        path = '/v2.1/%s/servers' % fakes.OTHER_PROJECT
        resp = self.request('GET', path)
        self.assertFault(resp, 400, 'badRequest',
                         "doesn't match Context's project_id")

    def test_public_endpoint_sets_links(self):
        self.flags(group='api', public_endpoint='https://api.example.com/')
        server = self.request('GET', URL).json_body['servers'][0]
        self.assertEqual('https://api.example.com/v2.1/servers/%s'
                         % self.instance.uuid, server['links'][0]['href'])
