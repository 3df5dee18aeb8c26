"""REST tests of /os-volume-migrations: every row of DESIGN 3."""

import os

from oslo_utils import uuidutils
import yaml

from nova_volmig import exception
from tests.unit.api import fakes

URL = '/v2.1/os-volume-migrations'
SRC = '4f7c1d2e-1b0a-4a39-9bb7-3f0a8a5f0c11'
DST = '9a1d9a8e-5e0b-4c53-8b7e-1d2c3b4a5f60'
INSTANCE = '1e0cbb4b-8d4e-4a07-9d6f-0e2b1f3c4d5e'

RECORD_KEYS = {'src_attachment_id', 'dst_attachment_id', 'instance_uuid',
               'volume_id', 'status', 'progress', 'finish', 'complete_mode',
               'rebase_fallback', 'created_at', 'updated_at', 'error'}


def start_body(src=SRC):
    return {'volume_migration': {'src_attachment_id': src}}


class VolumeMigrationHappyPathTest(fakes.APITestCase):

    def test_start_answers_201_with_the_record(self):
        record = fakes.migration(src_attachment_id=SRC,
                                 instance_uuid=INSTANCE, status='running')
        self.compute_api.volume_migration_start.return_value = record

        resp = self.service('POST', URL, start_body())

        self.assertEqual(201, resp.status_int)
        body = resp.json_body['volume_migration']
        self.assertEqual(RECORD_KEYS, set(body))
        self.assertEqual(SRC, body['src_attachment_id'])
        self.assertEqual(INSTANCE, body['instance_uuid'])
        self.assertEqual('running', body['status'])
        self.assertIsNone(body['dst_attachment_id'])
        self.assertIsNone(body['progress'])
        self.assertIsNone(body['error'])
        self.assertEqual('2025-01-02T03:04:05.678901', body['created_at'])
        self.assertIsNone(body['updated_at'])
        self.assertTrue(resp.headers['Location'].endswith(
            '/v2.1/os-volume-migrations/' + SRC))
        ctx, src = self.compute_api.volume_migration_start.call_args.args
        self.assertEqual(SRC, src)
        self.assertEqual('service', ctx.project_id)
        self.assertIn('service', ctx.roles)

    def test_admin_may_start(self):
        self.compute_api.volume_migration_start.return_value = \
            fakes.migration(src_attachment_id=SRC)
        resp = self.admin('POST', URL, start_body(), version='2.105')
        self.assertEqual(201, resp.status_int)

    def test_show_answers_the_latest_record(self):
        self.compute_api.volume_migration_get.return_value = \
            fakes.migration(src_attachment_id=SRC, status='completing',
                            dst_attachment_id=DST, progress='42',
                            updated_at=fakes.T0)
        resp = self.service('GET', '%s/%s' % (URL, SRC))
        self.assertEqual(200, resp.status_int)
        body = resp.json_body['volume_migration']
        self.assertEqual(RECORD_KEYS, set(body))
        self.assertEqual('42', body['progress'])
        self.assertEqual(DST, body['dst_attachment_id'])
        self.assertEqual(SRC, self.compute_api.volume_migration_get
                         .call_args.args[1])

    def test_show_how_complete_ran(self):
        # Before complete: nothing chosen yet.
        self.compute_api.volume_migration_get.return_value = \
            fakes.migration(src_attachment_id=SRC, status='running',
                            driver_data={'step': 'started'})
        body = self.service('GET', '%s/%s' % (URL, SRC)).json_body[
            'volume_migration']
        self.assertEqual((None, None), (body['complete_mode'],
                                        body['rebase_fallback']))
        # rebase was asked for; a file volume was completed two_step.
        why = 'src is a local file: libvirt would reopen it at commit'
        self.compute_api.volume_migration_get.return_value = \
            fakes.migration(src_attachment_id=SRC, status='completed',
                            dst_attachment_id=DST, driver_data={
                                'complete_mode': 'two_step',
                                'rebase_fallback': why})
        body = self.service('GET', '%s/%s' % (URL, SRC)).json_body[
            'volume_migration']
        self.assertEqual(('two_step', why), (body['complete_mode'],
                                             body['rebase_fallback']))

    def test_show_queued_finish(self):
        self.compute_api.volume_migration_get.return_value = \
            fakes.migration(src_attachment_id=SRC, status='completing',
                            dst_attachment_id=DST, driver_data={
                                'step': 'complete:switched',
                                'finish': {'state': 'queued',
                                           'queue_position': 2,
                                           'queued_at': '2026-12-06T04:00'}})
        body = self.service('GET', '%s/%s' % (URL, SRC)).json_body[
            'volume_migration']
        self.assertEqual({'state': 'queued', 'queue_position': 2,
                          'queued_at': '2026-12-06T04:00',
                          'started_at': None, 'bytes_done': None,
                          'bytes_total': None}, body['finish'])

    def test_show_running_finish_bytes_then_none_when_done(self):
        finish = {'state': 'running', 'started_at': '2026-12-06T04:01',
                  'bytes_done': 1 << 20, 'bytes_total': 4 << 20}
        record = fakes.migration(src_attachment_id=SRC, status='cancelling',
                                 driver_data={'finish': finish})
        self.compute_api.volume_migration_get.return_value = record
        body = self.service('GET', '%s/%s' % (URL, SRC)).json_body[
            'volume_migration']
        self.assertEqual(('running', 1 << 20, 4 << 20, None),
                         (body['finish']['state'],
                          body['finish']['bytes_done'],
                          body['finish']['bytes_total'],
                          body['finish']['queue_position']))
        record.status = 'cancelled'
        body = self.service('GET', '%s/%s' % (URL, SRC)).json_body[
            'volume_migration']
        self.assertIsNone(body['finish'])

    def test_show_error_record_carries_its_message(self):
        self.compute_api.volume_migration_get.return_value = \
            fakes.migration(src_attachment_id=SRC, status='error',
                            error='block job failed')
        body = self.service('GET', '%s/%s' % (URL, SRC)).json_body
        self.assertEqual('error', body['volume_migration']['status'])
        self.assertEqual('block job failed',
                         body['volume_migration']['error'])

    def test_list_with_filters(self):
        self.compute_api.volume_migration_list.return_value = [
            fakes.migration(instance_uuid=INSTANCE),
            fakes.migration(instance_uuid=INSTANCE)]
        resp = self.service('GET', '%s?instance_uuid=%s&status=running'
                            % (URL, INSTANCE))
        self.assertEqual(200, resp.status_int)
        self.assertEqual(2, len(resp.json_body['volume_migrations']))
        kwargs = self.compute_api.volume_migration_list.call_args.kwargs
        self.assertEqual({'instance_uuid': INSTANCE, 'status': 'running'},
                         kwargs)

    def test_list_without_filters(self):
        self.compute_api.volume_migration_list.return_value = []
        resp = self.service('GET', URL)
        self.assertEqual({'volume_migrations': []}, resp.json_body)
        kwargs = self.compute_api.volume_migration_list.call_args.kwargs
        self.assertEqual({'instance_uuid': None, 'status': None}, kwargs)

    def test_complete_answers_202(self):
        resp = self.service('POST', '%s/%s/action' % (URL, SRC),
                            {'complete': {'dst_attachment_id': DST}})
        self.assertEqual(202, resp.status_int)
        self.assertEqual(b'', resp.body)
        args = self.compute_api.volume_migration_complete.call_args.args
        self.assertEqual((SRC, DST), args[1:])

    def test_cancel_answers_202(self):
        resp = self.service('POST', '%s/%s/action' % (URL, SRC),
                            {'cancel': None})
        self.assertEqual(202, resp.status_int)
        self.assertEqual(SRC, self.compute_api.volume_migration_cancel
                         .call_args.args[1])

    def test_cancel_accepts_an_empty_object(self):
        resp = self.service('POST', '%s/%s/action' % (URL, SRC),
                            {'cancel': {}})
        self.assertEqual(202, resp.status_int)

    def test_routes_with_project_id_segment(self):
        self.compute_api.volume_migration_get.return_value = \
            fakes.migration(src_attachment_id=SRC)
        resp = self.service('GET', '/v2.1/%s/os-volume-migrations/%s'
                            % ('5e41', SRC), project='5e41')
        self.assertEqual(200, resp.status_int)

    def test_response_echoes_the_version(self):
        self.compute_api.volume_migration_list.return_value = []
        resp = self.service('GET', URL)
        self.assertEqual('compute 2.105',
                         resp.headers['OpenStack-API-Version'])
        self.assertEqual('2.105',
                         resp.headers['X-OpenStack-Nova-API-Version'])

    def test_legacy_version_header_works_too(self):
        self.compute_api.volume_migration_list.return_value = []
        resp = self.service('GET', URL, version=None,
                            headers={'X-OpenStack-Nova-API-Version':
                                     '2.105'})
        self.assertEqual(200, resp.status_int)


class VolumeMigrationErrorRowsTest(fakes.APITestCase):
    """Each error row of DESIGN 3, at the REST level."""

    # 404 below 2.105

    def test_routes_are_404_below_2_105(self):
        for version in (None, '2.1', '2.104'):
            for method, path, body in (
                    ('POST', URL, start_body()),
                    ('GET', URL, None),
                    ('GET', '%s/%s' % (URL, SRC), None),
                    ('POST', '%s/%s/action' % (URL, SRC), {'cancel': None}),
                    ('POST', '%s/%s/action' % (URL, SRC),
                     {'complete': {'dst_attachment_id': DST}})):
                resp = self.service(method, path, body, version=version)
                self.assertFault(resp, 404, 'itemNotFound')
        self.assertEqual([], self.compute_api.method_calls)

    def test_malformed_body_is_still_404_below_2_105(self):
        resp = self.service('POST', URL, raw=b'{not json', version='2.104')
        self.assertFault(resp, 404, 'itemNotFound')

    # 400 schema

    def test_start_schema_errors(self):
        cases = [
            ({}, "'volume_migration' is a required property"),
            ({'volume_migration': {}},
             "'src_attachment_id' is a required property"),
            ({'volume_migration': {'src_attachment_id': 'abc'}},
             'Invalid input for field/attribute src_attachment_id. '
             'Value: abc. abc is not a valid UUID.'),
            ({'volume_migration': {'src_attachment_id': 42}},
             "42 is not of type 'string'"),
            ({'volume_migration': {'src_attachment_id': None}},
             "None is not of type 'string'"),
            ({'volume_migration': {'src_attachment_id': SRC, 'x': 1}},
             "Additional properties are not allowed ('x' was unexpected)"),
            ({'volume_migration': {'src_attachment_id': SRC}, 'y': 1},
             "Additional properties are not allowed ('y' was unexpected)"),
            ({'volume_migration': [SRC]}, "is not of type 'object'"),
            ([start_body()], "is not of type 'object'"),
            ('start', "'start' is not of type 'object'"),
        ]
        for body, message in cases:
            resp = self.service('POST', URL, body)
            self.assertFault(resp, 400, 'badRequest', message)
        self.compute_api.volume_migration_start.assert_not_called()

    def test_start_without_body(self):
        resp = self.service('POST', URL)
        self.assertFault(resp, 400, 'badRequest',
                         'A request body is required.')

    def test_malformed_json(self):
        for raw in (b'{', b'{"volume_migration": ', b'\xff\xfe',
                    b'{"volume_migration": NaN}', b'[' * 100000):
            resp = self.service('POST', URL, raw=raw)
            self.assertFault(resp, 400, 'badRequest',
                             'Malformed request body')
        self.compute_api.volume_migration_start.assert_not_called()

    def test_huge_body(self):
        raw = b'{"volume_migration": {"src_attachment_id": "%s"}}' % (
            b'a' * 200000)
        resp = self.service('POST', URL, raw=raw)
        message = self.assertFault(resp, 400, 'badRequest')
        self.assertIn('more than the 114688 allowed', message)
        self.assertLess(len(message), 200)

    def test_long_value_is_not_echoed_in_full(self):
        self.flags(group='api', max_request_body_size=1024 * 1024)
        resp = self.service('POST', URL, start_body('a' * 500000))
        message = self.assertFault(resp, 400, 'badRequest',
                                   'not a valid UUID')
        self.assertLess(len(message), 1000)

    def test_non_uuid_ids_in_path(self):
        for method, path, body in (
                ('GET', '%s/not-a-uuid' % URL, None),
                ('POST', '%s/not-a-uuid/action' % URL, {'cancel': None}),
                ('POST', '%s/not-a-uuid/action' % URL,
                 {'complete': {'dst_attachment_id': DST}})):
            resp = self.service(method, path, body)
            self.assertFault(resp, 400, 'badRequest',
                             'Invalid input for field/attribute '
                             'src_attachment_id. Value: not-a-uuid.')
        self.assertEqual([], self.compute_api.method_calls)

    def test_action_schema_errors(self):
        action = '%s/%s/action' % (URL, SRC)
        cases = [
            ({'complete': {}}, "'dst_attachment_id' is a required"),
            ({'complete': None}, "None is not of type 'object'"),
            ({'complete': {'dst_attachment_id': 'nope'}},
             'nope is not a valid UUID'),
            ({'complete': {'dst_attachment_id': DST, 'force': True}},
             "('force' was unexpected)"),
            ({'cancel': {'now': True}}, 'Invalid input for field'),
            ({'cancel': 'now'}, 'Invalid input for field/attribute cancel'),
            ({'migrate': None}, 'There is no such action: migrate'),
            ({'cancel': None, 'complete': {'dst_attachment_id': DST}},
             'exactly one action per request'),
            ({}, 'exactly one key'),
            ([], 'exactly one key'),
        ]
        for body, message in cases:
            resp = self.service('POST', action, body)
            self.assertFault(resp, 400, 'badRequest', message)
        self.compute_api.volume_migration_complete.assert_not_called()
        self.compute_api.volume_migration_cancel.assert_not_called()

    def test_list_query_errors(self):
        for query, message in (
                ('instance_uuid=xyz', 'xyz is not a valid UUID'),
                ('status=bogus', 'It must be one of'),
                ('host=compute1', "('host' was unexpected)"),
                ('status=running&status=error', 'only once')):
            resp = self.service('GET', '%s?%s' % (URL, query))
            self.assertFault(resp, 400, 'badRequest', message)
        self.compute_api.volume_migration_list.assert_not_called()

    def test_dst_attachment_of_another_instance(self):
        self.compute_api.volume_migration_complete.side_effect = \
            exception.InvalidAttachment(attachment_id=DST,
                                        reason='it is not for instance %s'
                                        % INSTANCE)
        resp = self.service('POST', '%s/%s/action' % (URL, SRC),
                            {'complete': {'dst_attachment_id': DST}})
        self.assertFault(resp, 400, 'badRequest',
                         'Attachment %s cannot be used' % DST)

    # 403 policy

    def test_member_is_forbidden_everywhere(self):
        for method, path, body in (
                ('POST', URL, start_body()),
                ('GET', URL, None),
                ('GET', '%s/%s' % (URL, SRC), None),
                ('POST', '%s/%s/action' % (URL, SRC), {'cancel': None}),
                ('POST', '%s/%s/action' % (URL, SRC),
                 {'complete': {'dst_attachment_id': DST}})):
            resp = self.request(method, path, body, roles=('member',),
                                version='2.105')
            self.assertFault(resp, 403, 'forbidden',
                             'os_compute_api:os-volume-migrations:')
        self.assertEqual([], self.compute_api.method_calls)

    def test_reader_and_no_role_are_forbidden(self):
        for roles in ((), ('reader',), ('member', 'reader')):
            resp = self.request('POST', URL, start_body(), roles=roles,
                                version='2.105')
            self.assertFault(resp, 403, 'forbidden')

    # 404

    def test_unknown_attachment(self):
        self.compute_api.volume_migration_start.side_effect = \
            exception.AttachmentNotFound(attachment_id=SRC)
        resp = self.service('POST', URL, start_body())
        self.assertFault(resp, 404, 'itemNotFound',
                         'Volume attachment %s could not be found.' % SRC)

    def test_no_migration_for_attachment(self):
        self.compute_api.volume_migration_get.side_effect = \
            exception.VolumeMigrationNotFound(attachment_id=SRC)
        resp = self.service('GET', '%s/%s' % (URL, SRC))
        self.assertFault(resp, 404, 'itemNotFound', SRC)

    def test_another_projects_attachment_for_a_member_allowed_by_policy(
            self):
        policy_file = os.path.join(self.state_path, 'policy.yaml')
        with open(policy_file, 'w') as f:
            yaml.safe_dump({
                'os_compute_api:os-volume-migrations:%s' % rule:
                    'role:member' for rule in ('start', 'show', 'list',
                                               'complete', 'cancel')}, f)
        from oslo_policy import opts as policy_opts
        policy_opts.set_defaults(self.conf.conf)
        self.flags(group='oslo_policy', policy_file=policy_file)
        error = exception.AttachmentNotFound(attachment_id=SRC)
        self.compute_api.volume_migration_start.side_effect = error
        self.compute_api.volume_migration_get.side_effect = error
        self.compute_api.volume_migration_complete.side_effect = error
        self.compute_api.volume_migration_cancel.side_effect = error

        for method, path, body in (
                ('POST', URL, start_body()),
                ('GET', '%s/%s' % (URL, SRC), None),
                ('POST', '%s/%s/action' % (URL, SRC), {'cancel': None}),
                ('POST', '%s/%s/action' % (URL, SRC),
                 {'complete': {'dst_attachment_id': DST}})):
            resp = self.request(method, path, body, roles=('member',),
                                project=fakes.OTHER_PROJECT,
                                version='2.105')
            self.assertFault(resp, 404, 'itemNotFound')
        # The member got past policy: the compute API saw the caller.
        ctx = self.compute_api.volume_migration_start.call_args.args[0]
        self.assertEqual(fakes.OTHER_PROJECT, ctx.project_id)
        self.assertFalse(ctx.is_admin)

    # 409

    def _assert_start_conflict(self, error, message_part):
        self.compute_api.volume_migration_start.side_effect = error
        resp = self.service('POST', URL, start_body())
        self.assertFault(resp, 409, 'conflict', message_part)

    def test_instance_busy(self):
        self._assert_start_conflict(
            exception.InstanceBusy(instance_uuid=INSTANCE,
                                   task_state='powering-off'),
            'task_state is powering-off')

    def test_instance_locked(self):
        self._assert_start_conflict(
            exception.InstanceIsLocked(instance_uuid=INSTANCE),
            'Instance %s is locked.' % INSTANCE)

    def test_running_instance_on_a_driver_without_live_migration(self):
        self._assert_start_conflict(
            exception.VolumeMigrationUnsupported(
                instance_uuid=INSTANCE,
                reason='the offline driver needs it shut off'),
            'the offline driver needs it shut off')

    def test_multiattach_volume(self):
        self._assert_start_conflict(
            exception.MultiattachNotSupported(volume_id='v1'),
            'Volume v1 is multiattach')

    def test_a_second_start(self):
        self._assert_start_conflict(
            exception.VolumeMigrationInProgress(attachment_id=SRC,
                                                status='running'),
            'already running')

    def test_compute_service_unavailable(self):
        self._assert_start_conflict(
            exception.ComputeServiceUnavailable(host='compute1',
                                                reason='it is down'),
            'it is down')

    def test_complete_after_cancel(self):
        self.compute_api.volume_migration_complete.side_effect = \
            exception.VolumeMigrationInvalidState(
                action='complete', attachment_id=SRC, status='cancelled',
                expected='running')
        resp = self.service('POST', '%s/%s/action' % (URL, SRC),
                            {'complete': {'dst_attachment_id': DST}})
        self.assertFault(resp, 409, 'conflict',
                         'its status is cancelled, not running')

    def test_cancel_after_complete(self):
        self.compute_api.volume_migration_cancel.side_effect = \
            exception.VolumeMigrationInvalidState(
                action='cancel', attachment_id=SRC, status='completing',
                expected='running')
        resp = self.service('POST', '%s/%s/action' % (URL, SRC),
                            {'cancel': None})
        self.assertFault(resp, 409, 'conflict',
                         'Cannot cancel the volume migration')

    # 5xx: no internals leak

    def test_unexpected_error_is_a_generic_500(self):
        self.compute_api.volume_migration_start.side_effect = \
            RuntimeError('secret /var/lib/path details')
        resp = self.service('POST', URL, start_body())
        message = self.assertFault(resp, 500, 'computeFault',
                                   'Unexpected API Error')
        self.assertNotIn('secret', message)
        self.assertIn(resp.headers['x-compute-request-id'], message)

    def test_driver_failure_is_a_500_with_its_reason(self):
        # Only admins and services reach this API, and the issue asks
        # for "a clean 500 fault with a message" (e.g. a missing overlay
        # directory): migration and driver failures are marked safe.
        self.compute_api.volume_migration_start.side_effect = \
            exception.VolumeMigrationFailed(attachment_id=SRC,
                                            reason='qemu said /tmp/x')
        resp = self.service('POST', URL, start_body())
        message = self.assertFault(resp, 500, 'computeFault')
        self.assertIn('/tmp/x', message)

    def test_unexpected_failure_is_a_generic_500(self):
        self.compute_api.volume_migration_start.side_effect = \
            RuntimeError('secret /etc/x')
        resp = self.service('POST', URL, start_body())
        message = self.assertFault(resp, 500, 'computeFault')
        self.assertNotIn('/etc/x', message)

    def test_new_migration_ids_are_uuids(self):
        self.assertTrue(uuidutils.is_uuid_like(SRC))
