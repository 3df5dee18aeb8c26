"""The XFS reflink pool on a real loop device."""

import json
import os
import subprocess

from tests import base
from volmig_bench import fill
from volmig_bench.guest import expected
from volmig_bench import xfs_pool


class XfsPoolTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        ok, why = xfs_pool.loop_available()
        if not ok:
            self.fail('loop devices are needed here: %s' % why)

    def test_reflink_copy_and_teardown(self):
        with xfs_pool.xfs_pool(self.state_path, 512 << 20) as pool:
            self.assertTrue(os.path.ismount(pool.path))
            src = os.path.join(pool.path, 'src.raw')
            dst = os.path.join(pool.path, 'dst.raw')
            filled = fill.fill_volume(src, 64 << 20, 0.6, seed=4)
            xfs_pool.reflink(src, dst)
            self.assertEqual(filled.sha256, expected.sha256_file(dst))
            # Shared extents: the clone took no new data blocks.
            used = _used_bytes(pool.path)
            xfs_pool.reflink(src, os.path.join(pool.path, 'dst2.raw'))
            self.assertLess(_used_bytes(pool.path) - used, 4 << 20)
            # Holes stay holes in the clone.
            self.assertEqual(fill.allocated_extents(src),
                             fill.allocated_extents(dst))
            device, image = pool.device, pool.image
        self.assertFalse(os.path.ismount(pool.path))
        self.assertFalse(os.path.exists(image))
        out = subprocess.run(['losetup', '--list', '--json'],
                             capture_output=True, text=True).stdout
        devices = json.loads(out or '{"loopdevices": []}')['loopdevices']
        self.assertNotIn(image, [d.get('back-file') for d in devices])
        self.assertNotIn((device, image),
                         [(d['name'], d.get('back-file')) for d in devices])

    def test_teardown_on_exception(self):
        class Boom(Exception):
            pass

        seen = {}
        try:
            with xfs_pool.xfs_pool(self.state_path, 512 << 20) as pool:
                seen['pool'] = pool
                raise Boom()
        except Boom:
            pass
        self.assertFalse(os.path.ismount(seen['pool'].path))
        self.assertFalse(os.path.exists(seen['pool'].image))


def _used_bytes(path):
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize
