"""The tiny guest on real libvirt + QEMU (TCG): boot, write, verify."""

import os

from tests import base
from volmig_bench.guest import check
from volmig_bench.guest import protocol


class GuestTestCase(base.TestCase):
    """Each test boots the Debian kernel under TCG (about 5-10 s)."""

    def _check(self, params, seconds):
        cache = os.environ.get('VOLMIG_BENCH_GUEST_CACHE')  # default: ~
        result = check.check_guest(self.state_file('guest'), params,
                                   size=32 << 20, seconds=seconds,
                                   cache_dir=cache)
        self.addDetail('guest', _text(repr(result.as_dict())))
        self.assertEqual(result.expected_sha256, result.actual_sha256)
        self.assertGreater(result.writes, 0)
        self.assertGreater(result.boot_s, 0)
        return result

    def test_steady_64k_writes_verified_by_checksum(self):
        result = self._check(protocol.WriterParams(
            seed=11, rate=20 * 10 ** 6), seconds=3)
        self.assertEqual(result.writes, result.latency['count'])

    def test_size_mix_verified_by_checksum(self):
        self._check(protocol.WriterParams(
            seed=12, rate=20 * 10 ** 6,
            mix=protocol.parse_mix('4k:30,64k:60,1m:10')), seconds=2)


def _text(value):
    from testtools import content

    return content.text_content(value)
