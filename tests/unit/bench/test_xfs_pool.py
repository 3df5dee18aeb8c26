"""XFS pool: detection and teardown order (no real loop device)."""

import os
from unittest import mock

from tests import base
from volmig_bench import exception
from volmig_bench import xfs_pool


class XfsPoolTestCase(base.TestCase):

    def test_unavailable_loop_devices_are_said(self):
        with mock.patch.object(xfs_pool, 'loop_available',
                               return_value=(False, 'no /dev/loop-control')):
            exc = self.assertRaises(exception.LoopDeviceUnavailable,
                                    xfs_pool.xfs_pool(self.state_path,
                                                      1 << 30).__enter__)
        self.assertIn('no /dev/loop-control', str(exc))

    def test_make_and_destroy(self):
        calls = []

        def run(*cmd, **kwargs):
            calls.append(cmd)
            if cmd[:3] == ('losetup', '--find', '--show'):
                return '/dev/loop7\n'
            if cmd[:2] == ('losetup', '--list'):
                return ('{"loopdevices": [{"name": "/dev/loop7", '
                        '"back-file": "%s"}]}' % image[0])
            return ''

        image = []
        with mock.patch.object(xfs_pool, '_run', side_effect=run), \
                mock.patch.object(xfs_pool, 'loop_available',
                                  return_value=(True, '')), \
                mock.patch.object(xfs_pool, 'supports_reflink',
                                  return_value=True), \
                mock.patch('volmig_bench.host.require'), \
                mock.patch('os.path.ismount', return_value=True):
            with xfs_pool.xfs_pool(self.state_path, 1 << 20) as pool:
                image.append(pool.image)
                self.assertEqual(xfs_pool.MIN_SIZE,
                                 os.path.getsize(pool.image))
                self.assertEqual('/dev/loop7', pool.device)
        names = [c[0] for c in calls]
        self.assertEqual(['losetup', 'mkfs.xfs', 'mount', 'umount',
                          'losetup', 'losetup'], names)
        self.assertIn('reflink=1', calls[1])
        self.assertEqual(('losetup', '--detach', '/dev/loop7'), calls[-1])
        self.assertFalse(os.path.exists(image[0]))

    def test_reflink_probe_on_plain_directory(self):
        # Whatever the answer, the probe leaves nothing behind.
        xfs_pool.supports_reflink(self.state_path)
        self.assertEqual([], os.listdir(self.state_path))
