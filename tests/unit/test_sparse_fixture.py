"""The functional tests' sparse-file helpers give every byte's answer."""

from __future__ import annotations

import errno
import hashlib
import os
import random
from unittest import mock

from tests import base
from tests.functional.fixtures import sparse

MiB = 1024 * 1024


class SparseFileTest(base.TestCase):

    def _file(self, name: str, size: int,
              pieces: list[tuple[int, bytes]]) -> str:
        path = self.state_file(name)
        with open(path, 'wb') as f:
            f.truncate(size)
            for offset, data in pieces:
                f.seek(offset)
                f.write(data)
        return path

    def _cases(self):
        rnd = random.Random(5)
        yield 'empty', 0, []
        yield 'all-hole', 9 * MiB, []
        yield 'data-at-both-ends', 9 * MiB + 4096, [
            (0, rnd.randbytes(5000)), (9 * MiB, rnd.randbytes(4096))]
        # zeros written in a data extent, data at odd offsets
        yield 'zeros-and-odd-offsets', 20 * MiB, [
            (3 * MiB + 17, bytes(MiB)), (7 * MiB + 3, rnd.randbytes(6 * MiB)),
            (19 * MiB + 1, rnd.randbytes(12345))]
        yield 'all-data', 5 * MiB + 1, [(0, rnd.randbytes(5 * MiB + 1))]

    def test_read_and_sha256_equal_every_byte(self):
        for name, size, pieces in self._cases():
            path = self._file(name, size, pieces)
            with open(path, 'rb') as f:
                whole = f.read()
            self.assertEqual(whole, sparse.read(path), name)
            self.assertEqual(hashlib.sha256(whole).hexdigest(),
                             sparse.sha256(path), name)

    def test_extents_cover_the_file_in_order(self):
        path = self._file('x', 20 * MiB, [(7 * MiB, b'\1' * MiB)])
        fd = os.open(path, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        found = list(sparse.extents(fd))
        self.assertEqual(0, found[0][0])
        for (o, n, _), (next_o, _, _) in zip(found, found[1:]):
            self.assertEqual(o + n, next_o)
        self.assertEqual(20 * MiB, found[-1][0] + found[-1][1])
        self.assertIn(True, [d for _, _, d in found])

    def test_without_seek_data_everything_is_data(self):
        # A loop device answers SEEK_DATA with EINVAL.
        path = self._file('dev', 3 * MiB, [(MiB, b'\5' * 4096)])
        with mock.patch('cinder_driver_side.volume.copy_engines.data_extents',
                        side_effect=OSError(errno.EINVAL, 'no SEEK_DATA')):
            self.assertEqual(hashlib.sha256(
                bytes(MiB) + b'\5' * 4096 + bytes(2 * MiB - 4096)
            ).hexdigest(), sparse.sha256(path))

    def test_copy_replaces_content_in_the_same_inode(self):
        for name, size, pieces in self._cases():
            src = self._file(name + '-src', size, pieces)
            dst = self._file(name + '-dst', 30 * MiB,
                             [(0, b'\7' * (30 * MiB))])
            inode = os.stat(dst).st_ino
            sparse.copy(src, dst)
            with open(src, 'rb') as s, open(dst, 'rb') as d:
                self.assertEqual(s.read(), d.read(), name)
            self.assertEqual(inode, os.stat(dst).st_ino)
