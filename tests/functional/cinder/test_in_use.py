"""A real user keeps its volume from being deleted (issue 16 item 2).

``qemu-io`` plays the guest: connected to the array's NBD export
(qemu-storage-daemon), or with the volume file open. Its Cinder
attachment is deleted under it (allowed, as upstream), or it arrives
during a detached copy: the export stays while it is connected, and the
migration, which looks detached, is refused or fails before the switch
instead of deleting the data the user still writes.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess

import fixtures
import psutil

from cinder_driver_side.volume import holders
from cinder_driver_side.volume import nbd
from tests import base as test_base
from tests import nova_fixtures
from tests.unit.cinder import base

INSTANCE = '5e1f0b6a-7d3c-4b8e-9a21-0c4d2e6f8a13'
MiB = 1024 * 1024


class QemuIO:
    """An interactive ``qemu-io`` on an NBD export or a file."""

    def __init__(self, uri: str):
        self.proc = subprocess.Popen(
            ['qemu-io', '-f', 'raw', uri], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def command(self, line: str) -> None:
        self.proc.stdin.write(line + '\n')
        self.proc.stdin.flush()

    def quit(self) -> str:
        if self.proc.poll() is None:
            out, _ = self.proc.communicate('quit\n', timeout=30)
            return out
        return ''


class NBDInUseTest(base.CinderTestCase):
    protocol = 'nbd'

    def _attach(self, volume_id: str) -> dict:
        status, body = self.api('POST', '/attachments', {'attachment': {
            'volume_uuid': volume_id, 'instance_uuid': INSTANCE,
            'connector': {'host': 'compute1', 'initiator': 'x'}}})
        self.assertEqual(200, status, body)
        att = body['attachment']
        status, body = self.api('POST', '/attachments/%s/action' % att['id'],
                                {'os-complete': None})
        self.assertIn(status, (200, 202, 204), body)
        self.assertEqual('nbd', att['connection_info']['driver_volume_type'])
        return att

    def test_connected_client_blocks_migration_until_it_leaves(self):
        volume_id = self.create_volume(size=8 * MiB)
        src_path = self.path_of(volume_id)
        att = self._attach(volume_id)
        data = att['connection_info']['data']
        client = QemuIO('nbd://%s:%d/%s' % (data['host'], data['port'],
                                            data['export']))
        self.addCleanup(client.quit)
        client.command('write -P 0xc1 0 1M')
        arr = self.svc.manager.arrays['array1']
        export = arr.exporter.get_export(data['export'])
        nova_fixtures.wait_for(
            lambda: arr.export_clients(data['export']),
            what='the NBD client connected')

        # The owner deletes the attachment under the connected client:
        # the export stays, the client goes on writing.
        status, body = self.api('DELETE', '/attachments/%s' % att['id'])
        self.assertIn(status, (200, 202, 204), body)
        self.assertEqual('available', self.volume(volume_id)['status'])
        self.assertTrue(psutil.pid_exists(export.pid))

        status, body = self.migrate(volume_id)
        self.assertEqual(409, status, body)
        message = body['conflictingRequest']['message']
        self.assertIn('serves NBD export %s to client 127.0.0.1:'
                      % data['export'], message)
        self.assertIn('no data was deleted', message)
        self.assertIsNone(self.volume(volume_id)['migration_status'])
        self.assertEqual([], self.pool_files())

        client.command('write -P 0xc2 2M 1M')
        client.command('flush')
        out = client.quit()
        self.assertEqual(0, client.proc.returncode, out)
        self.assertNotIn('error', out.lower())
        expected = base.read(src_path)
        self.assertEqual(b'\xc1' * MiB, expected[:MiB])
        self.assertEqual(b'\xc2' * MiB, expected[2 * MiB:3 * MiB])

        # The client left: the export is idle and the migration runs.
        nova_fixtures.wait_for(
            lambda: not arr.export_clients(data['export']),
            what='the NBD client gone')
        self.assertEqual(202, self.migrate(volume_id)[0])
        done = self.wait_done(volume_id)
        self.assertEqual('success', done['migration_status'])
        self.assertFalse(os.path.exists(src_path))
        self.assertFalse(psutil.pid_exists(export.pid))
        self.assertEqual(hashlib.sha256(expected).hexdigest(),
                         hashlib.sha256(base.read(self.path_of(volume_id)))
                         .hexdigest())


class AdoptKeepsUsedExportTest(test_base.TestCase):
    """A restarted service does not cut a connected client either."""

    def test_unwanted_export_with_a_client_is_kept_until_it_leaves(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        path = os.path.join(tmp, 'volume-x')
        with open(path, 'wb') as f:
            f.truncate(4 * MiB)
        state = os.path.join(tmp, 'nbd')
        exporter = nbd.NBDExporter(state, '127.0.0.1', '20809:20899')
        self.addCleanup(exporter.stop_all)
        export = exporter.ensure_export('volume-x', path)
        client = socket.create_connection((export.host, export.port))
        self.addCleanup(client.close)
        client.recv(8)      # NBD greeting: the daemon accepted us.

        survivor = nbd.NBDExporter(state, '127.0.0.1', '20809:20899')
        self.addCleanup(survivor.stop_all)
        survivor.adopt({})      # no attachment wants it, a client has it
        self.assertEqual(export.pid, survivor.get_export('volume-x').pid)
        self.assertTrue(psutil.pid_exists(export.pid))

        client.close()
        nova_fixtures.wait_for(
            lambda: not holders.tcp_clients(export.pid),
            what='the client gone')
        survivor.adopt({})
        self.assertIsNone(survivor.get_export('volume-x'))
        self.assertFalse(nbd._pid_runs_daemon(export.pid, 'volume-x'))


class UserDuringCopyTest(base.CinderTestCase):
    """A real qemu-io opening src during a detached copy: src stays."""

    def test_copy_fails_before_the_switch(self):
        volume_id = self.create_volume(size=32 * MiB)
        src_path = self.path_of(volume_id)
        # About 4 s of copy (16 MiB of data): time for the user to come.
        self.svc.manager.arrays['array1'].copy_bandwidth = 4 * MiB
        self.assertEqual(202, self.migrate(volume_id)[0])
        self.wait_status(volume_id, 'migrating')
        user = QemuIO(src_path)      # qemu-io on the file itself
        self.addCleanup(user.quit)
        user.command('write -P 0xd7 4M 1M')
        done = self.wait_done(volume_id)
        self.assertEqual('error', done['migration_status'])
        record = self.svc.manager.get_migration(base._admin(), volume_id)
        self.assertIn('qemu-io (pid %d) has %s open' % (user.proc.pid,
                                                        src_path),
                      record.error)
        self.assertEqual(src_path, self.path_of(volume_id))
        self.assertEqual([], self.pool_files())
        user.command('write -P 0xd8 6M 1M')
        out = user.quit()
        self.assertEqual(0, user.proc.returncode, out)
        data = base.read(src_path)
        self.assertEqual(b'\xd7' * MiB, data[4 * MiB:5 * MiB])
        self.assertEqual(b'\xd8' * MiB, data[6 * MiB:7 * MiB])
