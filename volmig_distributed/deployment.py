"""nova-volmig as separate processes over RabbitMQ and PostgreSQL.

One deployment under a state path ``DIR``::

    DIR/etc/            rendered configuration files (etc/distributed/*.in)
    DIR/log/<svc>.log   stdout and stderr of each service
    DIR/run/<svc>.pid   PID of each service
    DIR/deployment.json endpoints, PIDs, transport and database URLs
    DIR/nova-api, DIR/<compute host>, DIR/cinder   each service's state

Services: ``nova-api``, ``compute-live`` (libvirt driver),
``compute-offline`` (a driver without live storage migration) and
``cinder-volmig``. Each gets its own PostgreSQL databases (Nova's and
Cinder's) and RabbitMQ vhost, named after the deployment, so that several
deployments share one broker and one database server without seeing each
other.
"""

from __future__ import annotations

import configparser
import dataclasses
import json
import os
import signal
import socket
import string
import subprocess
import sys
import time
from typing import Callable

import requests

from . import identity
from . import services

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE_DIR = os.path.join(REPO_ROOT, 'etc', 'distributed')

NOVA_API = 'nova-api'
KEYSTONE = 'keystone'
CINDER = 'cinder-volmig'
LIVE_HOST = 'compute-live'
OFFLINE_HOST = 'compute-offline'
#: compute host name -> compute_driver
COMPUTE_HOSTS = {LIVE_HOST: 'libvirt', OFFLINE_HOST: 'offline'}
CINDER_HOST = 'cinder1'

DB_USER = 'volmig'
# Loopback-only test deployments; a real cloud takes these from its
# secret store.
DB_PASSWORD = 'volmig'
MQ_USER = 'volmig'
MQ_PASSWORD = 'volmig'

STOP_TIMEOUT = 60.0
START_TIMEOUT = 90.0


class DeploymentError(Exception):
    """The deployment could not be set up, started or stopped."""


def free_port(host: str = services.LOOPBACK) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def console_script(name: str) -> str:
    """A console script of this venv (``pip install -e .`` made it)."""
    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.access(path, os.X_OK):
        raise DeploymentError('%s not found next to %s: install the project '
                              'into this venv (pip install -e .)'
                              % (name, sys.executable))
    return path


@dataclasses.dataclass
class Settings:
    """What a deployment is made of; every field has a working default."""

    #: prefix of the databases, the vhost and the lease (letters, digits, _)
    name: str = 'volmig'
    listen: str = services.LOOPBACK
    #: 0 picks a free port
    nova_port: int = 8774
    cinder_port: int = 8776
    #: ``keystone``: a real Keystone for both services (``identity``)
    auth: str = 'noauth2'
    keystone_port: int = 5000
    volume_protocol: str = 'file'
    debug: bool = False
    #: [compute] RPC timeouts and service liveness, in seconds
    start_timeout: int = 60
    complete_timeout: int = 120
    rpc_call_timeout: int = 30
    service_down_time: int = 20
    report_interval: int = 2
    #: extra options, ``{group: {option: value}}``, written to a last
    #: config file of every Nova service / of cinder-volmig
    nova_overrides: dict = dataclasses.field(default_factory=dict)
    cinder_overrides: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Service:
    """One service process of the deployment."""

    name: str
    argv: list[str]
    ready: Callable[[], bool]
    process: subprocess.Popen | None = None
    pid: int | None = None
    log_offset: int = 0


class Deployment:
    """Set up, start, stop and inspect one distributed deployment.

    :param lease_holder: who holds RabbitMQ and PostgreSQL for this
        deployment; None ties the leases to the calling process (tests).
    """

    def __init__(self, state_path: str, settings: Settings | None = None,
                 lease_holder: str | None = None,
                 rabbitmq: services.RabbitMQ | None = None,
                 postgresql: services.PostgreSQL | None = None):
        self.state_path = os.path.abspath(state_path)
        self.settings = settings or Settings()
        services.check_name(self.settings.name)
        self.lease_holder = lease_holder
        self.rabbitmq = rabbitmq or services.RabbitMQ()
        self.postgresql = postgresql or services.PostgreSQL()
        self.etc_dir = os.path.join(self.state_path, 'etc')
        self.log_dir = os.path.join(self.state_path, 'log')
        self.run_dir = os.path.join(self.state_path, 'run')
        self.info_file = os.path.join(self.state_path, 'deployment.json')
        self.services: dict[str, Service] = {}
        self.info: dict = {}
        self.keystone: identity.Keystone | None = None

    # Names

    @property
    def nova_database(self) -> str:
        return '%s_nova' % self.settings.name

    @property
    def cinder_database(self) -> str:
        return '%s_cinder' % self.settings.name

    @property
    def vhost(self) -> str:
        return self.settings.name

    @property
    def transport_url(self) -> str:
        return self.rabbitmq.url(MQ_USER, MQ_PASSWORD, self.vhost)

    @property
    def nova_endpoint(self) -> str:
        return 'http://%s:%d/v2.1' % (self.settings.listen,
                                      self.settings.nova_port)

    @property
    def cinder_endpoint(self) -> str:
        return 'http://%s:%d/v3' % (self.settings.listen,
                                    self.settings.cinder_port)

    def database_url(self, which: str) -> str:
        name = {'nova': self.nova_database,
                'cinder': self.cinder_database}[which]
        return self.postgresql.url(DB_USER, DB_PASSWORD, name)

    # Infrastructure

    def acquire_infrastructure(self) -> None:
        """RabbitMQ and PostgreSQL running and held; user, role, vhost."""
        for service in (self.rabbitmq, self.postgresql):
            if self.lease_holder is None:
                service.hold_for_this_process()
            else:
                service.acquire(self.lease_holder)
        with services.admin_lock():
            self.rabbitmq.ensure_user(MQ_USER, MQ_PASSWORD)
            self.rabbitmq.ensure_vhost(self.vhost, MQ_USER)
            self.postgresql.ensure_role(DB_USER, DB_PASSWORD)

    def release_infrastructure(self) -> list[str]:
        """Drop this deployment's leases; the services it stopped."""
        if self.lease_holder is None:
            return []  # released when the process exits
        return [s.name for s in (self.rabbitmq, self.postgresql)
                if s.release(self.lease_holder)]

    def create_databases(self, recreate: bool = False) -> None:
        with services.admin_lock():
            for name in (self.nova_database, self.cinder_database):
                self.postgresql.create_database(name, DB_USER,
                                                recreate=recreate)

    def drop_data(self) -> None:
        """Remove the databases and the vhost of this deployment."""
        with services.admin_lock():
            for name in (self.nova_database, self.cinder_database):
                self.postgresql.drop_database(name)
            self.rabbitmq.delete_vhost(self.vhost)

    # Configuration

    def _allocate_ports(self) -> None:
        if not self.settings.nova_port:
            self.settings.nova_port = free_port(self.settings.listen)
        if not self.settings.cinder_port:
            self.settings.cinder_port = free_port(self.settings.listen)

    def _variables(self) -> dict[str, str]:
        s = self.settings
        return {
            'state_path': self.state_path,
            'transport_url': self.transport_url,
            'nova_database': self.database_url('nova'),
            'cinder_database': self.database_url('cinder'),
            'listen': s.listen,
            'nova_port': str(s.nova_port),
            'cinder_port': str(s.cinder_port),
            'nova_endpoint': self.nova_endpoint,
            'cinder_endpoint': self.cinder_endpoint,
            'cinder_host': CINDER_HOST,
            'volume_protocol': s.volume_protocol,
            'debug': str(s.debug).lower(),
            'start_timeout': str(s.start_timeout),
            'complete_timeout': str(s.complete_timeout),
            'rpc_call_timeout': str(s.rpc_call_timeout),
            'service_down_time': str(s.service_down_time),
            'report_interval': str(s.report_interval),
        }

    def _render(self, template: str, output: str, **extra: str) -> str:
        with open(os.path.join(TEMPLATE_DIR, template)) as f:
            text = string.Template(f.read()).substitute(
                self._variables(), **extra)
        path = os.path.join(self.etc_dir, output)
        with open(path, 'w') as f:
            f.write(text)
        os.chmod(path, 0o600)  # it holds the passwords
        return path

    def _write_overrides(self, output: str, values: dict) -> str:
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str
        for group, options in values.items():
            parser[group] = {k: str(v) for k, v in options.items()}
        path = os.path.join(self.etc_dir, output)
        with open(path, 'w') as f:
            f.write('# Overrides given to this deployment (last file '
                    'wins).\n')
            parser.write(f)
        return path

    def config_files(self, service: str) -> list[str]:
        """The --config-file list of a service, in order."""
        etc = self.etc_dir
        if service == KEYSTONE:
            return [self.keystone.config_file]
        # With Keystone, its options come before the given overrides.
        auth = self.settings.auth == 'keystone'
        if service == CINDER:
            return ([os.path.join(etc, 'cinder-volmig.conf')]
                    + [os.path.join(etc, 'cinder-keystone.conf')] * auth
                    + [os.path.join(etc, 'cinder-overrides.conf')])
        specific = ('nova-api.conf' if service == NOVA_API
                    else 'nova-compute-%s.conf' % service)
        return ([os.path.join(etc, 'nova.conf'), os.path.join(etc, specific)]
                + [os.path.join(etc, 'nova-keystone.conf')] * auth
                + [os.path.join(etc, 'nova-overrides.conf')])

    def write_config(self) -> None:
        """Render every configuration file under DIR/etc."""
        for directory in (self.etc_dir, self.log_dir, self.run_dir):
            os.makedirs(directory, exist_ok=True)
        self._allocate_ports()
        self._render('nova.conf.in', 'nova.conf')
        self._render('nova-api.conf.in', 'nova-api.conf')
        for host, driver in COMPUTE_HOSTS.items():
            self._render('nova-compute.conf.in',
                         'nova-compute-%s.conf' % host, host=host,
                         compute_driver=driver)
        self._render('cinder-volmig.conf.in', 'cinder-volmig.conf')
        self._write_overrides('nova-overrides.conf',
                              self.settings.nova_overrides)
        self._write_overrides('cinder-overrides.conf',
                              self.settings.cinder_overrides)
        # Keystone's own file is written as it starts (identity.start_for).
        self.keystone = self.keystone or identity.for_deployment(self)
        if self.keystone is not None:
            self._write_overrides('nova-keystone.conf',
                                  self.keystone.nova_options())
            self._write_overrides('cinder-keystone.conf',
                                  self.keystone.cinder_options())
        self._define_services()

    def db_sync(self) -> str:
        """``nova-volmig-manage db sync``; cinder-volmig syncs its own."""
        argv = [console_script('nova-volmig-manage')]
        for path in self.config_files(NOVA_API):
            argv += ['--config-file', path]
        argv += ['db', 'sync']
        return services.execute(*argv).strip()

    # Processes

    def _http_ready(self, url: str) -> Callable[[], bool]:
        def ready() -> bool:
            try:
                return requests.get(url, timeout=2).status_code == 200
            except requests.RequestException:
                return False
        return ready

    def _log_says(self, name: str, text: str) -> Callable[[], bool]:
        def ready() -> bool:
            service = self.services[name]
            try:
                with open(self.log_path(name), 'rb') as f:
                    f.seek(service.log_offset)
                    return text.encode() in f.read()
            except OSError:
                return False
        return ready

    def _define_services(self) -> None:
        def argv(script: str, name: str) -> list[str]:
            args = [console_script(script)]
            for path in self.config_files(name):
                args += ['--config-file', path]
            return args

        base = 'http://%s:%%d/' % self.settings.listen
        defs = [Service(NOVA_API, argv('nova-volmig-api', NOVA_API),
                        self._http_ready(base % self.settings.nova_port)),
                Service(CINDER, argv('cinder-volmig', CINDER),
                        self._http_ready(base % self.settings.cinder_port))]
        if self.keystone is not None:
            defs.append(Service(KEYSTONE, self.keystone.argv(),
                                self._http_ready(self.keystone.auth_url)))
        for host in COMPUTE_HOSTS:
            defs.append(Service(
                host, argv('nova-volmig-compute', host),
                self._log_says(host, 'nova-volmig-compute: host %s ready'
                               % host)))
        for service in defs:
            old = self.services.get(service.name)
            if old is not None:
                service.process, service.pid = old.process, old.pid
            self.services[service.name] = service

    def log_path(self, name: str) -> str:
        return os.path.join(self.log_dir, '%s.log' % name)

    def pid_path(self, name: str) -> str:
        return os.path.join(self.run_dir, '%s.pid' % name)

    def spawn(self, name: str) -> Service:
        """Start one service process (without waiting for it)."""
        service = self.services[name]
        if self.is_running(name):
            raise DeploymentError('%s is already running (pid %s)'
                                  % (name, service.pid))
        log_path = self.log_path(name)
        with open(log_path, 'ab') as log:
            service.log_offset = log.tell()
            log.write(('==== %s starting %s\n' % (
                time.strftime('%Y-%m-%d %H:%M:%S'), name)).encode())
            log.flush()
            # Its own session: a Ctrl-C of tools/distributed.py or of the
            # test runner does not reach it; it is stopped by PID.
            service.process = subprocess.Popen(
                service.argv, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
                cwd=self.state_path)
        service.pid = service.process.pid
        with open(self.pid_path(name), 'w') as f:
            f.write('%d\n' % service.pid)
        return service

    def wait_ready(self, names: list[str] | None = None,
                   timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        pending = list(names or self.services)
        while pending:
            for name in list(pending):
                if not self.is_running(name):
                    raise DeploymentError('%s exited (%s) during start-up:\n'
                                          '%s' % (name, self.exit_code(name),
                                                  self.log_tail(name)))
                if self.services[name].ready():
                    pending.remove(name)
            if pending and time.monotonic() > deadline:
                raise DeploymentError('%s not ready within %ss:\n%s' % (
                    ', '.join(pending), timeout,
                    '\n'.join(self.log_tail(n) for n in pending)))
            if pending:
                time.sleep(0.2)

    def start_service(self, name: str, wait: bool = True) -> Service:
        service = self.spawn(name)
        if wait:
            self.wait_ready([name])
        self._save_info()
        return service

    def pid(self, name: str) -> int | None:
        """The PID of service ``name``, or None when it never started."""
        return self._pid(name)

    def _pid(self, name: str) -> int | None:
        service = self.services.get(name)
        if service is not None and service.pid:
            return service.pid
        try:
            with open(self.pid_path(name)) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def is_running(self, name: str) -> bool:
        service = self.services.get(name)
        if service is not None and service.process is not None:
            return service.process.poll() is None
        pid = self._pid(name)
        # Started by another process: check it is still that service.
        return (services.pid_alive(pid) and
                self.config_files(name)[0] in services.pid_cmdline(pid))

    def exit_code(self, name: str) -> int | None:
        service = self.services.get(name)
        if service is not None and service.process is not None:
            return service.process.poll()
        return None

    def send_signal(self, name: str, sig: int) -> None:
        if not self.is_running(name):
            raise DeploymentError('%s is not running' % name)
        os.kill(self._pid(name), sig)

    def wait_exit(self, name: str, timeout: float = STOP_TIMEOUT
                  ) -> int | None:
        """Wait for a service to exit; its exit code when it is our child.

        Raises DeploymentError if it is still running after ``timeout``.
        """
        service = self.services.get(name)
        if service is not None and service.process is not None:
            try:
                return service.process.wait(timeout)
            except subprocess.TimeoutExpired:
                raise DeploymentError('%s still running %ss after its '
                                      'signal' % (name, timeout))
        try:
            services.wait_until(lambda: not self.is_running(name), timeout,
                                '%s to exit' % name)
        except services.ServiceError as e:
            raise DeploymentError(str(e))
        return None

    def stop_service(self, name: str, sig: int = signal.SIGTERM,
                     timeout: float = STOP_TIMEOUT) -> int | None:
        """Signal a service and wait; its exit code (None: not our child).

        A service that ignores SIGTERM for ``timeout`` is killed and
        DeploymentError raised.
        """
        if not self.is_running(name):
            return self.exit_code(name)
        self.send_signal(name, sig)
        return self._wait_or_kill(name, timeout)

    def _wait_or_kill(self, name: str, timeout: float) -> int | None:
        """Wait for a signalled service; SIGKILL and raise after timeout."""
        try:
            return self.wait_exit(name, timeout)
        except DeploymentError:
            self.send_signal(name, signal.SIGKILL)
            self.wait_exit(name, 10)
            raise

    def kill_service(self, name: str) -> None:
        """SIGKILL: the crash the reconciliation tests need."""
        self.stop_service(name, signal.SIGKILL, 10)

    # The whole deployment

    def start(self) -> dict:
        """Everything: infrastructure, config, schema, services."""
        self.acquire_infrastructure()
        self.create_databases()
        # Keystone first: the services' ports are picked just before use.
        if self.settings.auth == 'keystone':
            self.keystone = identity.start_for(self, KEYSTONE)
        self.write_config()
        self.db_sync()
        if self.keystone is not None:
            try:
                self.keystone.populate(self.nova_endpoint,
                                       self.cinder_endpoint)
            except Exception:
                self.stop()
                raise
        # Cinder first: the compute hosts' reconciliation may call it.
        self.spawn(CINDER)
        for name in list(COMPUTE_HOSTS) + [NOVA_API]:
            self.spawn(name)
        try:
            self.wait_ready()
        except DeploymentError:
            self.stop()
            raise
        return self._save_info()

    def stop(self, timeout: float = STOP_TIMEOUT) -> dict[str, int | None]:
        """SIGTERM every service, front doors first; their exit codes.

        The services of one tier (the two APIs, then the compute hosts,
        then Keystone) are signalled together and then waited for: each
        takes about a second to drain and exit.
        """
        if not self.services and os.path.exists(self.info_file):
            self.load()
        codes: dict[str, int | None] = {}
        errors = []
        for tier in ([NOVA_API, CINDER], list(COMPUTE_HOSTS), [KEYSTONE]):
            signalled = []
            for name in tier:
                if name not in self.services and not self._pid(name):
                    continue
                if not self.is_running(name):
                    codes[name] = self.exit_code(name)
                    continue
                try:
                    self.send_signal(name, signal.SIGTERM)
                except DeploymentError as e:
                    errors.append(str(e))
                    continue
                signalled.append(name)
            for name in signalled:
                try:
                    codes[name] = self._wait_or_kill(name, timeout)
                except DeploymentError as e:
                    errors.append(str(e))
        if errors:
            raise DeploymentError('; '.join(errors))
        return codes

    def _save_info(self) -> dict:
        self.info = {
            'name': self.settings.name,
            'state_path': self.state_path,
            'compute_api': self.nova_endpoint,
            'volume_api': self.cinder_endpoint,
            'transport_url': self.transport_url,
            'nova_database': self.database_url('nova'),
            'cinder_database': self.database_url('cinder'),
            'compute_hosts': dict(COMPUTE_HOSTS),
            'cinder_host': CINDER_HOST,
            'auth_url': self.keystone and self.keystone.auth_url,
            'lease_holder': self.lease_holder,
            'settings': dataclasses.asdict(self.settings),
            'services': {name: {'pid': self._pid(name),
                                'log': self.log_path(name),
                                'config_files': self.config_files(name)}
                         for name in self.services},
        }
        with open(self.info_file, 'w') as f:
            json.dump(self.info, f, indent=1)
        return self.info

    def load(self) -> dict:
        """Pick up a deployment started by another process."""
        with open(self.info_file) as f:
            self.info = json.load(f)
        self.settings = Settings(**self.info['settings'])
        self.lease_holder = self.info.get('lease_holder')
        self.keystone = identity.for_deployment(self)
        self._define_services()
        for name in self.services:
            self.services[name].pid = self._pid(name)
        return self.info

    def status(self) -> dict:
        if not self.services and os.path.exists(self.info_file):
            self.load()
        return {
            'services': {name: {'pid': self._pid(name),
                                'running': self.is_running(name),
                                'ready': (self.is_running(name) and
                                          self.services[name].ready())}
                         for name in self.services},
            'rabbitmq': {'pid': self.rabbitmq.running_pid(),
                         'vhost': self.vhost},
            'postgresql': {'pid': self.postgresql.running_pid(),
                           'databases': [self.nova_database,
                                         self.cinder_database]},
            'compute_api': self.nova_endpoint,
            'volume_api': self.cinder_endpoint,
        }

    def log_tail(self, name: str, lines: int = 40) -> str:
        try:
            with open(self.log_path(name), errors='replace') as f:
                tail = f.readlines()[-lines:]
        except OSError:
            return ''
        return '---- %s\n%s' % (name, ''.join(tail))
