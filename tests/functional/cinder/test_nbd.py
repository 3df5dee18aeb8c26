"""NBD exports with a real qemu-storage-daemon."""

import ctypes
import os
import socket
import subprocess

import fixtures
import psutil

from cinder_driver_side.volume import nbd
from tests import base

SYS_PIDFD_GETFD = 438
MiB = 1024 * 1024


def accepted_nodelay(pid: int, port: int) -> list[int]:
    """TCP_NODELAY of the daemon's accepted sockets on ``port``."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    values = []
    try:
        for name in os.listdir('/proc/%d/fd' % pid):
            if not os.readlink('/proc/%d/fd/%s' % (pid, name)).startswith(
                    'socket:'):
                continue
            fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(name), 0)
            if fd < 0:
                raise OSError(ctypes.get_errno(), 'pidfd_getfd')
            sock = socket.socket(fileno=fd)
            try:
                if sock.family not in (socket.AF_INET, socket.AF_INET6):
                    continue
                try:
                    sock.getpeername()
                except OSError:
                    continue        # the listening socket
                if sock.getsockname()[1] == port:
                    values.append(sock.getsockopt(socket.IPPROTO_TCP,
                                                  socket.TCP_NODELAY))
            finally:
                sock.close()
    finally:
        os.close(pidfd)
    return values


class NBDExportTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.volume = os.path.join(self.dir, 'volume-x')
        with open(self.volume, 'wb') as f:
            f.truncate(16 * MiB)
        self.exporter = nbd.NBDExporter(os.path.join(self.dir, 'nbd'),
                                        '127.0.0.1', '20809:20899')
        self.addCleanup(self.exporter.stop_all)

    def _qemu_io(self, export, *commands):
        argv = ['qemu-io', '-f', 'raw']
        for c in commands:
            argv += ['-c', c]
        argv.append('nbd://%s:%d/%s' % (export.host, export.port,
                                        export.name))
        out = subprocess.run(argv, capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(0, out.returncode, out.stderr)
        self.assertNotIn('error', out.stdout.lower() + out.stderr.lower())
        return out.stdout

    def test_read_write_and_stop(self):
        export = self.exporter.ensure_export('volume-x', self.volume)
        self.assertIs(export, self.exporter.ensure_export('volume-x',
                                                          self.volume))
        self._qemu_io(export, 'write -P 0xab 1M 1M')
        self._qemu_io(export, 'read -P 0xab 1M 1M', 'read -P 0 0 1M')
        with open(self.volume, 'rb') as f:
            f.seek(MiB)
            self.assertEqual(b'\xab' * MiB, f.read(MiB))
        self.exporter.remove_export('volume-x')
        self.assertFalse(psutil.pid_exists(export.pid))

    def test_accepted_connections_have_tcp_nodelay(self):
        export = self.exporter.ensure_export('volume-x', self.volume)
        client = socket.create_connection((export.host, export.port))
        self.addCleanup(client.close)
        client.recv(8)      # NBD greeting: the daemon accepted us.
        self.assertEqual([1], accepted_nodelay(export.pid, export.port))

    def test_daemon_listening_itself_lacks_nodelay(self):
        """The control: why the launcher exists (DESIGN 5)."""
        port = 20900
        proc = subprocess.Popen([
            nbd.QSD, '--blockdev',
            'driver=file,node-name=f0,filename=%s' % self.volume,
            '--nbd-server', 'addr.type=inet,addr.host=127.0.0.1,'
                            'addr.port=%d' % port,
            '--export', 'type=nbd,id=e0,node-name=f0,name=x',
            '--pidfile', os.path.join(self.dir, 'control.pid')])
        self.addCleanup(proc.wait)
        self.addCleanup(proc.terminate)
        for _ in range(200):
            if os.path.exists(os.path.join(self.dir, 'control.pid')):
                break
            subprocess.run(['sleep', '0.02'])
        client = socket.create_connection(('127.0.0.1', port))
        self.addCleanup(client.close)
        client.recv(8)
        self.assertEqual([0], accepted_nodelay(proc.pid, port))

    def test_throttled_export_serves_data(self):
        # nbd_throttle_bytes_sec is the bench's link where no namespace
        # can be made: data goes through the throttle node unchanged.
        exporter = nbd.NBDExporter(os.path.join(self.dir, 'nbd-slow'),
                                   '127.0.0.1', '20809:20899',
                                   throttle_bytes_sec=64 * MiB)
        self.addCleanup(exporter.stop_all)
        export = exporter.ensure_export('volume-x', self.volume)
        argv = psutil.Process(export.pid).cmdline()
        self.assertIn('throttle-group,id=link0,x-bps-read=%d,'
                      'x-bps-write=%d' % (64 * MiB, 64 * MiB), argv)
        self._qemu_io(export, 'write -P 0xcd 2M 1M')
        self._qemu_io(export, 'read -P 0xcd 2M 1M', 'read -P 0 0 1M')

    def test_adopt_after_restart(self):
        export = self.exporter.ensure_export('volume-x', self.volume)
        survivor = nbd.NBDExporter(os.path.join(self.dir, 'nbd'),
                                   '127.0.0.1', '20809:20899')
        survivor.adopt({'volume-x': self.volume})
        self.assertEqual(export.port, survivor.get_export('volume-x').port)
        self._qemu_io(survivor.get_export('volume-x'), 'read -P 0 0 1M')
        survivor.adopt({})      # no longer wanted: stopped
        self.assertIsNone(survivor.get_export('volume-x'))
        self.assertFalse(_runs(export.pid))


def _runs(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
