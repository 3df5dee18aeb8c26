"""Convergence (DESIGN 5): the guest writes faster than the storage link.

dst is an NBD export behind a 200 Mbit/s (25 MB/s) throttle group and the
guest writes about 40 MB/s. A background-style job (the two_step commit)
cannot get ready like that; the driver sees the remaining work not
shrinking, lowers the guest disk's write limit step by step, finishes,
and puts the guest's own limits back. ``write_blocking`` converges by
construction; ``rebase`` commits after a switch that moves no data, so
it needs the throttle like ``two_step``; all three modes are run.
"""

from __future__ import annotations

from tests.functional.fixtures import libvirt as lv_fixtures
from tests.functional.libvirt import base

LINK_BYTES_SEC = 25 * 1000 * 1000          # 200 Mbit/s
GUEST_WRITE_SIZE = 4 * base.MiB
GUEST_WRITE_INTERVAL = 0.1                 # ~40 MB/s when unthrottled
GUEST_OWN_WRITE_LIMIT = 200 * base.MiB     # restored afterwards


class _Convergence:

    volume_kind = 'nbd'
    volume_size = 64 * base.MiB

    def setUp(self):
        super().setUp()
        self.flags(group='libvirt', block_job_progress_window=1.0,
                   block_job_ready_timeout=240,
                   block_job_min_throttle_bytes_sec=base.MiB)

    def test_converges_under_fast_writes(self):
        src = self.make_volume('src', seed=41)
        dst = self.make_volume('dst', random_fill=False,
                               link_bytes_per_sec=LINK_BYTES_SEC)
        instance = self.spawn({base.DEVICE: src})
        guest = self.driver.host.get_guest(instance)
        guest.set_block_io_tune('vdb', {
            'write_bytes_sec': GUEST_OWN_WRITE_LIMIT})
        writer = lv_fixtures.GuestWriter(
            self.driver.host, instance, base.DEVICE, src.read(), seed=4,
            size=GUEST_WRITE_SIZE)
        migration = self.handle(instance, src)
        self.driver.volume_migration_start(None, instance, migration)
        src_at_start = src.sha256()
        lv_fixtures.copy_file_in_place(src.path, dst.path)
        migration.dst_connection_info = dst.connection_info
        writer.start(interval=GUEST_WRITE_INTERVAL)
        # Give the overlay more new data than the link moves in a second.
        lv_fixtures.wait_for(lambda: writer.count >= 12, timeout=60,
                             what='guest writes')
        self.driver.volume_migration_complete(None, instance, migration)
        self.assertQemuReleased(instance, src)
        self.driver.volume_migration_complete_finish(None, instance,
                                                     migration)
        writes = writer.stop()
        throttled = [s['saved_iotune'] for s in migration.saves
                     if s.get('saved_iotune')]
        if self.expect_throttle:
            self.assertTrue(throttled, 'the guest was never throttled')
            self.assertEqual(GUEST_OWN_WRITE_LIMIT,
                             throttled[0]['write_bytes_sec'])
        tune = guest.get_block_io_tune('vdb')
        self.assertEqual(GUEST_OWN_WRITE_LIMIT, tune['write_bytes_sec'])
        self.assertEqual(0, tune['total_bytes_sec'])
        self.assertIsNone(migration.driver_data['saved_iotune'])
        self.assertGreater(writes, 12)
        self.assertEqual(src_at_start, src.sha256())
        self.assertEqual(writer.sha256(), dst.sha256())
        self.assertDiskOn(instance, dst)
        self.assertNoOverlays()


class TwoStepConvergenceTest(_Convergence, base.LibvirtFunctionalTestCase):
    """The commit into dst needs the throttle to get ready."""

    expect_throttle = True

    def setUp(self):
        super().setUp()
        self.flags(group='libvirt', volume_migration_complete_mode='two_step')


class WriteBlockingConvergenceTest(_Convergence,
                                   base.LibvirtFunctionalTestCase):
    """The write-blocking copy slows the guest to the link by itself."""

    expect_throttle = False

    def setUp(self):
        super().setUp()
        self.flags(group='libvirt',
                   volume_migration_complete_mode='write_blocking')


class RebaseConvergenceTest(_Convergence, base.LibvirtFunctionalTestCase):
    """The commit after the live rebase needs the throttle too."""

    expect_throttle = True

    def setUp(self):
        super().setUp()
        self.flags(group='libvirt', volume_migration_complete_mode='rebase')
