"""Who still uses a volume: open files and NBD clients, read from /proc.

Cinder's attachment records say who *should* use a volume; they can be
wrong. An owner may delete a volume's attachment while Nova still holds
the BDM (allowed, as upstream), and a migration that then believes the
volume detached would delete src under a running guest (issue 16 item
2). Before an array deletes data it asks the host itself:

* every process (QEMU included) with the volume file open, matched by
  device and inode (``os.stat`` of ``/proc/<pid>/fd/<n>``), so that a
  second name, a bind mount or another mount namespace cannot hide it;
* every client connected to the volume's NBD export, read from the
  export daemon's own sockets (``/proc/<pid>/fd``) and TCP table
  (``/proc/<pid>/net/tcp{,6}``, which is the daemon's network namespace:
  clients of an array behind a veth pair are seen too).

The service needs to read other processes' ``/proc/<pid>/fd`` (root or
CAP_SYS_PTRACE, as cinder-volume has for its own exports); a process
even root may not inspect is skipped with a debug log.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import struct

from oslo_log import log as logging
import psutil

LOG = logging.getLogger(__name__)

TCP_ESTABLISHED = '01'


@dataclasses.dataclass(frozen=True)
class Holder:
    """One user of a volume: a process, and how it uses the volume."""

    pid: int
    name: str
    how: str

    def __str__(self) -> str:
        return '%s (pid %d) %s' % (self.name, self.pid, self.how)


def _fd_targets(pid: int):
    """(fd, os.stat_result) of each open descriptor of ``pid``."""
    fd_dir = '/proc/%d/fd' % pid
    for entry in os.scandir(fd_dir):
        try:
            # Follows the magic link to the open file itself, even when
            # its path is gone or names another mount namespace.
            yield int(entry.name), os.stat(entry.path)
        except (FileNotFoundError, ValueError):
            continue        # closed meanwhile


def file_holders(path: str, exclude_pids: frozenset[int] = frozenset()
                 ) -> list[Holder]:
    """Processes with the file ``path`` open (psutil + /proc/<pid>/fd)."""
    try:
        target = os.stat(path)
    except FileNotFoundError:
        return []
    key = (target.st_dev, target.st_ino)
    holders = []
    for proc in psutil.process_iter(['name']):
        if proc.pid in exclude_pids:
            continue
        try:
            fds = [fd for fd, st in _fd_targets(proc.pid)
                   if (st.st_dev, st.st_ino) == key]
        except FileNotFoundError:
            continue        # the process exited
        except PermissionError:
            # Even root may not read every process (a sandbox's init,
            # another user namespace): refusing for it would make every
            # migration impossible there, so it is only logged.
            LOG.debug('Cannot inspect the open files of %s (pid %d)',
                      proc.info['name'], proc.pid)
            continue
        if fds:
            holders.append(Holder(
                proc.pid, proc.info['name'] or '?',
                'has %s open (fd %s)' % (path, ', '.join(
                    str(fd) for fd in sorted(fds)))))
    return holders


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    fd_dir = '/proc/%d/fd' % pid
    try:
        names = os.listdir(fd_dir)
    except FileNotFoundError:
        return inodes       # the process exited: it has no client
    for name in names:
        try:
            link = os.readlink(os.path.join(fd_dir, name))
        except FileNotFoundError:
            continue
        if link.startswith('socket:['):
            inodes.add(int(link[len('socket:['):-1]))
    return inodes


def _decode_address(hex_address: str) -> str:
    """``0100007F:2A3B`` (a /proc/net/tcp field) -> ``127.0.0.1:10811``."""
    host, port = hex_address.split(':')
    # The kernel prints each 32-bit word of the address as a number in
    # the host's byte order: packing it back in that order gives the
    # address bytes.
    packed = b''.join(struct.pack('=I', int(host[i:i + 8], 16))
                      for i in range(0, len(host), 8))
    address = ipaddress.ip_address(packed)
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    text = ('[%s]' % address) if address.version == 6 else str(address)
    return '%s:%d' % (text, int(port, 16))


def tcp_clients(pid: int) -> list[str]:
    """Remote ends of the established TCP connections of process ``pid``.

    The TCP tables are read through ``/proc/<pid>/net``: the namespace
    of the daemon, wherever it runs. A process that is gone has none.
    """
    inodes = _socket_inodes(pid)
    if not inodes:
        return []
    clients = []
    for table in ('tcp', 'tcp6'):
        try:
            with open('/proc/%d/net/%s' % (pid, table)) as f:
                lines = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue        # no IPv6, or the process exited
        for line in lines:
            fields = line.split()
            if (len(fields) > 9 and fields[3] == TCP_ESTABLISHED
                    and int(fields[9]) in inodes):
                clients.append(_decode_address(fields[2]))
    return sorted(clients)
