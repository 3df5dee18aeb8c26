"""nova-volmig-compute SIGKILLed mid-migration in the distributed deployment.

The test plays Cinder through the REST API: start, a copy of src onto a
dst volume, then complete or cancel. compute-live is SIGKILLed after start
returned (the guest writes into the start overlay) and during the
asynchronous commit of complete. While it is dead the API answers 409
within the RPC timeout, never hangs; once restarted, the service
reconciles the migration with what libvirt shows, and it completes or
cancels with every byte in place (DESIGN 6, invariants 1-3 and 5).
Guest writes (HMP qemu-io) happen only while no block job runs.
"""

from __future__ import annotations

import glob
import os
import time

import libvirt
import testtools

from tests.functional.distributed import fixtures as dist
from tests.functional.fixtures import libvirt as lv

MiB = 1024 * 1024
RPC_TIMEOUT = 10
# The API's answer may take the RPC timeout plus a little bookkeeping.
ANSWER_BOUND = RPC_TIMEOUT + 5


class TestComputeKilled(dist.DistributedTestCase):

    settings = {'start_timeout': RPC_TIMEOUT,
                'complete_timeout': RPC_TIMEOUT,
                'rpc_call_timeout': RPC_TIMEOUT,
                'service_down_time': 5,
                'nova_overrides': {'libvirt': {
                    'volume_migration_complete_mode': 'two_step'}}}
    # Guest data written between start and complete: the commit into dst
    # takes long enough to be caught running.
    OVERLAY_MIB = 384

    def prepare(self, size_mib: int = dist.VOLUME_MIB) -> None:
        """A running server, its volume (src) and a dst volume for it."""
        self.server, self.volume, self.writer = self.attached_volume(
            seed=11, size_mib=size_mib)
        self.src_path = self.cloud.volume_path(self.volume)
        self.src = self.cloud.attachment_id(self.server['id'],
                                            self.volume['id'])
        self.writer.write_some(4)
        dst = self.cloud.create_volume(
            size_bytes=os.path.getsize(self.src_path))
        self.dst_path = self.cloud.volume_path(dst)
        self.dst = self.cloud.create_attachment(dst['id'],
                                                self.server['id'])['id']

    def overlays(self) -> list[str]:
        return glob.glob(os.path.join(
            self.deployment.state_path, dist.LIVE,
            'volume-migration-overlays', '*'))

    def start(self) -> str:
        """Start; the sha256 of src at start."""
        resp = self.cloud.start_migration(self.src)
        self.assertEqual(201, resp.status_code, resp.text)
        self.assertEqual('running', resp.json()['volume_migration']['status'])
        self.assertTrue(self.overlays())
        # Invariant 1 from here on: src is read-only.
        self.assertEqual(self.writer.sha256(), lv.sha256_file(self.src_path))
        return self.writer.sha256()

    def copy_src_to_dst(self) -> None:
        """Cinder's copy, while the migration runs."""
        lv.copy_volume(self.src_path, self.dst_path)

    def kill_compute(self) -> None:
        self.deployment.kill_service(dist.LIVE)

    def restart_compute(self) -> None:
        self.deployment.start_service(dist.LIVE)

    def assertAnswers409(self, call, bound: float = ANSWER_BOUND):
        began = time.monotonic()
        resp = call()
        elapsed = time.monotonic() - began
        self.assertEqual(409, resp.status_code, resp.text)
        self.assertLess(elapsed, bound, resp.text)
        return resp.json()['conflict']['message']

    def assertQemuDoesNotHold(self, path: str) -> None:
        pid = lv.qemu_pid(lv.FakeInstance(
            uuid=self.server['id'],
            name=self.server['OS-EXT-SRV-ATTR:instance_name']))
        self.assertNotIn(path, lv.open_paths(pid))

    # Killed after start returned: the guest writes into the start overlay.

    def test_complete_after_restart(self):
        self.prepare()
        at_start = self.start()
        self.writer.write_some(3)  # into the overlay
        self.kill_compute()
        self.writer.write_some(3)  # QEMU runs on without its compute host
        self.copy_src_to_dst()
        # The API still counts the host as up: complete goes out over RPC
        # and comes back 409 when nobody answers within the timeout.
        message = self.assertAnswers409(
            lambda: self.cloud.complete_migration(self.src, self.dst))
        self.assertIn(dist.LIVE, message)
        # No host took it, so nothing was switched: the record is running
        # again at once and says so (the caller may retry or cancel).
        self.assertIn('nothing was changed', message)
        record = self.cloud.migration(self.src)
        self.assertEqual('running', record['status'])
        self.assertIn('did not take complete', record['error'])
        self.assertEqual(at_start, lv.sha256_file(self.src_path))
        self.restart_compute()
        # Reconciled: the guest is still on the start overlay over src.
        record = self.cloud.wait_migration_status(self.src, 'running')
        self.assertEqual(at_start, lv.sha256_file(self.src_path))
        self.writer.write_some(2)
        resp = self.cloud.complete_migration(self.src, self.dst)
        self.assertEqual(202, resp.status_code, resp.text)
        self.cloud.wait_migration_status(self.src, 'completed')
        self.cloud.wait_server(self.server['id'], 'ACTIVE')
        # Invariants 2 and 4.
        self.writer.write_some(2)
        self.assertEqual(self.writer.sha256(), lv.sha256_file(self.dst_path))
        self.assertQemuDoesNotHold(self.src_path)
        self.assertEqual(at_start, lv.sha256_file(self.src_path))
        self.assertEqual([], self.overlays())

    def test_cancel_after_restart(self):
        self.prepare()
        at_start = self.start()
        self.writer.write_some(3)
        self.kill_compute()
        self.writer.write_some(3)
        # Once the heartbeat is stale, no RPC is even tried.
        self.wait_service_down(dist.LIVE)
        for call in (lambda: self.cloud.cancel_migration(self.src),
                     lambda: self.cloud.complete_migration(self.src,
                                                           self.dst)):
            message = self.assertAnswers409(call, bound=5)
            self.assertIn('heartbeat', message)
        self.assertEqual('running', self.cloud.migration(self.src)['status'])
        self.restart_compute()
        self.assertEqual('running', self.cloud.migration(self.src)['status'])
        self.writer.write_some(2)
        resp = self.cloud.cancel_migration(self.src)
        self.assertEqual(202, resp.status_code, resp.text)
        self.cloud.wait_migration_status(self.src, 'cancelled')
        self.cloud.wait_server(self.server['id'], 'ACTIVE')
        # Invariant 3: src holds src-at-start and every acknowledged write.
        self.writer.write_some(2)
        self.assertNotEqual(at_start, self.writer.sha256())
        self.assertEqual(self.writer.sha256(), lv.sha256_file(self.src_path))
        self.assertEqual([], self.overlays())
        # And the attachment is migratable again.
        resp = self.cloud.start_migration(self.src)
        self.assertEqual(201, resp.status_code, resp.text)
        self.assertEqual(202, self.cloud.cancel_migration(self.src)
                         .status_code)
        self.cloud.wait_migration_status(self.src, 'cancelled')

    # Killed during the asynchronous active commit of two_step complete.

    def commit_job(self):
        """The live disk's block job, if any (read-only query)."""
        conn = libvirt.open('qemu:///system')
        try:
            dom = conn.lookupByUUIDString(self.server['id'])
            return dom.blockJobInfo('vdb', 0) or None
        finally:
            conn.close()

    def _complete_with_commit_running(self) -> dict:
        """Complete after a big overlay; returns once the commit runs."""
        self.prepare(self.OVERLAY_MIB + dist.VOLUME_MIB)
        self.start()
        # A big overlay, so that the commit into dst takes a while.
        chunk = 16 * MiB
        for i in range(self.OVERLAY_MIB * MiB // chunk):
            self.writer.writer.write(offset=i * chunk, length=chunk,
                                     pattern=0x41 + i % 50)
        self.copy_src_to_dst()
        resp = self.cloud.complete_migration(self.src, self.dst)
        self.assertEqual(202, resp.status_code, resp.text)
        # src may be released now (invariant 4) ...
        self.assertQemuDoesNotHold(self.src_path)
        # ... and the commit into dst runs in the background.
        return lv.wait_for(self.commit_job, timeout=30, interval=0.01,
                           what='the active commit of complete')

    def _assert_completed(self) -> None:
        self.cloud.wait_migration_status(self.src, 'completed', timeout=120)
        self.cloud.wait_server(self.server['id'], 'ACTIVE')
        self.assertIsNone(self.commit_job())
        self.writer.write_some(3)
        self.assertEqual(self.writer.sha256(), lv.sha256_file(self.dst_path))
        self.assertQemuDoesNotHold(self.src_path)
        self.assertEqual([], self.overlays())

    def test_reconcile_finishes_the_interrupted_commit(self):
        job = self._complete_with_commit_running()
        self.kill_compute()
        self.addDetail('commit-job-at-kill', testtools.content.text_content(
            repr(job)))
        self.assertEqual(libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT,
                         job['type'])
        self.assertEqual('completing', self.cloud.migration(self.src)
                         ['status'])
        self.restart_compute()
        self._assert_completed()

    def test_sigterm_during_the_commit(self):
        """Graceful stop with background work: it ends or is handed over.

        Whether the service finished the commit before exiting or left it
        to the next start's reconciliation, it exits 0 in time and the
        migration completes with every byte.
        """
        self._complete_with_commit_running()
        began = time.monotonic()
        self.assertEqual(0, self.deployment.stop_service(dist.LIVE,
                                                         timeout=60))
        self.addDetail('exit-after', testtools.content.text_content(
            '%.1f s; record %s' % (time.monotonic() - began,
                                   self.cloud.migration(self.src))))
        self.restart_compute()
        self._assert_completed()
