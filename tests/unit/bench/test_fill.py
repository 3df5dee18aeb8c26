"""Volume fill: allocation fraction, extents, determinism, checksum."""

import hashlib
import os

from tests import base
from volmig_bench import exception
from volmig_bench import fill


class LayoutTestCase(base.TestCase):

    def test_fraction_is_exact_to_the_granule(self):
        for size, fraction in ((64 << 20, 0.6), (1 << 30, 0.6),
                               (16 << 20, 0.25), (8 << 20, 0.9)):
            extents = fill.layout(size, fraction, seed=2)
            allocated = sum(e.length for e in extents)
            granules = size // fill.GRANULE
            self.assertEqual(round(fraction * granules) * fill.GRANULE,
                             allocated)

    def test_extents_are_ordered_apart_and_inside(self):
        extents = fill.layout(256 << 20, 0.6, seed=7)
        self.assertGreater(len(extents), 10)
        end = -1
        for e in extents:
            self.assertEqual(0, e.offset % fill.GRANULE)
            self.assertGreater(e.offset, end)  # a hole between extents
            end = e.offset + e.length
        self.assertLessEqual(end, 256 << 20)

    def test_varied_sizes_and_kinds(self):
        extents = fill.layout(1 << 30, 0.6, seed=1)
        lengths = [e.length for e in extents]
        self.assertGreater(max(lengths), 16 * min(lengths))
        self.assertEqual(set(fill.KINDS), {e.kind for e in extents})

    def test_deterministic(self):
        self.assertEqual(fill.layout(64 << 20, 0.6, 5),
                         fill.layout(64 << 20, 0.6, 5))
        self.assertNotEqual(fill.layout(64 << 20, 0.6, 5),
                            fill.layout(64 << 20, 0.6, 6))

    def test_edges(self):
        self.assertEqual([], fill.layout(1 << 20, 0.0))
        full = fill.layout(1 << 20, 1.0)
        self.assertEqual([(0, 1 << 20)],
                         [(e.offset, e.length) for e in full])
        self.assertRaises(exception.InvalidParameter, fill.layout, 1000)
        self.assertRaises(exception.InvalidParameter, fill.layout,
                          1 << 20, 1.5)


class FillVolumeTestCase(base.TestCase):

    def test_sha256_matches_contents_and_file_is_sparse(self):
        path = self.state_file('vol.raw')
        result = fill.fill_volume(path, 32 << 20, 0.6, seed=3)
        with open(path, 'rb') as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(),
                             result.sha256)
        self.assertEqual(32 << 20, os.path.getsize(path))
        self.assertEqual(sum(result.bytes_by_kind.values()),
                         result.allocated)
        # The file system holds (about) the allocated bytes, no more.
        on_disk = os.stat(path).st_blocks * 512
        self.assertLess(on_disk, result.allocated + (2 << 20))
        regions = fill.allocated_extents(path)
        self.assertEqual(result.allocated, sum(n for _, n in regions))

    def test_same_seed_same_image(self):
        a = fill.fill_volume(self.state_file('a.raw'), 8 << 20, 0.6, 9)
        b = fill.fill_volume(self.state_file('b.raw'), 8 << 20, 0.6, 9)
        self.assertEqual(a.sha256, b.sha256)

    def test_kinds_differ_in_compressibility(self):
        import zlib

        import numpy as np

        rng = np.random.default_rng(1)
        sizes = {kind: len(zlib.compress(
            fill._extent_bytes(rng, kind, 1 << 20)))
            for kind in fill.KINDS}
        self.assertGreater(sizes['random'], 1000000)
        self.assertLess(sizes['text'], sizes['random'] * 0.7)
        self.assertLess(sizes['zeroish'], 50000)
