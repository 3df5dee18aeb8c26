"""The legacy swap guard (issue 16 item 1, nova bug 2112187).

A swap re-points a guest's disk: it is accepted only while Cinder is
migrating the old volume to that very new volume.
"""

from nova_volmig.compute import task_states
from nova_volmig import exception
from nova_volmig.volume import cinder
from tests import base
from tests.unit.nova import test_volume_migration as base_flow

OLD = '0d4f3c2b-1a09-4876-9543-21fedcba9876'
NEW = 'a1b2c3d4-e5f6-4789-8abc-def012345678'


def _volumes(old_status, new_status):
    return ({'id': OLD, 'migration_status': old_status},
            {'id': NEW, 'migration_status': new_status})


class TestSwapRefusal(base.TestCase):

    def test_cinders_own_migration_is_accepted(self):
        for status in ('migrating', 'completing'):
            self.assertIsNone(cinder.swap_refusal(
                *_volumes(status, 'target:%s' % OLD)), status)

    def test_old_volume_not_in_flight_is_refused(self):
        # Leftovers of an earlier migration and never-migrated volumes.
        for status in (None, 'success', 'error', 'starting',
                       'target:%s' % NEW):
            reason = cinder.swap_refusal(*_volumes(status,
                                                   'target:%s' % OLD))
            self.assertIsNotNone(reason, status)
            self.assertIn('not being migrated', reason)
            self.assertIn(str(status), reason)

    def test_new_volume_not_the_destination_is_refused(self):
        for status in (None, 'success', 'target:%s' % NEW,
                       'target:1111aaaa-0000-4000-8000-000000000000'):
            reason = cinder.swap_refusal(*_volumes('migrating', status))
            self.assertIsNotNone(reason, status)
            self.assertIn('not the destination', reason)
            self.assertIn(NEW, reason)


class TestSwapVolumeGuard(base_flow.ComputeTestCase):
    """Through the compute API: a refusal changes nothing at all."""

    def _swap(self, old_status, new_status):
        new_volume = self.cinder.create_volume(migration_status=new_status)
        self.cinder.volumes[self.volume_id]['migration_status'] = old_status
        disks_before = dict(self.driver.instances[self.instance.uuid]
                            ['disks'])
        e = self.assertRaises(
            exception.VolumeSwapRefused, self.api.swap_volume, self.ctxt,
            self.instance_now(), self.volume_id, new_volume)
        self.assertEqual(409, e.code)
        # Nothing was claimed, called or re-pointed.
        self.assertIsNone(self.instance_now().task_state)
        self.assertEqual(disks_before, self.driver.instances[
            self.instance.uuid]['disks'])
        self.assertEqual([], self.cinder.completions)
        self.assertEqual(self.src, self.api.get_attachment(
            self.ctxt, self.instance_now(), self.volume_id).attachment_id)
        return e

    def test_leftover_success_is_409(self):
        e = self._swap('success', None)
        self.assertIn('migration_status is success', e.format_message())

    def test_leftover_error_is_409(self):
        e = self._swap('error', 'target:%s' % self.volume_id)
        self.assertIn('migration_status is error', e.format_message())

    def test_unrelated_new_volume_is_409(self):
        e = self._swap('migrating', None)
        self.assertIn('not the destination', e.format_message())

    def test_destination_of_another_volume_is_409(self):
        other = self.cinder.create_volume()
        e = self._swap('migrating', 'target:%s' % other)
        self.assertIn('not the destination', e.format_message())

    def test_cinders_migration_is_accepted(self):
        new_volume = self.cinder.create_volume(
            migration_status='target:%s' % self.volume_id)
        self.cinder.volumes[self.volume_id]['migration_status'] = 'migrating'
        self.api.swap_volume(self.ctxt, self.instance_now(), self.volume_id,
                             new_volume)
        base_flow.nf.wait_for(
            lambda: self.instance_now().task_state is None
            and self.cinder.completions, what='swap finished')
        self.assertEqual([(self.volume_id, new_volume, False)],
                         self.cinder.completions)
        self.assertNotEqual(task_states.SWAPPING_VOLUME,
                            self.instance_now().task_state)
