"""Copy engines on real filesystems: sparse, checksums, rate, reflink."""

import errno
import os
import shutil
import subprocess
import time

import fixtures

from cinder_driver_side import exception
from cinder_driver_side.volume import copy_engines
from tests import base

MiB = 1024 * 1024


def make_src(path, size=16 * MiB):
    """Data at 0-1 MiB and 8-9 MiB, holes elsewhere."""
    with open(path, 'wb') as f:
        f.truncate(size)
        f.seek(0)
        f.write(os.urandom(MiB))
        f.seek(8 * MiB)
        f.write(os.urandom(MiB))
    return size


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True)


class CopyEngineTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.src = os.path.join(self.dir, 'src')
        self.size = make_src(self.src)

    def _copy(self, engine, dst_dir=None, bandwidth=0):
        dst = os.path.join(dst_dir or self.dir, 'dst-' + engine)
        seen = []
        result = copy_engines.get_engine(engine).copy(
            self.src, dst, self.size, seen.append, bandwidth)
        self.assertEqual(copy_engines.file_digest(self.src),
                         copy_engines.file_digest(dst))
        self.assertEqual(sorted(seen), seen)        # monotonic
        self.assertEqual((0, self.size), (seen[0], seen[-1]))
        return dst, result

    def test_native_keeps_holes(self):
        dst, result = self._copy('native')
        self.assertIn(result.method, ('reflink', 'copy_file_range'))
        self.assertLessEqual(os.stat(dst).st_blocks * 512, 3 * MiB)
        if result.method == 'copy_file_range':
            self.assertEqual(2 * MiB, result.bytes_transferred)

    def test_generic_reads_all_writes_data_only(self):
        dst, result = self._copy('generic')
        self.assertEqual('read_write', result.method)
        # Whole chunks holding data are written, all-zero ones skipped.
        self.assertLess(result.bytes_transferred, self.size)
        self.assertLessEqual(os.stat(dst).st_blocks * 512,
                             result.bytes_transferred)

    def test_bandwidth_honoured(self):
        # 2 MiB of data... the generic engine counts every byte read.
        started = time.monotonic()
        self._copy('generic', bandwidth=32 * MiB)
        self.assertGreaterEqual(time.monotonic() - started, 0.4)

    def test_enospc_mid_copy_is_a_copy_failure(self):
        small = os.path.join(self.dir, 'small')
        os.mkdir(small)
        if run(['mount', '-t', 'tmpfs', '-o', 'size=1536k', 'tmpfs',
                small]).returncode:
            self.fail('cannot mount a tmpfs (root needed)')
        self.addCleanup(run, ['umount', '-l', small])
        for engine in ('native', 'generic'):
            dst = os.path.join(small, engine)
            err = self.assertRaises(
                exception.CopyFailed, copy_engines.get_engine(engine).copy,
                self.src, dst, self.size, None, 0)
            self.assertIn(os.strerror(errno.ENOSPC), str(err))
            os.unlink(dst)

    def test_reflink_on_xfs(self):
        if not shutil.which('mkfs.xfs'):
            self.skip_unless_ci('mkfs.xfs missing: apt-get install '
                                'xfsprogs')
        image = os.path.join(self.dir, 'xfs.img')
        with open(image, 'wb') as f:
            f.truncate(300 * MiB)
        self.assertEqual(0, run(['mkfs.xfs', '-q', '-m', 'reflink=1',
                                 image]).returncode)
        mnt = os.path.join(self.dir, 'mnt')
        os.mkdir(mnt)
        mounted = run(['mount', '-o', 'loop', image, mnt])
        if mounted.returncode:
            self.skip_unless_ci('no loop device here: %s'
                                % mounted.stderr)
        self.addCleanup(run, ['umount', '-d', mnt])
        shutil.copy(self.src, os.path.join(mnt, 'src'))
        self.src = os.path.join(mnt, 'src')
        dst, result = self._copy('native', dst_dir=mnt)
        self.assertEqual('reflink', result.method)
        self.assertEqual(0, result.bytes_transferred)
        # FICLONERANGE in steps when a rate limit is set.
        seen = []
        copy_engines.get_engine('native').copy(
            self.src, os.path.join(mnt, 'dst2'), self.size, seen.append,
            64 * MiB)
        self.assertGreater(len(seen), 3)
        self.assertEqual(copy_engines.file_digest(self.src),
                         copy_engines.file_digest(os.path.join(mnt, 'dst2')))


class RateLimiterTest(base.TestCase):

    def test_sleeps_to_the_rate(self):
        now = [0.0]
        slept = []

        def sleep(delay):
            slept.append(delay)
            now[0] += delay
        limiter = copy_engines.RateLimiter(100, clock=lambda: now[0],
                                           sleep=sleep)
        limiter.throttle(50)
        limiter.throttle(50)
        self.assertEqual([0.5, 0.5], slept)
