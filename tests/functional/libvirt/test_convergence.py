"""Convergence (DESIGN 5): the guest writes faster than the storage link.

dst is an NBD export behind a 200 Mbit/s (25 MB/s) throttle group and the
guest writes about 40 MB/s. A background-style job (the two_step commit)
cannot get ready like that; the driver sees the remaining work not
shrinking, lowers the guest disk's write limit step by step, finishes,
and puts the guest's own limits back. ``write_blocking`` converges by
construction; ``rebase`` commits after a switch that moves no data, so
it needs the throttle like ``two_step``; all three modes are run. And a
driver killed while the guest runs throttled: reconcile gives the guest
its own limits back.
"""

from __future__ import annotations

import os

from nova_volmig.virt.libvirt import driver as libvirt_driver
from tests.functional.fixtures import harness
from tests.functional.fixtures import libvirt as lv_fixtures
from tests.functional.fixtures import migration as mig_fixtures
from tests.functional.libvirt import base

LINK_BYTES_SEC = 25 * 1000 * 1000          # 200 Mbit/s
GUEST_WRITE_SIZE = 4 * base.MiB
GUEST_WRITE_INTERVAL = 0.1                 # ~40 MB/s when unthrottled
GUEST_OWN_WRITE_LIMIT = 200 * base.MiB     # restored afterwards


def fast_writer_over_slow_link(test, seed: int):
    """A guest writing faster than dst's link.

    Returns src, dst (behind the link), the running instance, its guest
    (with write limits of its own) and the writer.
    """
    src = test.make_volume('src', seed=seed)
    dst = test.make_volume('dst', random_fill=False,
                           link_bytes_per_sec=LINK_BYTES_SEC)
    instance = test.spawn({base.DEVICE: src})
    guest = test.driver.host.get_guest(instance)
    guest.set_block_io_tune('vdb', {'write_bytes_sec': GUEST_OWN_WRITE_LIMIT})
    writer = lv_fixtures.GuestWriter(
        test.driver.host, instance, base.DEVICE, src.read(), seed=seed,
        size=GUEST_WRITE_SIZE)
    return src, dst, instance, guest, writer


class _Convergence:

    volume_kind = 'nbd'
    volume_size = 64 * base.MiB

    def setUp(self):
        super().setUp()
        self.flags(group='libvirt', block_job_progress_window=1.0,
                   block_job_ready_timeout=240,
                   block_job_min_throttle_bytes_sec=base.MiB)

    def test_converges_under_fast_writes(self):
        src, dst, instance, guest, writer = fast_writer_over_slow_link(
            self, seed=41)
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


class ThrottledCommitCrashTest(base.LibvirtFunctionalTestCase):
    """The guest's own limits come back after a crash in a throttled commit.

    The two-step commit is throttled (the guest writes faster than dst's
    link); the driver process is SIGKILLed while the guest runs under the
    throttle, and a fresh driver's reconcile puts the saved limits back.
    """

    volume_kind = 'nbd'
    volume_size = 64 * base.MiB

    def test_limits_restored_by_reconcile(self):
        flags = {'block_job_progress_window': 1.0,
                 'block_job_ready_timeout': 240,
                 'block_job_min_throttle_bytes_sec': base.MiB,
                 'volume_migration_complete_mode': 'two_step'}
        self.flags(group='libvirt', **flags)
        src, dst, instance, guest, writer = fast_writer_over_slow_link(
            self, seed=43)
        state = self.state_file('migration.json')
        self.handle(instance, src, state_file=state).save()
        child_flags = {'state_path': self.state_path}
        child_flags.update({
            'libvirt.%s' % name: str(getattr(self.driver_conf, name))
            for name in ('volume_migration_overlay_dir', 'instances_path',
                         *flags)})
        proc = harness.DriverProcess(state, instance, child_flags,
                                     os.path.dirname(state))
        self.addCleanup(proc.kill)
        proc.run('start')
        src_at_start = src.sha256()
        lv_fixtures.copy_file_in_place(src.path, dst.path)
        handle = mig_fixtures.FakeMigrationHandle.load(state)
        handle.dst_connection_info = dst.connection_info
        handle.save()
        proc.run('complete')
        writer.start(interval=GUEST_WRITE_INTERVAL)
        # More new data than the link moves in a second before the commit
        # starts (the child starts at once: no interpreter start-up).
        lv_fixtures.wait_for(lambda: writer.count >= 12, timeout=60,
                             what='guest writes')
        proc.start('complete_finish', pause_when_throttled=True)
        self.assertEqual('throttled', proc.wait_paused(timeout=120))
        proc.kill()
        writer.stop()
        saved = mig_fixtures.FakeMigrationHandle.load(state).driver_data[
            'saved_iotune']
        self.assertEqual(GUEST_OWN_WRITE_LIMIT, saved['write_bytes_sec'])
        self.assertNotEqual(GUEST_OWN_WRITE_LIMIT,
                            guest.get_block_io_tune('vdb')['write_bytes_sec'])

        fresh = libvirt_driver.LibvirtDriver()
        fresh.init_host('restarted')
        self.addCleanup(fresh.cleanup_host, 'restarted')
        handle = mig_fixtures.FakeMigrationHandle.load(state)
        fresh.volume_migration_reconcile(None, instance, handle)
        tune = guest.get_block_io_tune('vdb')
        self.assertEqual(GUEST_OWN_WRITE_LIMIT, tune['write_bytes_sec'])
        self.assertEqual(0, tune['total_bytes_sec'])
        self.assertIsNone(handle.driver_data['saved_iotune'])
        fresh.volume_migration_complete_finish(None, instance, handle)
        writer.write_some(2)
        self.assertEqual(src_at_start, src.sha256())
        self.assertEqual(writer.sha256(), dst.sha256())
        self.assertDiskOn(instance, dst)
        self.assertNoOverlays()
