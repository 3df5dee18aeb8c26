"""Several migrations on one compute host at once (issue 12, items 4 and 5).

Real libvirt + QEMU through nova-volmig-aio; Nova's REST API is driven the
way Cinder drives it (start, copy, complete or cancel), the copy being a
plain file copy of src while writes are redirected. Guest writes are HMP
``qemu-io`` writes made while no block job runs; data is proven by sha256
(DESIGN 6, invariants 2 and 3).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import glob
import json
import os
import sqlite3

from tests.functional.e2e import test_new_flow as e2e
from tests.functional.fixtures import aio as aio_fixtures
from tests.functional.fixtures import libvirt as lv
from tests.functional.fixtures import sparse

MiB = e2e.MiB


class SeveralVolumesTestCase(e2e.E2ETestCase):

    def server_with_volumes(self, count: int, server=None):
        """A running server with ``count`` 1 GiB volumes holding data."""
        server = server or self.aio.create_server()
        volumes = []
        for i in range(count):
            volume = self.aio.create_volume()
            path = self.aio.volume_path(volume)
            e2e.fill_volume(path, seed=i + 1, extents=4)
            att = self.aio.attach(server['id'], volume['id'])
            writer = aio_fixtures.HMPWriter(
                server['OS-EXT-SRV-ATTR:instance_name'], att['device'],
                e2e.read_file(path), seed=i + 1)
            self.addCleanup(writer.close)
            volumes.append({'volume': volume, 'path': path,
                            'attachment_id': att['attachment_id'],
                            'writer': writer})
        return server, volumes

    def start(self, volume: dict):
        return self.aio.nova.post('/os-volume-migrations', {
            'volume_migration': {
                'src_attachment_id': volume['attachment_id']}})

    def action(self, volume: dict, body: dict):
        return self.aio.nova.post(
            '/os-volume-migrations/%s/action' % volume['attachment_id'],
            body)

    def record(self, volume: dict) -> dict:
        return self.aio.nova.get(
            '/os-volume-migrations/%s' % volume['attachment_id'],
            expect=200).json()['volume_migration']

    def copy_to_dst(self, server, volume: dict) -> None:
        """Cinder's part: dst as a copy of src (read-only now), attached."""
        dst = self.aio.create_volume()
        volume['dst_path'] = self.aio.volume_path(dst)
        sparse.copy(volume['path'], volume['dst_path'])
        volume['dst_attachment_id'] = self.aio.cinder.post(
            '/attachments', {'attachment': {
                'volume_uuid': dst['id'], 'instance_uuid': server['id']}},
            expect=200).json()['attachment']['id']

    @staticmethod
    def concurrently(fn, items):
        with concurrent.futures.ThreadPoolExecutor(len(items)) as pool:
            return list(pool.map(fn, items))


class TestFourVolumesOfOneServer(SeveralVolumesTestCase):

    def test_four_migrations_at_once(self):
        server, volumes = self.server_with_volumes(4)
        for v in volumes:
            v['writer'].write_some(3)

        answers = self.concurrently(self.start, volumes)
        self.assertEqual([201] * 4, [r.status_code for r in answers],
                         [r.text for r in answers])
        self.assertEqual('volume_migrating',
                         self.aio.server(server['id'])
                         ['OS-EXT-STS:task_state'])
        for v in volumes:
            self.assertEqual('running', self.record(v)['status'])
            v['writer'].write_some(3)  # into the overlay over src
            self.copy_to_dst(server, v)

        answers = self.concurrently(
            lambda v: self.action(v, {'complete': {
                'dst_attachment_id': v['dst_attachment_id']}}), volumes)
        self.assertEqual([202] * 4, [r.status_code for r in answers],
                         [r.text for r in answers])
        records = self.aio.wait_nova_settled(server['id'])
        self.assertEqual(['completed'] * 4,
                         [r['status'] for r in records])
        for v in volumes:
            self.assertQemuDoesNotHold(server, v['path'])
            v['writer'].write_some(2)  # the guest goes on, on dst
            # Invariant 2: dst == src-at-start + every acknowledged write.
            self.assertEqual(v['writer'].sha256(),
                             lv.sha256_file(v['dst_path']), v['path'])


class TestQueuedFinish(SeveralVolumesTestCase):

    # One finish at a time on the host; each commit slowed to 64 KiB/s so
    # the first still holds the slot when the second is asked for.
    nova_conf = {'compute': {'max_concurrent_volume_migration_finishes': 1},
                 'libvirt': {'volume_migration_bandwidth': 64 * 1024}}

    def driver_data(self, volume: dict) -> dict:
        """The record's driver_data, from the aio's Nova database.

        The REST view shows ``finish`` only while it is due.
        """
        paths = glob.glob(os.path.join(self.aio.state_path, '**',
                                       'nova-volmig.sqlite'), recursive=True)
        with contextlib.closing(sqlite3.connect(paths[0])) as db:
            rows = db.execute(
                'SELECT driver_data FROM volume_migrations WHERE '
                'src_attachment_id = ?', (volume['attachment_id'],)
            ).fetchall()
        self.assertEqual(1, len(rows))
        return json.loads(rows[0][0])

    def test_one_of_two_finishes_waits_for_the_other(self):
        # Two servers: no server lock couples the two finishes, only the
        # host's cap does.
        server1, (first,) = self.server_with_volumes(1)
        server2, (second,) = self.server_with_volumes(1)
        answers = self.concurrently(self.start, [first, second])
        self.assertEqual([201] * 2, [r.status_code for r in answers],
                         [r.text for r in answers])
        first['writer'].write_some(3)
        second['writer'].write_some(3)
        self.copy_to_dst(server2, second)
        # The cancel's commit-back takes the only slot ...
        self.assertEqual(202, self.action(first, {'cancel': None})
                         .status_code)
        lv.wait_for(lambda: (self.record(first).get('finish') or {}).get(
            'state') == 'running', timeout=60,
            what="the cancel's finish running")
        # ... so the complete's finish, asked for now, waits for it.
        self.assertEqual(202, self.action(second, {'complete': {
            'dst_attachment_id': second['dst_attachment_id']}}).status_code)
        self.assertEqual('cancelled', self.aio.wait_nova_settled(
            server1['id'])[0]['status'])
        self.assertEqual('completed', self.aio.wait_nova_settled(
            server2['id'])[0]['status'])
        finishes = [self.driver_data(v)['finish'] for v in (first, second)]
        self.assertIsNone(finishes[0].get('queued_at'), finishes)
        self.assertIsNotNone(finishes[1].get('queued_at'), finishes)
        self.assertIsNone(finishes[1]['queue_position'], finishes)
        self.assertLess(finishes[0]['started_at'], finishes[1]['started_at'])
        # Invariant 3 on the first (src), 2 on the second (dst).
        first['writer'].write_some(2)
        second['writer'].write_some(2)
        self.assertEqual(first['writer'].sha256(),
                         lv.sha256_file(first['path']))
        self.assertEqual(second['writer'].sha256(),
                         lv.sha256_file(second['dst_path']))
