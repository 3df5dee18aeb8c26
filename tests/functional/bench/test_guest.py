"""The tiny guest on real libvirt + QEMU (TCG): boot, write, verify."""

import os
import uuid

from tests import base
from volmig_bench.guest import check
from volmig_bench.guest import protocol


class GuestTestCase(base.TestCase):
    """Each test boots the Debian kernel under TCG (about 5-10 s)."""

    def _check(self, params, seconds, **kwargs):
        cache = os.environ.get('VOLMIG_BENCH_GUEST_CACHE')  # default: ~
        result = check.check_guest(self.state_file('guest'), params,
                                   size=32 << 20, seconds=seconds,
                                   cache_dir=cache, **kwargs)
        self.addDetail('guest', _text(repr(result.as_dict())))
        self.assertEqual(result.expected_sha256, result.actual_sha256)
        self.assertGreater(result.writes, 0)
        self.assertGreater(result.boot_s, 0)
        # Every write acknowledged, each block its last acknowledged write.
        final = result.final
        self.assertTrue(final.passed, final)
        self.assertEqual(result.writes, final.acknowledged)
        self.assertEqual((32 << 20) // 4096, final.ok)
        return result

    def test_acknowledged_writes_verified_mid_run_on_the_serial_disk(self):
        # The volume id as Nova sets it: 36 characters, of which the guest
        # sees 20. A decoy disk comes first (the guest's vda): 'auto' would
        # pick it.
        volume_id = str(uuid.uuid4())
        result = self._check(protocol.WriterParams(
            seed=13, rate=20 * 10 ** 6, device='serial:' + volume_id,
            wait_dev=30, sync_every=1), seconds=4, serial=volume_id,
            decoys=1)
        self.assertEqual('/dev/vdb', result.device)
        with open(self.state_file('guest', 'decoy0.raw'), 'rb') as f:
            self.assertEqual(bytes(32 << 20), f.read())
        mid = result.mid_run
        self.assertTrue(mid.passed, mid)
        self.assertGreater(mid.acknowledged, 0)
        self.assertLess(mid.acknowledged, result.writes)
        self.assertEqual((32 << 20) // 4096, mid.ok + mid.newer)
        self.assertEqual(0, result.final.newer)

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
