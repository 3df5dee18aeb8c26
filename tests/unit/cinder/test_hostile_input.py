"""Hostile and careless input to the Cinder API (issue 16 items 3, 7, 8).

Every refusal is a 400 naming the limit, decided by schema before the
database, and leaves nothing behind.
"""

from __future__ import annotations

import resource
from unittest import mock

from cinder_driver_side.api import schemas
from cinder_driver_side import exception
from cinder_driver_side.volume import utils
from tests.unit.cinder import base

INSTANCE = '6f0c1b1c-6b6a-4d43-9c3b-0b0e3c1f2a11'
NUL = 'a\x00b'
LONG = 'x' * 256


class AttachmentRollbackTest(base.CinderTestCase):
    """Item 3: a bad connector leaves no reservation behind."""

    def attach(self, volume_id, connector):
        return self.api('POST', '/attachments', {'attachment': {
            'volume_uuid': volume_id, 'instance_uuid': INSTANCE,
            'connector': connector}})

    def assert_untouched(self, volume_id):
        volume = self.volume(volume_id)
        self.assertEqual('available', volume['status'])
        self.assertEqual([], volume['attachments'])
        status, body = self.api('GET', '/attachments?volume_id=%s'
                                % volume_id)
        self.assertEqual([], body['attachments'])
        # The next attach works.
        status, body = self.attach(volume_id, {'host': 'compute1'})
        self.assertEqual(200, status, body)
        self.assertEqual('attaching', self.volume(volume_id)['status'])

    def test_connector_host_not_a_string(self):
        volume_id = self.create_volume()
        status, body = self.attach(volume_id, {'host': [1]})
        self.assertEqual(400, status, body)
        self.assertIn('connector/host', body['badRequest']['message'])
        self.assert_untouched(volume_id)

    def test_connector_values_typed_and_bounded(self):
        volume_id = self.create_volume()
        for connector in ({'host': NUL}, {'host': LONG},
                          {'host': 'h', 'wwpns': 'not-a-list'},
                          {'host': 'h', 'initiator': {'x': 1}},
                          {'host': 'h', LONG: 'key too long'},
                          {'host': 'h', 'mountpoint': NUL}):
            status, body = self.attach(volume_id, connector)
            self.assertEqual(400, status, (connector, body))
        self.assert_untouched(volume_id)

    def test_update_connector_by_schema(self):
        volume_id = self.create_volume()
        status, body = self.api('POST', '/attachments', {'attachment': {
            'volume_uuid': volume_id, 'instance_uuid': INSTANCE}})
        att_id = body['attachment']['id']
        status, body = self.api('PUT', '/attachments/%s' % att_id, {
            'attachment': {'connector': {'host': [1]}}})
        self.assertEqual(400, status, body)
        status, body = self.api('GET', '/attachments/%s' % att_id)
        self.assertEqual('reserved', body['attachment']['status'])

    def test_failure_after_reservation_rolls_back(self):
        volume_id = self.create_volume()
        arr = next(iter(self.svc.manager.arrays.values()))
        with mock.patch.object(
                arr, 'initialize_connection',
                side_effect=exception.VolumeBackendAPIException(
                    data='export failed')):
            status, body = self.attach(volume_id, {'host': 'compute1'})
        self.assertEqual(500, status, body)
        self.assert_untouched(volume_id)

    def test_rollback_keeps_what_another_attachment_uses(self):
        volume_id = self.create_volume(multiattach=True)
        status, body = self.attach(volume_id, {'host': 'compute1'})
        self.assertEqual(200, status, body)
        first = body['attachment']['id']
        self.assertEqual(204, self.api('POST', '/attachments/%s/action'
                                       % first, {'os-complete': None})[0])
        arr = next(iter(self.svc.manager.arrays.values()))
        with mock.patch.object(
                arr, 'initialize_connection',
                side_effect=exception.VolumeBackendAPIException(
                    data='export failed')), \
                mock.patch.object(arr, 'terminate_connection') as stop:
            status, body = self.attach(volume_id, {'host': 'compute2'})
        self.assertEqual(500, status, body)
        stop.assert_not_called()
        volume = self.volume(volume_id)
        self.assertEqual('in-use', volume['status'])
        self.assertEqual([first], [a['attachment_id']
                                   for a in volume['attachments']])


class SizeLimitsTest(base.CinderTestCase):
    """Item 7: sizes are bounded integers; accepted ones are created."""

    def create(self, **spec):
        return self.api('POST', '/volumes', {'volume': dict(name='v',
                                                            **spec)})

    def assert_nothing_stored(self):
        status, body = self.api('GET', '/volumes?all_tenants=1')
        self.assertEqual([], body['volumes'])

    def test_out_of_range_and_malformed_sizes(self):
        cases = [
            ({'size_bytes': 2 ** 63}, 'at most %d' % schemas.MAX_SIZE_BYTES),
            ({'size_bytes': 100}, 'at least 512'),
            ({'size_bytes': 1000}, 'multiple of 512'),
            ({'size_bytes': 1024.5}, 'integer'),
            ({'size_bytes': 1024.0}, 'integer'),
            ({'size_bytes': '1024'}, 'integer'),
            ({'size': 1.5}, 'size'),
            ({'size': 0}, 'at least 1'),
            ({'size': -1}, 'at least 1'),
            ({'size': schemas.MAX_SIZE_GB + 1},
             'at most %d' % schemas.MAX_SIZE_GB),
            ({'size': '9' * 5000}, 'longer than 5 characters'),
            ({'size': '0'}, 'size'),
            ({'size': '1e3'}, 'size'),
            ({'size': True}, 'size'),
        ]
        for spec, expected in cases:
            status, body = self.create(**spec)
            self.assertEqual(400, status, (spec, body))
            self.assertIn(expected, body['badRequest']['message'], spec)
            self.assertLess(len(body['badRequest']['message']), 400)
        self.assert_nothing_stored()

    def test_digit_string_size_still_accepted(self):
        status, body = self.create(size='1')
        self.assertEqual(202, status, body)
        self.assertEqual('available', body['volume']['status'])

    def test_largest_size_never_ends_in_error(self):
        # 16 TiB: more than ext4 holds (16 TiB - 4 KiB), fine on XFS.
        status, body = self.create(size=schemas.MAX_SIZE_GB)
        if status == 202:
            self.assertEqual('available', body['volume']['status'])
        else:
            self.assertEqual(400, status, body)
            self.assertIn('largest volume pool', body['badRequest'][
                'message'])
            self.assert_nothing_stored()

    def test_file_size_limit_of_the_process(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        limit = 1024 * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_FSIZE,
                        (soft, hard))
        status, body = self.create(size=2)
        self.assertEqual(400, status, body)
        self.assertIn('(%d bytes)' % limit, body['badRequest']['message'])
        self.assert_nothing_stored()
        status, body = self.create(size_bytes=limit)
        self.assertEqual(202, status, body)
        self.assertEqual('available', body['volume']['status'])

    def test_migration_to_a_pool_too_small_is_refused(self):
        volume_id = self.create_volume()
        with mock.patch.object(utils, 'max_file_size', return_value=4096):
            status, body = self.migrate(volume_id)
        self.assertEqual(400, status, body)
        self.assertIn('largest volume pool aio@array1#pool2',
                      body['badRequest']['message'])
        volume = self.volume(volume_id)
        self.assertIsNone(volume['migration_status'])
        self.assertEqual('available', volume['status'])


class StringLimitsTest(base.CinderTestCase):
    """Item 8: NUL and over-long strings: 400 naming the limit."""

    def assert_refused(self, method, path, body, expected):
        status, answer = self.api(method, path, body)
        self.assertEqual(400, status, (path, body, answer))
        message = answer['badRequest']['message']
        self.assertIn(expected, message)
        self.assertNotIn('\x00', message)
        self.assertLess(len(message), 400)

    def test_volume_strings(self):
        for field in ('name', 'description', 'availability_zone',
                      'volume_type', 'display_name'):
            self.assert_refused('POST', '/volumes', {'volume': {
                'size_bytes': 1024 * 1024, field: NUL}}, 'NUL')
            self.assert_refused('POST', '/volumes', {'volume': {
                'size_bytes': 1024 * 1024, field: LONG}},
                'longer than 255 characters')
        self.assert_refused('POST', '/volumes', {'volume': {
            'size_bytes': 1024 * 1024, 'metadata': {LONG: 'v'}}},
            'longer than 255 characters')
        self.assert_refused('POST', '/volumes', {'volume': {
            'size_bytes': 1024 * 1024, 'metadata': {'k': NUL}}}, 'NUL')
        status, body = self.api('GET', '/volumes?all_tenants=1')
        self.assertEqual([], body['volumes'])

    def test_type_strings(self):
        before = self.api('GET', '/types')[1]['volume_types']
        for spec, expected in (
                ({'name': NUL}, 'NUL'),
                ({'name': LONG}, 'longer than 255'),
                ({'name': 't', 'description': LONG}, 'longer than 255'),
                ({'name': 't', 'extra_specs': {LONG: 'v'}},
                 'longer than 255'),
                ({'name': 't', 'extra_specs': {NUL: 'v'}}, 'NUL'),
                ({'name': 't', 'extra_specs': {'': 'v'}}, 'shorter than 1'),
                ({'name': 't', 'extra_specs': {'k': LONG}},
                 'longer than 255'),
                ({'name': 't', 'extra_specs': {'k': NUL}}, 'NUL'),
                ({'name': 't', 'extra_specs': {
                    'k%d' % i: 'v' for i in range(129)}},
                 'more than 128 properties')):
            self.assert_refused('POST', '/types', {'volume_type': spec},
                                expected)
        self.assertEqual(before, self.api('GET', '/types')[1][
            'volume_types'])
        type_id = before[0]['id']
        self.assert_refused('POST', '/types/%s/extra_specs' % type_id,
                            {'extra_specs': {LONG: 'v'}}, 'longer than 255')
        self.assert_refused('POST', '/types/%s/extra_specs' % type_id,
                            {'extra_specs': {'k': NUL}}, 'NUL')

    def test_action_strings(self):
        volume_id = self.create_volume()
        self.assert_refused('POST', '/volumes/%s/action' % volume_id,
                            {'os-migrate_volume': {'host': NUL}}, 'NUL')
        self.assert_refused('POST', '/volumes/%s/action' % volume_id,
                            {'os-retype': {'new_type': LONG}},
                            'longer than 255')
        self.assert_refused('POST', '/attachments', {'attachment': {
            'volume_uuid': volume_id, 'instance_uuid': 'i' * 37}},
            'longer than 36')

    def test_query_and_path_strings(self):
        self.assert_refused('GET', '/volumes?name=a%00b', None, 'NUL')
        self.assert_refused('GET', '/volumes/detail?status=' + LONG, None,
                            'longer than 255')
        self.assert_refused('GET', '/attachments?volume_id=a%00', None,
                            'NUL')
        for path in ('/volumes/a%00b', '/attachments/a%00b',
                     '/types/a%00b', '/volumes/' + 'x' * 300):
            status, body = self.api('GET', path)
            self.assertEqual(404, status, (path, body))
        status, body = self.api('DELETE', '/types/a%00b')
        self.assertEqual(404, status, body)
