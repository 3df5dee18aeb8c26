"""Volume snapshots and the migration refusal they cause."""

import os

import fixtures

from tests.unit.cinder import base


class SnapshotAPITest(base.CinderTestCase):

    def snapshot(self, volume_id, expect=202, **extra):
        status, body = self.api('POST', '/snapshots', {'snapshot': {
            'volume_id': volume_id, **extra}})
        self.assertEqual(expect, status, body)
        return body.get('snapshot', body)

    def test_create_list_show_delete(self):
        volume_id = self.create_volume()
        volume = self.volume(volume_id)
        snap = self.snapshot(volume_id, name='before')
        with open(self.path_of(volume_id), 'rb') as f:
            content = f.read()
        self.assertEqual(('available', volume_id, 'before'),
                         (snap['status'], snap['volume_id'], snap['name']))
        # The copy lies next to the volume's data on its pool.
        pool_dir = os.path.dirname(self.path_of(volume_id))
        data = os.path.join(pool_dir, 'snapshot-%s' % snap['id'])
        with open(data, 'rb') as f:
            self.assertEqual(content, f.read())
        status, body = self.api('GET', '/snapshots?volume_id=%s'
                                % volume_id)
        self.assertEqual([snap['id']], [s['id'] for s in body['snapshots']])
        status, body = self.api('GET', '/snapshots/detail')
        self.assertEqual(volume['size'], body['snapshots'][0]['size'])
        self.assertEqual('p1', body['snapshots'][0][
            'os-extended-snapshot-attributes:project_id'])
        status, body = self.api('GET', '/snapshots/%s' % snap['id'])
        self.assertEqual(200, status)
        # Another project sees neither it nor its list entry.
        self.assertEqual(404, self.api('GET', '/snapshots/%s' % snap['id'],
                                       token='bob:p2')[0])
        self.assertEqual([], self.api('GET', '/snapshots',
                                      token='bob:p2')[1]['snapshots'])
        self.assertEqual(202, self.api('DELETE', '/snapshots/%s'
                                       % snap['id'])[0])
        self.assertFalse(os.path.exists(data))
        self.assertEqual(404, self.api('GET', '/snapshots/%s'
                                       % snap['id'])[0])

    def test_volume_with_snapshots_is_not_migrated_nor_deleted(self):
        volume_id = self.create_volume()
        snap = self.snapshot(volume_id)
        status, body = self.api(
            'POST', '/volumes/%s/action' % volume_id,
            {'os-migrate_volume': {'host': 'aio@array1#pool2'}})
        self.assertEqual(400, status)
        self.assertEqual('Invalid volume: Volume %s must not have '
                         'snapshots.' % volume_id,
                         body['badRequest']['message'])
        self.assertIsNone(self.volume(volume_id)['migration_status'])
        status, body = self.api('DELETE', '/volumes/%s' % volume_id)
        self.assertEqual(400, status)
        self.assertIn('Volume still has 1 dependent snapshots.',
                      body['badRequest']['message'])
        # Without its snapshot, the volume migrates again.
        self.api('DELETE', '/snapshots/%s' % snap['id'])
        status, body = self.api(
            'POST', '/volumes/%s/action' % volume_id,
            {'os-migrate_volume': {'host': 'aio@array1#pool2'}})
        self.assertEqual(202, status, body)

    def test_in_use_needs_force_and_schema(self):
        volume_id = self.create_volume()
        self.svc.db.volume_update(base._admin(), volume_id,
                                  {'status': 'in-use'})
        body = self.snapshot(volume_id, expect=400)
        self.assertIn('in-use with force', body['badRequest']['message'])
        self.assertEqual('available',
                         self.snapshot(volume_id, force=True)['status'])
        self.snapshot(volume_id, expect=400, bogus=1)


class RetypeStatusTest(base.CinderTestCase):
    """A retype that migrates shows status "retyping", as upstream."""

    def setUp(self):
        super().setUp()
        self.api('POST', '/types', {'volume_type': {
            'name': 'gold', 'extra_specs': {'volume_backend_name': 'array2'}}})

    def retype(self, volume_id):
        status, body = self.api('POST', '/volumes/%s/action' % volume_id,
                                {'os-retype': {'new_type': 'gold',
                                               'migration_policy':
                                               'on-demand'}})
        self.assertEqual(202, status, body)

    def test_retyping_while_the_flow_runs(self):
        volume_id = self.create_volume()
        # The flow never runs: the claim alone is seen.
        self.useFixture(fixtures.MockPatch(
            'cinder_driver_side.volume.flows.base.MigrationFlow.start'))
        self.retype(volume_id)
        volume = self.volume(volume_id)
        self.assertEqual(('retyping', 'starting'),
                         (volume['status'], volume['migration_status']))

    def test_status_restored_when_done(self):
        volume_id = self.create_volume()
        self.retype(volume_id)
        volume = self.wait_done(volume_id)
        self.assertEqual(('available', 'success', 'gold'),
                         (volume['status'], volume['migration_status'],
                          volume['volume_type']))
