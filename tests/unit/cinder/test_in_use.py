"""A volume a client still uses is never deleted (issue 16 item 2).

The holders are read from the real /proc: this test process plays the
guest (it opens the volume file, or connects to a socket).
"""

from __future__ import annotations

import os
import socket
from unittest import mock

import fixtures

from cinder_driver_side import exception
from cinder_driver_side.volume import backend_array
from cinder_driver_side.volume.flows import base as flows_base
from cinder_driver_side.volume import holders
from cinder_driver_side.volume import nbd
from tests import base as test_base
from tests.unit.cinder import base


def _listening_pair(test):
    """A server socket with one accepted client, all in this process."""
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname())
    accepted, _ = server.accept()
    for s in (server, client, accepted):
        test.addCleanup(s.close)
    return server, client, accepted


class HoldersTest(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(self.dir, 'volume-x')
        with open(self.path, 'wb') as f:
            f.truncate(1024 * 1024)

    def test_open_file_is_found_by_device_and_inode(self):
        self.assertEqual([], holders.file_holders(self.path))
        # Opened under another name (a hard link): still the same data.
        alias = os.path.join(self.dir, 'alias')
        os.link(self.path, alias)
        f = open(alias, 'rb')
        self.addCleanup(f.close)
        found = holders.file_holders(self.path)
        self.assertEqual([os.getpid()], [h.pid for h in found])
        self.assertIn('fd %d' % f.fileno(), str(found[0]))
        self.assertIn(self.path, str(found[0]))

    def test_excluded_pid_and_missing_file(self):
        f = open(self.path, 'rb')
        self.addCleanup(f.close)
        self.assertEqual([], holders.file_holders(
            self.path, frozenset([os.getpid()])))
        self.assertEqual([], holders.file_holders(self.path + '-gone'))

    def test_decode_proc_net_tcp_addresses(self):
        self.assertEqual('127.0.0.1:8080',
                         holders._decode_address('0100007F:1F90'))
        self.assertEqual('[::1]:22', holders._decode_address(
            '00000000000000000000000001000000:0016'))
        # An IPv4 client of an IPv6 socket.
        self.assertEqual('10.0.0.2:80', holders._decode_address(
            '0000000000000000FFFF00000200000A:0050'))

    def test_tcp_clients_are_the_established_peers(self):
        server, client, accepted = _listening_pair(self)
        clients = holders.tcp_clients(os.getpid())
        # The accepted socket's peer is the client; the client's peer is
        # the server; the listening socket is no client.
        self.assertIn('127.0.0.1:%d' % client.getsockname()[1], clients)
        self.assertIn('127.0.0.1:%d' % server.getsockname()[1], clients)
        self.assertEqual(2, len(clients))
        accepted.close()
        client.close()
        self.assertEqual([], holders.tcp_clients(os.getpid()))


class ArrayInUseTest(HoldersTest):
    """Array.volume_in_use: the export's clients, not the export."""

    def _array(self, export_pid=None):
        arr = mock.Mock(spec=backend_array.Array)
        arr.volume_path.return_value = self.path
        arr.exporter = mock.Mock()
        arr.exporter.get_export.return_value = None if export_pid is None \
            else nbd.Export('volume-x', self.path, '127.0.0.1', 1, export_pid)
        arr.export_clients = lambda name: backend_array.Array.export_clients(
            arr, name)
        return arr

    def test_export_daemon_itself_is_no_holder_its_clients_are(self):
        f = open(self.path, 'rb')     # as qemu-storage-daemon has it
        self.addCleanup(f.close)
        arr = self._array(export_pid=os.getpid())
        self.assertEqual([], backend_array.Array.volume_in_use(
            arr, 'pool1', 'volume-x'))
        _server, client, _accepted = _listening_pair(self)
        found = backend_array.Array.volume_in_use(arr, 'pool1', 'volume-x')
        self.assertEqual(2, len(found))
        self.assertTrue(all('serves NBD export volume-x to client' in str(h)
                            for h in found), found)

    def test_without_export_the_open_file_counts(self):
        arr = self._array()
        self.assertEqual([], backend_array.Array.volume_in_use(
            arr, 'pool1', 'volume-x'))
        f = open(self.path, 'rb')
        self.addCleanup(f.close)
        self.assertEqual([os.getpid()], [h.pid for h in backend_array.Array.
                                         volume_in_use(arr, 'pool1',
                                                       'volume-x')])


class DetachedMigrationInUseTest(base.CinderTestCase):
    """No Cinder attachment, yet a process has the volume: never deleted."""

    def _conflict(self, result):
        status, body = result
        self.assertEqual(409, status, body)
        return body['conflictingRequest']['message']

    def test_refused_before_start_and_nothing_changes(self):
        volume_id = self.create_volume()
        src_path = self.path_of(volume_id)
        before = base.read(src_path)
        guest = open(src_path, 'r+b')
        self.addCleanup(guest.close)
        message = self._conflict(self.migrate(volume_id))
        self.assertIn('still in use', message)
        self.assertIn('pid %d' % os.getpid(), message)
        self.assertIn(src_path, message)
        volume = self.volume(volume_id)
        self.assertIsNone(volume['migration_status'])
        self.assertEqual('aio@array1#pool1', volume['os-vol-host-attr:host'])
        self.assertEqual([], self.pool_files())
        self.assertRaises(exception.MigrationNotFound,
                          self.svc.manager.get_migration,
                          base._admin(), volume_id)
        # The guest goes on writing to the very same file.
        guest.write(b'\xee' * 4096)
        guest.flush()
        self.assertEqual(b'\xee' * 4096 + before[4096:],
                         base.read(src_path))

    def test_user_appearing_during_the_copy_fails_it_before_src_goes(self):
        volume_id = self.create_volume()
        src_path = self.path_of(volume_id)
        before = base.read(src_path)
        opened = []
        copy = flows_base.MigrationFlow._copy

        def copy_then_open(flow, new_volume):
            copy(flow, new_volume)
            opened.append(open(src_path, 'rb'))
            self.addCleanup(opened[-1].close)
        with fixtures.MockPatchObject(flows_base.MigrationFlow, '_copy',
                                      new=copy_then_open):
            self.assertEqual(202, self.migrate(volume_id)[0])
            volume = self.wait_done(volume_id)
        self.assertEqual(1, len(opened))
        self.assertEqual('error', volume['migration_status'])
        self.assertEqual('aio@array1#pool1', volume['os-vol-host-attr:host'])
        record = self.svc.manager.get_migration(base._admin(), volume_id)
        self.assertIn('still in use', record.error)
        self.assertIn('no data was deleted', record.error)
        # src stays where it was, whole; dst is gone.
        self.assertEqual(src_path, self.path_of(volume_id))
        self.assertEqual(before, base.read(src_path))
        self.assertEqual([], self.pool_files())
        # Once the user is gone the migration goes through.
        opened[0].close()
        self.assertEqual(202, self.migrate(volume_id)[0])
        self.assertEqual('success',
                         self.wait_done(volume_id)['migration_status'])
        self.assertEqual(before, base.read(self.path_of(volume_id)))
        self.assertFalse(os.path.exists(src_path))


class AttachmentDeleteKeepsUsedExportTest(base.CinderTestCase):
    """Deleting the last attachment stops the export only if idle."""

    def _attached(self):
        volume_id = self.create_volume()
        self.nova.attach(volume_id, 'c3a9e3e4-0000-4000-8000-000000000001')
        atts = self.svc.db.attachment_get_all(base._admin(),
                                              volume_id=volume_id)
        self.assertEqual(1, len(atts))
        return volume_id, atts[0].id

    def _delete(self, attachment_id, clients):
        """``clients``: what export_clients answers, call after call."""
        client = holders.Holder(4242, 'qemu-system-x86_64',
                                'serves NBD export x to client 10.0.0.2:1')
        answers = [[client] if c else [] for c in clients]
        self.useFixture(fixtures.MockPatch(
            'cinder_driver_side.volume.manager.EXPORT_CLIENTS_SETTLE', 0.5))
        with mock.patch.object(backend_array.Array, 'export_clients',
                               side_effect=lambda name: answers.pop(0)
                               if len(answers) > 1 else answers[0]), \
                mock.patch.object(backend_array.Array,
                                  'terminate_connection') as terminate:
            status, body = self.api('DELETE', '/attachments/%s'
                                    % attachment_id)
        self.assertIn(status, (200, 202, 204), body)
        return terminate

    def test_export_with_a_client_is_kept(self):
        _volume_id, attachment_id = self._attached()
        self._delete(attachment_id, clients=[True]).assert_not_called()

    def test_idle_export_is_stopped(self):
        _volume_id, attachment_id = self._attached()
        self._delete(attachment_id, clients=[False]).assert_called_once()

    def test_client_hanging_up_after_detach_stops_the_export(self):
        # Nova's detach: QEMU dropped the disk just before.
        _volume_id, attachment_id = self._attached()
        self._delete(attachment_id,
                     clients=[True, True, False]).assert_called_once()
