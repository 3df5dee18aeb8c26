"""Graceful SIGTERM of every service of the distributed deployment.

Each service exits 0 within a bound. A request in flight when the signal
arrives still gets its answer and leaves a consistent record: to hold a
volume-migration start in flight deterministically, the test locks the
``instance_actions_events`` table in PostgreSQL (the compute host's first
write of the call) and releases it only after the signal. cinder-volmig,
stopped during a copy, hands the migration back cleanly: it cancels on
Nova and deletes its dst; src keeps every byte.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import time

import psycopg2

from tests.functional.distributed import fixtures as dist
from tests.functional.fixtures import libvirt as lv
from volmig_distributed import deployment as dep

MiB = 1024 * 1024
# Seconds a service may take to exit after SIGTERM with nothing in flight.
STOP_BOUND = 30
EVENTS_TABLE = 'instance_actions_events'


class TestGracefulSigterm(dist.DistributedTestCase):

    # Slow enough to stop cinder-volmig in the middle of its copy.
    settings = {'cinder_overrides': {
        'DEFAULT': {'migration_copy_bandwidth': 1 * MiB}}}

    def setUp(self):
        super().setUp()
        self.pool = concurrent.futures.ThreadPoolExecutor(2)
        self.addCleanup(self.pool.shutdown, wait=True)

    def nova_db(self):
        url = self.deployment.database_url('nova').replace(
            'postgresql+psycopg2://', 'postgresql://')
        conn = psycopg2.connect(url)
        self.addCleanup(conn.close)
        return conn

    @contextlib.contextmanager
    def table_locked(self, table: str):
        """Writers of ``table`` wait until the block ends."""
        conn = self.nova_db()
        with conn.cursor() as cur:
            cur.execute('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE' % table)
            try:
                yield cur
            finally:
                conn.rollback()

    def wait_for_lock_waiter(self, table: str) -> None:
        conn = self.nova_db()
        conn.autocommit = True

        def waiting() -> bool:
            with conn.cursor() as cur:
                cur.execute('SELECT count(*) FROM pg_locks WHERE NOT granted '
                            'AND relation = %s::regclass', (table,))
                return cur.fetchone()[0] > 0

        lv.wait_for(waiting, timeout=30, interval=0.05,
                    what='a writer waiting on %s' % table)

    def test_every_service_exits_zero(self):
        for name in [dep.NOVA_API, dep.CINDER, dist.LIVE, dist.OFFLINE]:
            began = time.monotonic()
            code = self.deployment.stop_service(name, timeout=STOP_BOUND)
            self.assertEqual(0, code, self.deployment.log_tail(name))
            self.assertLess(time.monotonic() - began, STOP_BOUND)
        self.ensure_services_running()
        self.cloud.create_server_on(dist.OFFLINE)

    def _start_held_in_flight(self):
        """A start whose compute-side work waits on the table lock."""
        server, volume, writer = self.attached_volume()
        writer.write_some(3)
        src = self.cloud.attachment_id(server['id'], volume['id'])
        return server, volume, writer, src

    def _sigterm_during_held_start(self, service: str, src: str):
        """SIGTERM ``service`` while the start is held; the answer.

        The service is stopping but does not abandon the start it took.
        """
        with self.table_locked(EVENTS_TABLE):
            answer = self.pool.submit(self.cloud.start_migration, src)
            self.wait_for_lock_waiter(EVENTS_TABLE)
            self.deployment.send_signal(service, signal.SIGTERM)
            time.sleep(2)
            self.assertTrue(self.deployment.is_running(service))
            self.assertFalse(answer.done())
        resp = answer.result(timeout=60)
        self.assertEqual(201, resp.status_code, resp.text)
        return resp

    def test_compute_finishes_the_call_in_flight(self):
        server, volume, writer, src = self._start_held_in_flight()
        resp = self._sigterm_during_held_start(dist.LIVE, src)
        self.assertEqual('running',
                         resp.json()['volume_migration']['status'])
        self.assertEqual(0, self.deployment.wait_exit(dist.LIVE, STOP_BOUND),
                         self.deployment.log_tail(dist.LIVE))
        # Consistent: the record, the instance and the disk agree.
        self.assertEqual('running', self.cloud.migration(src)['status'])
        self.assertEqual('volume_migrating', self.cloud.server(
            server['id'])['OS-EXT-STS:task_state'])
        at_start = lv.sha256_file(self.cloud.volume_path(volume))
        self.assertEqual(writer.sha256(), at_start)
        writer.write_some(2)  # into the overlay: src stays as at start
        self.assertEqual(at_start,
                         lv.sha256_file(self.cloud.volume_path(volume)))
        self.deployment.start_service(dist.LIVE)
        self.assertEqual('running', self.cloud.migration(src)['status'])
        self.assertEqual(202, self.cloud.cancel_migration(src).status_code)
        self.cloud.wait_migration_status(src, 'cancelled')
        writer.write_some(1)
        self.assertEqual(writer.sha256(),
                         lv.sha256_file(self.cloud.volume_path(volume)))

    def test_api_finishes_the_request_in_flight(self):
        server, volume, writer, src = self._start_held_in_flight()
        self._sigterm_during_held_start(dep.NOVA_API, src)
        self.assertEqual(0, self.deployment.wait_exit(dep.NOVA_API,
                                                      STOP_BOUND),
                         self.deployment.log_tail(dep.NOVA_API))
        self.deployment.start_service(dep.NOVA_API)
        self.assertEqual('running', self.cloud.migration(src)['status'])
        self.assertEqual(202, self.cloud.cancel_migration(src).status_code)
        self.cloud.wait_migration_status(src, 'cancelled')
        self.assertEqual(writer.sha256(),
                         lv.sha256_file(self.cloud.volume_path(volume)))

    def test_cinder_hands_back_its_running_migration(self):
        server, volume, writer = self.attached_volume(seed=4)
        src_path = self.cloud.volume_path(volume)
        writer.write_some(3)
        self.cloud.migrate(volume['id'], '%s@array1#pool2' % dist.CINDER_HOST)
        lv.wait_for(lambda: self.cloud.volume(volume['id'])
                    ['migration_status'] == 'migrating', what='copying')
        writer.write_some(2)
        files_before = set(dist.volume_files(self.deployment))
        began = time.monotonic()
        self.assertEqual(0, self.deployment.stop_service(
            dep.CINDER, timeout=STOP_BOUND))
        self.assertLess(time.monotonic() - began, STOP_BOUND)
        # It cancelled on Nova before exiting ...
        [record] = self.cloud.migrations(server['id'])
        self.assertIn(record['status'], ('cancelling', 'cancelled'))
        self.cloud.wait_migration_status(record['src_attachment_id'],
                                         'cancelled')
        # ... and deleted its dst: only src is left of the two.
        files_after = set(dist.volume_files(self.deployment))
        self.assertIn(src_path, files_after)
        self.assertEqual(1, len(files_before - files_after))
        writer.write_some(2)
        self.assertEqual(writer.sha256(), lv.sha256_file(src_path))
        self.deployment.start_service(dep.CINDER)
        stopped = self.cloud.volume(volume['id'])
        self.assertEqual('error', stopped['migration_status'])
        self.assertEqual('in-use', stopped['status'])
        self.cloud.migrate(volume['id'], '%s@array1#pool2' % dist.CINDER_HOST)
        done = self.cloud.wait_migration(volume['id'])
        self.assertEqual('success', done['migration_status'])
        self.assertEqual(writer.sha256(),
                         lv.sha256_file(self.cloud.volume_path(done)))
        self.assertFalse(os.path.exists(src_path))
