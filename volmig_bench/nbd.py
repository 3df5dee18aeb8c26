"""NBD exports with ``TCP_NODELAY`` on the accepted connections.

``qemu-storage-daemon`` 7.2 leaves ``TCP_NODELAY`` off on the connections
its NBD server accepts (measured: :func:`accepted_nodelay`); small replies
then wait for the peer's delayed ACK and parallel small writes crawl. On
Linux an accepted socket inherits ``TCP_NODELAY`` from its listening
socket, so the export path used here creates the listening socket itself,
sets the option, and hands it to the daemon as
``--nbd-server addr.type=fd,addr.str=<fd>``. Inside the array's namespace
this runs as ``ip netns exec NS python -m volmig_bench.nbd listen-exec ...``
so that the socket is made in that namespace.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import os
import socket
import subprocess
import sys
import time
from typing import Iterator

from volmig_bench import exception

_SYS_PIDFD_OPEN = 434
_SYS_PIDFD_GETFD = 438


def listening_socket(host: str, port: int, nodelay: bool = True
                     ) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if nodelay:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(64)
    return sock


def _pidfd_getfd(pid: int, fd: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = libc.syscall(_SYS_PIDFD_OPEN, pid, 0)
    if pidfd < 0:
        raise OSError(ctypes.get_errno(), 'pidfd_open(%d)' % pid)
    try:
        dup = libc.syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0)
        if dup < 0:
            raise OSError(ctypes.get_errno(), 'pidfd_getfd(%d)' % fd)
        return dup
    finally:
        os.close(pidfd)


def accepted_nodelay(pid: int) -> dict[tuple, bool]:
    """``TCP_NODELAY`` of each connected TCP socket of process ``pid``.

    Reads the option on the process's own sockets (``pidfd_getfd``, Linux
    5.6+, needs ptrace rights on ``pid``); keys are the peer addresses.
    """
    result = {}
    for name in os.listdir('/proc/%d/fd' % pid):
        try:
            if not os.readlink('/proc/%d/fd/%s' % (pid, name)).startswith(
                    'socket:'):
                continue
        except OSError:
            continue
        dup = _pidfd_getfd(pid, int(name))
        sock = socket.socket(fileno=dup)
        try:
            if sock.type != socket.SOCK_STREAM or sock.family not in (
                    socket.AF_INET, socket.AF_INET6):
                continue
            try:
                peer = sock.getpeername()
            except OSError:
                continue  # the listening socket
            result[peer] = bool(sock.getsockopt(socket.IPPROTO_TCP,
                                                socket.TCP_NODELAY))
        finally:
            sock.close()
    return result


@dataclasses.dataclass
class Export:
    """A running ``qemu-storage-daemon`` serving one file over NBD."""

    process: subprocess.Popen
    host: str
    port: int
    name: str
    nodelay: bool

    @property
    def uri(self) -> str:
        return 'nbd://%s:%d/%s' % (self.host, self.port, self.name)


def daemon_argv(path: str, name: str, listen: str,
                extra: tuple[str, ...] = ()) -> list[str]:
    """qemu-storage-daemon arguments exporting ``path`` (raw, O_DIRECT)."""
    return ['qemu-storage-daemon',
            '--blockdev', 'driver=file,node-name=file0,filename=%s,'
                          'cache.direct=on,aio=native' % path,
            '--blockdev', 'driver=raw,node-name=fmt0,file=file0',
            *extra,
            '--nbd-server', listen,
            '--export', 'type=nbd,id=exp0,node-name=fmt0,name=%s,'
                        'writable=on' % name]


@contextlib.contextmanager
def export(path: str, host: str, port: int, name: str = 'vol',
           nodelay: bool = True, netns_argv=None, timeout: float = 10.0
           ) -> Iterator[Export]:
    """Serve ``path`` at ``nbd://host:port/name`` until the block ends.

    ``nodelay=False`` serves it the daemon's own way (``addr.type=inet``),
    for comparison. ``netns_argv`` (e.g. ``ShapedLink.netns_argv``) runs
    the daemon inside the array's namespace.
    """
    if nodelay:
        argv = [sys.executable, '-m', 'volmig_bench.nbd', 'listen-exec',
                '--host', host, '--port', str(port), '--'] + daemon_argv(
                    path, name, 'addr.type=fd,addr.str={listen_fd}')
    else:
        argv = daemon_argv(path, name, 'addr.type=inet,addr.host=%s,'
                           'addr.port=%d' % (host, port))
    if netns_argv:
        argv = netns_argv(argv)
    env = dict(os.environ,
               PYTHONPATH=os.pathsep.join(filter(None, [
                   os.path.dirname(os.path.dirname(__file__)),
                   os.environ.get('PYTHONPATH')])))
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL)
    try:
        _wait_listening(proc, host, port, timeout, netns_argv)
        yield Export(proc, host, port, name, nodelay)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_listening(proc, host, port, timeout, netns_argv) -> None:
    """Until something listens on host:port (probed with qemu-img)."""
    deadline = time.monotonic() + timeout
    probe = ['qemu-img', 'info', '--image-opts',
             'driver=nbd,server.type=inet,server.host=%s,server.port=%d,'
             'export=' % (host, port)]
    while True:
        if proc.poll() is not None:
            raise exception.BenchError(
                'NBD export on %s:%d exited with status %s'
                % (host, port, proc.returncode))
        # A listener answers even for an unknown export name; "refused"
        # means nothing listens yet.
        res = subprocess.run(probe, capture_output=True, text=True)
        if 'Connection refused' not in res.stderr:
            return
        if time.monotonic() > deadline:
            raise exception.BenchError('NBD export on %s:%d did not start'
                                       % (host, port))
        time.sleep(0.05)


def listen_exec(argv: list[str] | None = None) -> None:
    """Create a TCP_NODELAY listener, then exec the daemon with its fd."""
    parser = argparse.ArgumentParser(prog='volmig_bench.nbd listen-exec')
    parser.add_argument('--host', required=True)
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('command', nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ['--'] \
        else args.command
    sock = listening_socket(args.host, args.port, nodelay=True)
    sock.set_inheritable(True)
    fd = sock.detach()
    command = [a.replace('{listen_fd}', str(fd)) for a in command]
    os.execvp(command[0], command)


if __name__ == '__main__':
    if sys.argv[1:2] != ['listen-exec']:
        sys.exit('usage: python -m volmig_bench.nbd listen-exec --host H '
                 '--port P -- COMMAND...')
    listen_exec(sys.argv[2:])
