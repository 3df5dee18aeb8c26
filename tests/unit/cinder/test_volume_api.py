"""volume.api.API checks a request before the manager sees it."""

from __future__ import annotations

from unittest import mock

from cinder_driver_side import exception
from cinder_driver_side.volume import api as volume_api
from tests.unit.cinder import base

INSTANCE = '11111111-2222-3333-4444-555555555555'


class VolumeAPIValidationTest(base.CinderTestCase):

    def setUp(self):
        super().setUp()
        self.api_ = volume_api.API(self.svc.manager)
        self.ctx = base._admin()

    def _volume(self, volume_id):
        return self.svc.db.volume_get(self.ctx, volume_id)

    def test_refusals_reach_neither_manager_nor_database(self):
        volume_id = self.create_volume()
        with mock.patch.object(self.svc.manager,
                               'migrate_volume') as start:
            for host, error in (
                    ('aio@array1#pool1', exception.InvalidHost),
                    ('aio@array9#pool1', exception.InvalidHost),
                    ('nonsense', exception.InvalidHost)):
                self.assertRaises(error, self.api_.migrate_volume,
                                  self.ctx, self._volume(volume_id), host)
            self.svc.manager.stopping.set()
            self.addCleanup(self.svc.manager.stopping.clear)
            self.assertRaises(exception.InvalidVolume,
                              self.api_.migrate_volume, self.ctx,
                              self._volume(volume_id), 'aio@array1#pool2')
        start.assert_not_called()
        self.assertIsNone(self._volume(volume_id).migration_status)
        self.assertRaises(exception.MigrationNotFound,
                          self.svc.manager.get_migration, self.ctx,
                          volume_id)

    def test_claim_then_manager_gets_the_record(self):
        volume_id = self.create_volume()
        with mock.patch.object(self.svc.manager,
                               'migrate_volume') as start:
            record = self.api_.migrate_volume(
                self.ctx, self._volume(volume_id), 'aio@array2#pool1',
                lock_volume=True)
        start.assert_called_once_with(self.ctx, record)
        self.assertEqual(('detached', 'generic', 'starting', True),
                         (record.kind, record.copy_engine, record.status,
                          record.lock_volume))
        volume = self._volume(volume_id)
        self.assertEqual(('starting', 'maintenance'),
                         (volume.migration_status, volume.status))
        # The claim holds: a second request is refused.
        self.assertRaises(exception.InvalidVolume, self.api_.migrate_volume,
                          self.ctx, volume, 'aio@array2#pool1')

    def test_completion_checked_before_the_flow(self):
        volume_id = self.create_volume()
        with mock.patch.object(self.svc.manager,
                               'migrate_volume_completion') as complete:
            self.assertRaises(exception.InvalidVolume,
                              self.api_.migrate_volume_completion,
                              self.ctx, volume_id, volume_id, False)
        complete.assert_not_called()
