"""Start qemu-storage-daemon on a listening socket with TCP_NODELAY set.

qemu-storage-daemon 7.2 does not set TCP_NODELAY on the connections it
accepts, and small parallel writes then wait on Nagle + delayed ACK
(DESIGN 5). Linux copies the option from a listening socket to the
sockets it accepts, so this launcher binds the first free port of a
range, sets TCP_NODELAY on the listening socket, prints the port on
stdout, then execs the daemon with the socket handed over as
``addr.type=fd`` (the argument ``{fd}`` is replaced by its number).

Standard library only: it runs as a script, possibly under
``ip netns exec``, before the daemon replaces it (same PID).

Usage: nbd_launch.py ADDRESS FIRST:LAST LOGFILE -- DAEMON ARGS...
"""

import errno
import os
import socket
import sys


def bind_first_free(address: str, first: int, last: int) -> socket.socket:
    family = socket.AF_INET6 if ':' in address else socket.AF_INET
    for port in range(first, last + 1):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((address, port))
        except OSError as e:
            sock.close()
            if e.errno == errno.EADDRINUSE:
                continue
            raise
        sock.listen(64)
        return sock
    raise OSError(errno.EADDRINUSE,
                  'no free port in %d:%d on %s' % (first, last, address))


def main(argv):
    sep = argv.index('--')
    address, port_range, logfile = argv[:sep]
    command = argv[sep + 1:]
    first, last = (int(p) for p in port_range.split(':'))
    try:
        sock = bind_first_free(address, first, last)
    except OSError as e:
        sys.stdout.write('error %s\n' % e)
        sys.stdout.flush()
        return 2
    os.set_inheritable(sock.fileno(), True)
    sys.stdout.write('port %d\n' % sock.getsockname()[1])
    sys.stdout.flush()
    log = os.open(logfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    command = [a.replace('{fd}', str(sock.fileno())) for a in command]
    os.execvp(command[0], command)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
