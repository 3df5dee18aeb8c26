"""REST tests of os-instance-actions and of /flavors."""

from nova_volmig.db import models
from nova_volmig import exception
from tests.unit.api import fakes


def _action():
    return models.InstanceAction(
        id=1, action='volume_migration_start', instance_uuid='i-1',
        request_id='req-1', user_id='cinder', project_id='service',
        start_time=fakes.T0, finish_time=None, message=None,
        created_at=fakes.T0, updated_at=None)


def _event():
    return models.InstanceActionEvent(
        id=1, action_id=1, event='compute_volume_migration_start',
        result='Error', traceback='Traceback (most recent call last)...',
        details='block job failed', host='compute1', start_time=fakes.T0,
        finish_time=fakes.T0)


class InstanceActionsTest(fakes.APITestCase):

    def setUp(self):
        super().setUp()
        self.instance = fakes.instance()
        self.compute_api.get.return_value = self.instance
        self.compute_api.get_instance_actions.return_value = [_action()]
        self.compute_api.get_instance_action.return_value = (_action(),
                                                             [_event()])
        self.url = '/v2.1/servers/%s/os-instance-actions' % \
            self.instance.uuid

    def test_index(self):
        resp = self.request('GET', self.url, version='2.58')
        self.assertEqual(200, resp.status_int)
        action = resp.json_body['instanceActions'][0]
        self.assertEqual('volume_migration_start', action['action'])
        self.assertEqual('req-1', action['request_id'])
        self.assertEqual('2025-01-02T03:04:05.678901', action['start_time'])
        self.assertIn('updated_at', action)

    def test_show_hides_tracebacks_from_the_owner(self):
        resp = self.request('GET', self.url + '/req-1', version='2.84')
        action = resp.json_body['instanceAction']
        self.assertEqual(1, len(action['events']))
        event = action['events'][0]
        self.assertNotIn('traceback', event)
        self.assertEqual('block job failed', event['details'])
        self.assertEqual('req-1', self.compute_api.get_instance_action
                         .call_args.args[2])

    def test_show_events_below_2_51_are_admin_only(self):
        owner = self.request('GET', self.url + '/req-1').json_body
        self.assertNotIn('events', owner['instanceAction'])
        admin = self.admin('GET', self.url + '/req-1').json_body
        self.assertEqual('Traceback (most recent call last)...',
                         admin['instanceAction']['events'][0]['traceback'])

    def test_unknown_request_id_is_404(self):
        self.compute_api.get_instance_action.side_effect = \
            exception.InstanceActionNotFound(
                request_id='req-x', instance_uuid=self.instance.uuid)
        resp = self.request('GET', self.url + '/req-x')
        self.assertFault(resp, 404, 'itemNotFound', 'req-x')

    def test_another_projects_server_is_404(self):
        self.compute_api.get.side_effect = exception.InstanceNotFound(
            instance_id=self.instance.uuid)
        resp = self.request('GET', self.url, project=fakes.OTHER_PROJECT)
        self.assertFault(resp, 404, 'itemNotFound')


class FlavorsTest(fakes.APITestCase):

    def test_index_detail_show(self):
        index = self.request('GET', '/v2.1/flavors').json_body['flavors']
        self.assertEqual(['1'], [f['id'] for f in index])
        self.assertNotIn('ram', index[0])
        detail = self.request('GET', '/v2.1/flavors/detail'
                              ).json_body['flavors'][0]
        self.assertEqual(64, detail['ram'])
        self.assertEqual('', detail['swap'])
        show = self.request('GET', '/v2.1/flavors/1', version='2.75'
                            ).json_body['flavor']
        self.assertEqual('volmig.tiny', show['name'])
        self.assertEqual(0, show['swap'])

    def test_unknown_flavor_is_404(self):
        resp = self.request('GET', '/v2.1/flavors/99')
        self.assertFault(resp, 404, 'itemNotFound', 'Flavor 99')
