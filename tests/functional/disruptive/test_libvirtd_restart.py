"""Invariant 5 across a libvirtd restart, mid-migration.

libvirtd is stopped with SIGTERM while a block job runs (QEMU keeps
running and keeps the job going) and started again; the driver's Host
reconnects by itself and the wait, whose block-job events were lost,
sees readiness in the live XML. A second test restarts libvirtd between
start and complete.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import psutil

from tests.functional.fixtures import libvirt as lv_fixtures
from tests.functional.libvirt import base

LIBVIRTD_PID_FILE = '/run/libvirtd.pid'


def restart_libvirtd(down_for: float = 1.0) -> None:
    """Stop libvirtd by its pid file and start it again, as the host does.

    It is the host's libvirtd (started by tools/setup-host.sh), not one of
    ours: this is why these tests run serially, after all the others.
    """
    stop_libvirtd()
    time.sleep(down_for)
    start_libvirtd()


def stop_libvirtd() -> None:
    """SIGTERM to the host's libvirtd; back once it has exited."""
    with open(LIBVIRTD_PID_FILE) as f:
        pid = int(f.read().strip())
    os.kill(pid, signal.SIGTERM)
    lv_fixtures.wait_for(lambda: not psutil.pid_exists(pid),
                         timeout=30, what='libvirtd %d to exit' % pid)


def start_libvirtd() -> None:
    """Start the host's libvirtd again; back once it answers."""
    subprocess.run(['libvirtd', '-d'], check=True)
    lv_fixtures.wait_for(
        lambda: subprocess.run(['virsh', '-c', 'qemu:///system', 'version'],
                               capture_output=True).returncode == 0,
        timeout=30, what='libvirtd to answer')


class LibvirtdRestartTest(base.LibvirtFunctionalTestCase):

    volume_kind = 'nbd'
    volume_size = 32 * base.MiB

    def test_restart_during_commit_job(self):
        src = self.make_volume('src', seed=31)
        # A 4 MiB/s link: committing 16 MiB takes about 4 s.
        dst = self.make_volume('dst', random_fill=False,
                               link_bytes_per_sec=4 * base.MiB)
        instance = self.spawn({base.DEVICE: src})
        writer = self.writer(instance, src)
        writer.write_some(2)
        migration = self.handle(instance, src)
        self.driver.volume_migration_start(None, instance, migration)
        src_at_start = src.sha256()
        for i in range(16):
            writer.write(offset=i * base.MiB, length=base.MiB)
        lv_fixtures.copy_file_in_place(src.path, dst.path)
        migration.dst_connection_info = dst.connection_info
        self.driver.volume_migration_complete(None, instance, migration)
        errors = []

        def _finish():
            try:
                self.driver.volume_migration_complete_finish(
                    None, instance, migration)
            except Exception as e:
                errors.append(e)

        finisher = threading.Thread(target=_finish)
        finisher.start()
        device = self.driver.host.get_guest(instance).get_block_device('vdb')
        lv_fixtures.wait_for(device.get_job_info, timeout=30,
                             what='the commit job')
        restart_libvirtd()
        finisher.join(180)
        self.assertFalse(finisher.is_alive())
        self.assertEqual([], errors)
        writer.write_some(2)
        self.assertEqual(src_at_start, src.sha256())
        self.assertEqual(writer.sha256(), dst.sha256())
        self.assertDiskOn(instance, dst)
        self.assertQemuReleased(instance, src)
        self.assertNoOverlays()

    def test_restart_between_start_and_complete(self):
        src = self.make_volume('src', seed=32)
        dst = self.make_volume('dst', random_fill=False)
        instance = self.spawn({base.DEVICE: src})
        writer = self.writer(instance, src)
        migration = self.handle(instance, src)
        self.driver.volume_migration_start(None, instance, migration)
        src_at_start = src.sha256()
        writer.write_some(3)
        restart_libvirtd()
        writer.write_some(3)
        lv_fixtures.copy_volume(src.uri, dst.uri)
        migration.dst_connection_info = dst.connection_info
        self.driver.volume_migration_complete(None, instance, migration)
        self.assertQemuReleased(instance, src)
        self.driver.volume_migration_complete_finish(None, instance,
                                                     migration)
        self.assertEqual(src_at_start, src.sha256())
        self.assertEqual(writer.sha256(), dst.sha256())
        self.assertDiskOn(instance, dst)
        self.assertNoOverlays()
