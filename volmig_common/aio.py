"""nova-volmig-aio as a subprocess: the one launcher of the bench and tests.

:class:`AioProcess` runs ``nova-volmig-aio`` in its own session (a Ctrl-C
at the terminal reaches only the caller, which then tears down in order)
with a Nova and a Cinder config file written from dicts, ephemeral ports,
and waits for the ``aio.json`` the service writes once both APIs listen.
It can change a mutable Nova option in place (rewrite + SIGHUP). The bench
(``volmig_bench.deploy.AioDeployment``) and the functional tests'
``Aio`` fixture add their REST clients on top.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import signal
import subprocess
import sys

from volmig_common import polling

START_TIMEOUT = 90.0
RELOADED = 'Configuration reloaded (SIGHUP)'


class LaunchError(Exception):
    """nova-volmig-aio did not start, or did not reload its files."""


def write_conf(path: str, values: dict[str, dict]) -> str:
    """Write ``{group: {option: value}}`` as an ini file (atomically)."""
    parser = configparser.ConfigParser(interpolation=None)
    for group, options in values.items():
        parser[group] = {k: str(v) for k, v in options.items()}
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        parser.write(f)
    os.replace(tmp, path)
    return path


def aio_command() -> list[str]:
    """The installed ``nova-volmig-aio`` script, else ``python -m``."""
    script = os.path.join(os.path.dirname(sys.executable), 'nova-volmig-aio')
    if os.access(script, os.X_OK):
        return [script]
    return [sys.executable, '-m', 'nova_volmig.cmd.aio']


class AioProcess:
    """One ``nova-volmig-aio`` process with ephemeral ports.

    :param nova_conf: ``{group: {option: value}}`` of ``nova.conf``.
    :param cinder_conf: the same for ``cinder.conf`` (backends, pools).
    """

    def __init__(self, state_path: str, nova_conf: dict,
                 cinder_conf: dict, compute_driver: str = 'libvirt',
                 volume_protocol: str = 'file'):
        self.state_path = os.path.abspath(state_path)
        self.nova_conf = {g: dict(o) for g, o in nova_conf.items()}
        self.cinder_conf = cinder_conf
        self.compute_driver = compute_driver
        self.volume_protocol = volume_protocol
        self.process: subprocess.Popen | None = None
        self.log_path = os.path.join(self.state_path, 'aio.log')
        #: ``aio.json``: pid and the ``compute`` and ``volume`` endpoints
        self.info: dict = {}

    @property
    def nova_conf_path(self) -> str:
        return os.path.join(self.state_path, 'nova.conf')

    def start(self, timeout: float = START_TIMEOUT) -> dict:
        """Start the process and wait until it serves; its ``aio.json``."""
        os.makedirs(self.state_path, exist_ok=True)
        info_file = os.path.join(self.state_path, 'aio.json')
        with contextlib.suppress(FileNotFoundError):
            os.unlink(info_file)
        cmd = aio_command() + [
            '--state-path', self.state_path, '--nova-port', '0',
            '--cinder-port', '0', '--compute-driver', self.compute_driver,
            '--volume-protocol', self.volume_protocol,
            '--config-file', write_conf(self.nova_conf_path, self.nova_conf),
            '--cinder-config-file', write_conf(
                os.path.join(self.state_path, 'cinder.conf'),
                self.cinder_conf)]
        with open(self.log_path, 'ab') as log:
            self.process = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)

        def ready() -> bool:
            if os.path.exists(info_file):
                return True
            if self.process.poll() is not None:
                raise LaunchError('nova-volmig-aio exited with %s:\n%s'
                                  % (self.process.returncode,
                                     self.log_tail()))
            return False

        try:
            polling.wait_for(ready, timeout, 0.1, 'nova-volmig-aio')
        except polling.WaitTimeout:
            self.stop()
            raise LaunchError('nova-volmig-aio not ready in %.0f s:\n%s'
                              % (timeout, self.log_tail()))
        with open(info_file) as f:
            self.info = json.load(f)
        return self.info

    def log_tail(self, lines: int = 40) -> str:
        try:
            with open(self.log_path, errors='replace') as f:
                return ''.join(f.readlines()[-lines:])
        except OSError:
            return ''

    def _log_size(self) -> int:
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def set_nova_options(self, group: str, timeout: float = 15.0,
                         **options) -> None:
        """Change mutable Nova options of the running service (SIGHUP).

        Returns once the service logged that it reloaded its files.
        """
        if all(str(self.nova_conf.get(group, {}).get(k)) == str(v)
               for k, v in options.items()):
            return
        self.nova_conf.setdefault(group, {}).update(options)
        write_conf(self.nova_conf_path, self.nova_conf)
        offset = self._log_size()
        self.process.send_signal(signal.SIGHUP)

        def reloaded():
            with open(self.log_path, errors='replace') as f:
                f.seek(offset)
                return RELOADED in f.read()

        polling.wait_for(reloaded, timeout, 0.05,
                         'nova-volmig-aio reloading %s' % self.nova_conf_path,
                         error=LaunchError)

    def stop(self, timeout: float = 60.0, sig: int = signal.SIGTERM
             ) -> int | None:
        """``sig`` (SIGTERM), then SIGKILL after ``timeout``; exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode
