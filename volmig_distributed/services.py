"""The host's RabbitMQ and PostgreSQL, shared through leases.

A deployment or a test process *acquires* a service before using it: the
service is started when it is not running, and the start is recorded.
*Releasing* the last lease stops the service again, by the PID recorded at
its start, and only when this machinery started it: a broker or database
server that was running before is never stopped. Leases live in
``/run/nova-volmig/<service>.json`` under an ``flock``, so the two stestr
workers and ``tools/distributed.py`` agree; a lease held by a process that
died is dropped at the next acquire or release.

Nothing here runs under systemd: RabbitMQ is ``rabbitmq-server -detached``
and PostgreSQL is ``pg_ctlcluster <version> <cluster> start`` (Debian 12).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import re
import signal
import socket
from typing import Iterator

from oslo_concurrency import processutils
import psutil

from volmig_bench import cleanup as bench_cleanup
from volmig_common import polling

STATE_DIR = os.environ.get('VOLMIG_SERVICES_STATE_DIR', '/run/nova-volmig')
LOOPBACK = '127.0.0.1'

# Names that go into SQL and rabbitmqctl argv unquoted.
_NAME_RE = re.compile(r'^[a-z][a-z0-9_]{0,62}$')


class ServiceError(Exception):
    """A system service could not be started, reached or stopped."""


def check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ValueError('%r is not a valid name: lower-case letters, '
                         'digits and "_", starting with a letter' % name)
    return name


#: True if a PID runs and is not a zombie (the bench's teardown uses it too)
pid_alive = bench_cleanup.pid_alive


def pid_cmdline(pid: int) -> str:
    """The command line of ``pid``, words joined by spaces ('' if gone)."""
    try:
        return ' '.join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return ''


def port_open(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(predicate, timeout: float, what: str,
               interval: float = 0.2):
    """:func:`volmig_common.polling.wait_for`, failing with ServiceError."""
    return polling.wait_for(predicate, timeout, interval, what,
                            error=ServiceError)


def stop_pid(pid: int, sig: int, timeout: float, what: str) -> None:
    """Signal ``pid`` and wait for it to exit; SIGKILL after ``timeout``."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    try:
        wait_until(lambda: not pid_alive(pid), timeout,
                   '%s (pid %d) to exit' % (what, pid))
    except ServiceError:
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not pid_alive(pid), 10,
                   '%s (pid %d) to die' % (what, pid))
        raise


def execute(*argv: str, **kwargs) -> str:
    """Run argv (never through a shell); its stdout."""
    try:
        out, _err = processutils.execute(*argv, **kwargs)
    except processutils.ProcessExecutionError as e:
        raise ServiceError('%s failed (exit %s): %s' % (
            ' '.join(argv[:3]), e.exit_code,
            (e.stderr or e.stdout or '').strip()[:2000]))
    return out


@contextlib.contextmanager
def admin_lock() -> Iterator[None]:
    """Serialise role, user, vhost and database changes on this host.

    PostgreSQL refuses two concurrent ALTER ROLE of one role ("tuple
    concurrently updated"), and rabbitmqctl add_user races likewise.
    """
    os.makedirs(STATE_DIR, mode=0o755, exist_ok=True)
    with open(os.path.join(STATE_DIR, 'admin.lock'), 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


class SystemService:
    """A host-wide server started on demand and shared through leases."""

    name = 'service'
    #: signal that asks the server to shut down cleanly and quickly
    stop_signal = signal.SIGTERM
    #: a word of the server process's command line (guards PID reuse)
    process_marker = ''
    start_timeout = 90.0
    stop_timeout = 90.0
    #: process names of daemons a start leaves behind besides the server
    helper_names: tuple[str, ...] = ()

    # To be provided by subclasses

    def running_pid(self) -> int | None:
        """PID of the running server, None when it is not running."""
        raise NotImplementedError

    def _start(self) -> int:
        """Start the server, wait until it serves; its PID."""
        raise NotImplementedError

    def _helper_pids(self) -> set[int]:
        if not self.helper_names:
            return set()
        return {proc.pid for proc in psutil.process_iter(['name'])
                if proc.info['name'] in self.helper_names}

    # Leases

    @contextlib.contextmanager
    def _state(self) -> Iterator[dict]:
        os.makedirs(STATE_DIR, mode=0o755, exist_ok=True)
        path = os.path.join(STATE_DIR, '%s.json' % self.name)
        with open(path + '.lock', 'a') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                with open(path) as f:
                    state = json.load(f)
            except (OSError, ValueError):
                state = {}
            state.setdefault('started_pid', None)
            state.setdefault('holders', {})
            state.setdefault('helper_pids', [])
            # Leases of processes that died without releasing.
            state['holders'] = {h: p for h, p in state['holders'].items()
                                if p is None or pid_alive(p)}
            if state['started_pid'] and not pid_alive(state['started_pid']):
                state['started_pid'] = None
            yield state
            tmp = path + '.tmp'
            with open(tmp, 'w') as f:
                json.dump(state, f, indent=1, sort_keys=True)
            os.replace(tmp, path)

    def acquire(self, holder: str, holder_pid: int | None = None) -> bool:
        """Hold the service, starting it when needed.

        :param holder: who holds it (a deployment's state path, a test
            process); acquiring twice is one lease.
        :param holder_pid: the holder's PID, so that the lease ends with
            it; None for a lease that lasts until :meth:`release`.
        :returns: True if this call started the server.
        """
        with self._state() as state:
            started = False
            if self.running_pid() is None:
                before = self._helper_pids()
                state['started_pid'] = self._start()
                state['helper_pids'] = sorted(self._helper_pids() - before)
                started = True
            state['holders'][holder] = holder_pid
            return started

    def release(self, holder: str) -> bool:
        """Drop a lease; the last one stops what we started. True if so."""
        with self._state() as state:
            state['holders'].pop(holder, None)
            pid = state['started_pid']
            if state['holders'] or not pid:
                return False
            if pid != self.running_pid() or \
                    self.process_marker not in pid_cmdline(pid):
                # Not the process we started any more: not ours to stop.
                state['started_pid'] = None
                return False
            stop_pid(pid, self.stop_signal, self.stop_timeout, self.name)
            state['started_pid'] = None
            # What the start brought along (RabbitMQ: epmd), by PID too.
            helpers, state['helper_pids'] = state['helper_pids'], []
            for helper in set(helpers) & self._helper_pids():
                stop_pid(helper, signal.SIGTERM, 10, '%s helper' % self.name)
            return True

    def owned(self) -> bool:
        """True if the running server was started by this machinery."""
        with self._state() as state:
            return bool(state['started_pid']) and \
                state['started_pid'] == self.running_pid()

    def holders(self) -> dict:
        with self._state() as state:
            return dict(state['holders'])

    def hold_for_this_process(self) -> None:
        """A lease that ends with this process (tests).

        Released at exit, or dropped by the next user if the process was
        killed.
        """
        holder = 'pid-%d' % os.getpid()
        if holder in _PROCESS_LEASES.setdefault(self.name, set()):
            return
        self.acquire(holder, os.getpid())
        _PROCESS_LEASES[self.name].add(holder)
        atexit.register(self.release, holder)


_PROCESS_LEASES: dict[str, set[str]] = {}


class RabbitMQ(SystemService):
    """The host's RabbitMQ node (``rabbit@<short hostname>``)."""

    name = 'rabbitmq'
    process_marker = 'beam'
    # The Erlang port mapper a node starts when none runs.
    helper_names = ('epmd',)
    port = 5672

    def __init__(self, mnesia_base: str | None = None):
        self.mnesia_base = mnesia_base or os.environ.get(
            'RABBITMQ_MNESIA_BASE', '/var/lib/rabbitmq/mnesia')
        self.node = 'rabbit@%s' % socket.gethostname().split('.')[0]

    @property
    def pid_file(self) -> str:
        return os.path.join(self.mnesia_base, '%s.pid' % self.node)

    def _pid_from_file(self) -> int | None:
        try:
            with open(self.pid_file) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        if pid_alive(pid) and self.process_marker in pid_cmdline(pid):
            return pid
        return None

    def running_pid(self) -> int | None:
        pid = self._pid_from_file()
        if pid is None:
            return None
        # The node may still be booting: it serves once the port answers.
        try:
            wait_until(lambda: port_open(self.port), self.start_timeout,
                       'RabbitMQ to accept connections on %d' % self.port)
        except ServiceError:
            return None
        return pid

    def _start(self) -> int:
        if os.path.exists(self.pid_file) and self._pid_from_file() is None:
            os.unlink(self.pid_file)  # stale: rabbitmqctl wait trusts it
        execute('rabbitmq-server', '-detached')
        execute('rabbitmqctl', 'wait', '--timeout',
                str(int(self.start_timeout)), self.pid_file)
        wait_until(lambda: port_open(self.port), self.start_timeout,
                   'RabbitMQ to accept connections on %d' % self.port)
        pid = self._pid_from_file()
        if pid is None:
            raise ServiceError('RabbitMQ started but %s names no live '
                               'process' % self.pid_file)
        return pid

    def restart(self) -> None:
        """Restart the broker: every client connection drops.

        The node is stopped by its PID and started again when this
        machinery started it; a node started by someone else only has
        its RabbitMQ application restarted (``stop_app``/``start_app``),
        which clients see the same way.
        """
        with self._state() as state:
            pid = self.running_pid()
            if pid is not None and pid == state['started_pid']:
                stop_pid(pid, self.stop_signal, self.stop_timeout, self.name)
                state['started_pid'] = self._start()
            else:
                self.ctl('stop_app')
                self.ctl('start_app')
                self.ctl('await_startup')
            wait_until(lambda: port_open(self.port), self.start_timeout,
                       'RabbitMQ to accept connections again')

    # Administration

    def ctl(self, *args: str) -> str:
        return execute('rabbitmqctl', '-q', *args)

    def _names(self, what: str) -> set[str]:
        out = self.ctl('list_%s' % what, '--no-table-headers')
        return {line.split()[0] for line in out.splitlines()
                if line.strip()}

    def ensure_user(self, user: str, password: str) -> None:
        check_name(user)
        if user not in self._names('users'):
            self.ctl('add_user', user, password)

    # Each rabbitmqctl call starts an Erlang VM (about a second here): a
    # vhost is added or deleted at once, and listed only if that failed.

    def ensure_vhost(self, vhost: str, user: str) -> None:
        check_name(vhost)
        try:
            self.ctl('add_vhost', vhost)  # a no-op for an existing one
        except ServiceError:
            if vhost not in self._names('vhosts'):
                raise
        self.ctl('set_permissions', '-p', vhost, user, '.*', '.*', '.*')

    def delete_vhost(self, vhost: str) -> None:
        check_name(vhost)
        try:
            self.ctl('delete_vhost', vhost)
        except ServiceError:
            if vhost in self._names('vhosts'):
                raise

    def url(self, user: str, password: str, vhost: str) -> str:
        return 'rabbit://%s:%s@%s:%d/%s' % (
            user, password, LOOPBACK, self.port, vhost)


class PostgreSQL(SystemService):
    """The host's PostgreSQL cluster (the first ``pg_lsclusters`` shows)."""

    name = 'postgresql'
    process_marker = 'postgres'
    # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for
    # clients to disconnect (SIGTERM, "smart", would).
    stop_signal = signal.SIGINT
    max_connections = 300

    def __init__(self, cluster: str | None = None):
        cluster = cluster or os.environ.get('VOLMIG_PG_CLUSTER')
        if cluster:
            version, name = cluster.split('/', 1)
        else:
            version, name = self._first_cluster()
        self.version, self.cluster = version, name
        info = self._cluster_info()
        self.port = int(info[2])
        self.data_dir = info[5]

    @staticmethod
    def _clusters() -> list[list[str]]:
        out = execute('pg_lsclusters', '--no-header')
        return [line.split() for line in out.splitlines() if line.strip()]

    def _first_cluster(self) -> tuple[str, str]:
        clusters = self._clusters()
        if not clusters:
            raise ServiceError('no PostgreSQL cluster: install postgresql '
                               '(apt-get install postgresql)')
        return clusters[0][0], clusters[0][1]

    def _cluster_info(self) -> list[str]:
        for fields in self._clusters():
            if fields[0] == self.version and fields[1] == self.cluster:
                return fields
        raise ServiceError('no PostgreSQL cluster %s/%s'
                           % (self.version, self.cluster))

    def running_pid(self) -> int | None:
        try:
            with open(os.path.join(self.data_dir, 'postmaster.pid')) as f:
                pid = int(f.readline().strip())
        except (OSError, ValueError):
            return None
        if not pid_alive(pid) or self.process_marker not in \
                pid_cmdline(pid):
            return None
        try:
            wait_until(lambda: port_open(self.port), self.start_timeout,
                       'PostgreSQL to accept connections on %d' % self.port)
        except ServiceError:
            return None
        return pid

    def _start(self) -> int:
        # More connections than the default 100: every service keeps a
        # pool, and the tests run two deployments at once.
        execute('pg_ctlcluster', '-o',
                '-c max_connections=%d' % self.max_connections,
                self.version, self.cluster, 'start')
        wait_until(lambda: port_open(self.port), self.start_timeout,
                   'PostgreSQL to accept connections on %d' % self.port)
        pid = self.running_pid()
        if pid is None:
            raise ServiceError('PostgreSQL %s/%s started but is not '
                               'running' % (self.version, self.cluster))
        return pid

    # Administration (as the postgres superuser, over the local socket)

    def psql(self, sql: str, database: str = 'postgres') -> str:
        return execute('runuser', '-u', 'postgres', '--', 'psql', '-X',
                       '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
                       '-p', str(self.port), '-d', database, '-c', sql)

    def ensure_role(self, user: str, password: str) -> None:
        check_name(user)
        password_sql = password.replace("'", "''")
        if self.psql("SELECT 1 FROM pg_roles WHERE rolname = '%s'"
                     % user).strip() == '1':
            self.psql("ALTER ROLE %s WITH LOGIN CREATEDB PASSWORD '%s'"
                      % (user, password_sql))
        else:
            self.psql("CREATE ROLE %s WITH LOGIN CREATEDB PASSWORD '%s'"
                      % (user, password_sql))

    def database_exists(self, name: str) -> bool:
        check_name(name)
        return self.psql("SELECT 1 FROM pg_database WHERE datname = '%s'"
                         % name).strip() == '1'

    def create_database(self, name: str, owner: str,
                        recreate: bool = False) -> None:
        check_name(owner)
        if self.database_exists(name):
            if not recreate:
                return
            self.drop_database(name)
        self.psql('CREATE DATABASE %s OWNER %s ENCODING \'UTF8\' '
                  'TEMPLATE template0' % (name, owner))

    def drop_database(self, name: str) -> None:
        check_name(name)
        self.psql('DROP DATABASE IF EXISTS %s WITH (FORCE)' % name)

    def url(self, user: str, password: str, database: str) -> str:
        return 'postgresql+psycopg2://%s:%s@%s:%d/%s' % (
            user, password, LOOPBACK, self.port, database)
