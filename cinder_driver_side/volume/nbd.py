"""NBD exports of an array, served by qemu-storage-daemon.

One daemon per exported volume: its lifetime is the volume's attachments
(started by the first connection made, stopped when the last attachment
goes) and stopping one never disturbs another volume's guests. Each
daemon listens on a socket with TCP_NODELAY that nbd_launch hands it
(DESIGN 5). A small JSON file per export lets a restarted service adopt
the daemons that still serve guests.
"""

from __future__ import annotations

import dataclasses
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time

from oslo_log import log as logging
import psutil

from cinder_driver_side import exception
from cinder_driver_side.volume import holders
from cinder_driver_side.volume import nbd_launch

LOG = logging.getLogger(__name__)

QSD = 'qemu-storage-daemon'
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


@dataclasses.dataclass
class Export:
    name: str
    path: str
    host: str
    port: int
    pid: int


def load_export(path: str) -> Export | None:
    """The export record at ``path`` (``<state dir>/<name>.json``), or None.

    The records are the exporter's own; the benchmark reads them too.
    """
    try:
        with open(path) as f:
            return Export(**json.load(f))
    except (OSError, ValueError, TypeError):
        return None


def _qemu_escape(value: str) -> str:
    return value.replace(',', ',,')


def _pid_runs_daemon(pid: int, name: str) -> bool:
    try:
        argv = psutil.Process(pid).cmdline()
    except psutil.Error:
        return False
    return (bool(argv) and os.path.basename(argv[0]) == QSD
            and any(('name=%s,' % name) in a for a in argv))


class NBDExporter:
    """Starts, adopts and stops the qemu-storage-daemons of one array."""

    def __init__(self, state_dir: str, listen_address: str,
                 port_range: str, connect_address: str | None = None,
                 netns: str | None = None, throttle_bytes_sec: int = 0):
        self.state_dir = state_dir
        self.listen_address = listen_address
        self.connect_address = connect_address or listen_address
        first, _, last = port_range.partition(':')
        self.first_port, self.last_port = int(first), int(last or first)
        if not 0 < self.first_port <= self.last_port < 65536:
            raise exception.InvalidInput(
                reason='bad nbd_port_range %r' % port_range)
        self.netns = netns
        self.throttle_bytes_sec = throttle_bytes_sec or 0
        self._lock = threading.Lock()
        self._exports: dict[str, Export] = {}
        self._children: dict[int, subprocess.Popen] = {}
        os.makedirs(state_dir, exist_ok=True)

    def _file(self, name: str, suffix: str) -> str:
        return os.path.join(self.state_dir, name + suffix)

    def ensure_export(self, name: str, path: str) -> Export:
        """The running export ``name`` of ``path``; started if needed."""
        with self._lock:
            export = self._exports.get(name)
            if export and self._alive(export):
                return export
            if export:
                LOG.warning('NBD daemon of %s (pid %d) is gone; restarting',
                            name, export.pid)
            export = self._start(name, path)
            self._exports[name] = export
            return export

    def remove_export(self, name: str) -> None:
        """Stop the daemon of ``name``; nothing if there is none."""
        with self._lock:
            export = self._exports.pop(name, None)
            if export is None:
                export = self._load(name)
            if export is not None:
                self._stop(export)
            for suffix in ('.json', '.pid'):
                try:
                    os.unlink(self._file(name, suffix))
                except FileNotFoundError:
                    pass

    def get_export(self, name: str) -> Export | None:
        with self._lock:
            return self._exports.get(name)

    def adopt(self, wanted: dict[str, str]) -> None:
        """After a restart: keep the daemons still serving ``wanted``.

        ``wanted`` maps export name -> path; other daemons found in the
        state dir are stopped, unless a client is still connected (a
        guest whose attachment was deleted under it: stopping would cut
        its disk).
        """
        for entry in sorted(os.listdir(self.state_dir)):
            if not entry.endswith('.json'):
                continue
            name = entry[:-len('.json')]
            export = self._load(name)
            alive = export is not None and self._alive(export)
            if alive and name in wanted and export.path == wanted[name]:
                LOG.info('Adopted NBD export %s (pid %d, port %d)', name,
                         export.pid, export.port)
            elif alive and holders.tcp_clients(export.pid):
                LOG.warning('NBD export %s (pid %d) has no attachment but '
                            'still has clients %s: kept', name, export.pid,
                            ', '.join(holders.tcp_clients(export.pid)))
            else:
                self.remove_export(name)
                continue
            with self._lock:
                self._exports[name] = export

    def stop_all(self) -> None:
        for name in list(self._exports):
            self.remove_export(name)

    def _load(self, name: str) -> Export | None:
        return load_export(self._file(name, '.json'))

    def _alive(self, export: Export) -> bool:
        child = self._children.get(export.pid)
        if child is not None and child.poll() is not None:
            return False
        return _pid_runs_daemon(export.pid, export.name)

    def _command(self, name: str, path: str, pidfile: str,
                 logfile: str) -> list[str]:
        daemon = [
            QSD,
            '--blockdev', 'driver=file,node-name=file0,filename=%s,'
                          'cache.direct=off' % _qemu_escape(path),
        ]
        node = 'file0'
        if self.throttle_bytes_sec:
            # Each direction of this export limited like a link would.
            daemon += [
                '--object', 'throttle-group,id=link0,x-bps-read=%d,'
                            'x-bps-write=%d' % (self.throttle_bytes_sec,
                                                self.throttle_bytes_sec),
                '--blockdev', 'driver=throttle,node-name=throttle0,'
                              'throttle-group=link0,file=file0']
            node = 'throttle0'
        daemon += [
            '--nbd-server', 'addr.type=fd,addr.str={fd}',
            '--export', 'type=nbd,id=export0,node-name=%s,name=%s,'
                        'writable=on' % (node, name),
            '--pidfile', pidfile,
        ]
        # -I: the script's directory (array.py, copy.py) must not shadow
        # the standard library.
        command = [sys.executable, '-I', os.path.abspath(nbd_launch.__file__),
                   self.listen_address,
                   '%d:%d' % (self.first_port, self.last_port), logfile,
                   '--'] + daemon
        if self.netns:
            command = ['ip', 'netns', 'exec', self.netns] + command
        return command

    def _start(self, name: str, path: str) -> Export:
        pidfile = self._file(name, '.pid')
        logfile = self._file(name, '.log')
        try:
            os.unlink(pidfile)
        except FileNotFoundError:
            pass
        command = self._command(name, path, pidfile, logfile)
        LOG.debug('Starting NBD export %s: %s', name, command)
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL,
                                 start_new_session=True, close_fds=True)
        self._children[child.pid] = child
        try:
            port = self._read_port(child, path)
            self._wait_ready(child, pidfile, logfile, path)
        except Exception:
            self._terminate(child.pid)
            raise
        finally:
            child.stdout.close()
        export = Export(name=name, path=path, host=self.connect_address,
                        port=port, pid=child.pid)
        tmp = self._file(name, '.json.tmp')
        with open(tmp, 'w') as f:
            json.dump(dataclasses.asdict(export), f)
        os.replace(tmp, self._file(name, '.json'))
        LOG.info('NBD export %s of %s on %s:%d (pid %d)', name, path,
                 export.host, port, child.pid)
        return export

    def _read_port(self, child: subprocess.Popen, path: str) -> int:
        ready, _, _ = select.select([child.stdout], [], [], START_TIMEOUT)
        line = child.stdout.readline().decode() if ready else ''
        if not line.startswith('port '):
            raise exception.NBDExportError(
                path=path, reason='launcher said %r' % line.strip()
                if line else 'launcher gave no port')
        return int(line.split()[1])

    @staticmethod
    def _wait_ready(child, pidfile, logfile, path) -> None:
        # qemu-storage-daemon writes its pidfile once the export exists.
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(pidfile):
            if child.poll() is not None or time.monotonic() > deadline:
                try:
                    with open(logfile) as f:
                        tail = f.read()[-2000:].strip()
                except OSError:
                    tail = ''
                raise exception.NBDExportError(
                    path=path, reason='%s %s: %s' % (
                        QSD, 'exited with %s' % child.returncode
                        if child.returncode is not None else 'not ready',
                        tail or 'no output'))
            time.sleep(0.02)

    def _stop(self, export: Export) -> None:
        ours = export.pid in self._children
        if ours or _pid_runs_daemon(export.pid, export.name):
            self._terminate(export.pid)
            LOG.info('Stopped NBD export %s (pid %d)', export.name,
                     export.pid)

    def _terminate(self, pid: int) -> None:
        child = self._children.pop(pid, None)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            if child is not None:
                if child.poll() is not None:
                    return
            elif not psutil.pid_exists(pid):
                return
            time.sleep(0.02)
        LOG.warning('NBD daemon pid %d ignored SIGTERM; killing it', pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if child is not None:
            child.wait(STOP_TIMEOUT)
