"""The storage link: the array in its own network namespace, shaped.

The array's NBD exports run inside a network namespace the benchmark
creates, joined to the compute host (the default namespace) by a veth pair.
Both ends are shaped with ``tc``: a token bucket (``tbf``) at the link rate
whose queue is bounded by the configured latency (``tbf ... latency``), and
optionally a ``netem`` propagation delay under it. Bytes that cross the
compute host are read from the host end's own counters
(``/sys/class/net/<if>/statistics``), headers included.

Addresses come from a /30 of ``169.254.77.0/24`` (link-local, never
routed): ``.1`` is the compute host's end, ``.2`` the array's. Traffic only
flows between these two ends.

Names carry the owner's pid (``volmig-bench-<pid>-<n>``) so that
:func:`cleanup_stale` can remove what a killed run left behind.

Where namespaces cannot be made (:func:`namespaces_available`), the bench
shapes the exports with a QEMU throttle group instead
(:func:`throttle_group_args`) and says so in its output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import ipaddress
import itertools
import logging
import os
import re
import signal
import time
from typing import Iterator

from oslo_concurrency import processutils

from volmig_bench import cleanup
from volmig_bench import exception

LOG = logging.getLogger(__name__)

NAMESPACE_PREFIX = 'volmig-bench-'
ADDRESS_POOL = ipaddress.ip_network('169.254.77.0/24')
LOCK_FILE = '/run/lock/volmig-bench-link.lock'
_counter = itertools.count(1)


@dataclasses.dataclass(frozen=True)
class LinkSpec:
    """How the storage link is shaped (each direction alike)."""

    #: bits per second
    rate_bit: int = 10 ** 9
    #: queue bound of the token bucket, in ms (tbf ``latency``)
    latency_ms: float = 10.0
    #: extra one-way propagation delay (netem), 0 for none
    delay_ms: float = 0.0

    def __post_init__(self):
        if self.rate_bit < 10 ** 5 or self.latency_ms <= 0 \
                or self.delay_ms < 0:
            raise exception.InvalidParameter(
                name='link', value=self,
                reason='rate >= 100 kbit/s, latency > 0, delay >= 0')

    @property
    def rate_bytes(self) -> float:
        return self.rate_bit / 8

    @property
    def burst_bytes(self) -> int:
        # One ms of traffic, and never less than a few full-size frames.
        return max(int(self.rate_bytes / 1000), 64 * 1024)

    def describe(self) -> str:
        text = '%g Mbit/s, %g ms queue' % (
            self.rate_bit / 1e6, self.latency_ms)
        if self.delay_ms:
            text += ', %g ms delay' % self.delay_ms
        return text


@dataclasses.dataclass(frozen=True)
class LinkBytes:
    """Bytes seen at the compute host's end of the link."""

    to_array: int
    from_array: int

    @property
    def total(self) -> int:
        return self.to_array + self.from_array

    def __sub__(self, other: 'LinkBytes') -> 'LinkBytes':
        return LinkBytes(self.to_array - other.to_array,
                         self.from_array - other.from_array)


def _run(*cmd: str, check_exit_code=True) -> str:
    try:
        out, _ = processutils.execute(*cmd, check_exit_code=check_exit_code)
    except processutils.ProcessExecutionError as exc:
        raise exception.LinkError(name='-', reason='%s: %s' % (
            ' '.join(cmd), (exc.stderr or str(exc)).strip()))
    return out


def list_namespaces() -> list[str]:
    out = _run('ip', 'netns', 'list')
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def namespace_pids(namespace: str) -> list[int]:
    out = _run('ip', 'netns', 'pids', namespace, check_exit_code=False)
    return [int(p) for p in out.split() if p.isdigit()]


def _stop_pids(pids: list[int], timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL, the processes inside a bench namespace."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = [p for p in pids if cleanup.pid_alive(p)]
            if not pids:
                return
            time.sleep(0.05)


def namespaces_available() -> tuple[bool, str]:
    """Whether this host lets us make a namespace and a veth pair."""
    probe = '%sprobe-%d' % (NAMESPACE_PREFIX, os.getpid())
    try:
        _run('ip', 'netns', 'add', probe)
    except (exception.LinkError, OSError) as exc:
        return False, str(exc)
    try:
        _run('ip', 'link', 'add', 'vbprobe%x' % (os.getpid() & 0xffff),
             'type', 'veth', 'peer', 'name', 'vbprobe-p', 'netns', probe)
        _run('tc', 'qdisc', 'show')
    except (exception.LinkError, OSError) as exc:
        return False, str(exc)
    finally:
        with contextlib.suppress(exception.LinkError):
            _run('ip', 'netns', 'del', probe)
        with contextlib.suppress(exception.LinkError):
            _run('ip', 'link', 'del', 'vbprobe%x' % (os.getpid() & 0xffff),
                 check_exit_code=False)
    return True, ''


def cleanup_stale() -> list[str]:
    """Remove bench namespaces whose owning process is gone."""
    removed = []
    for ns in list_namespaces():
        m = re.fullmatch(re.escape(NAMESPACE_PREFIX) + r'(\d+)-(\d+)', ns)
        if not m or cleanup.pid_alive(int(m.group(1))):
            continue
        _stop_pids(namespace_pids(ns))
        _run('ip', 'netns', 'del', ns, check_exit_code=False)
        host_if = 'vb%xh%d' % (int(m.group(1)), int(m.group(2)))
        if os.path.exists('/sys/class/net/' + host_if):
            _run('ip', 'link', 'del', host_if, check_exit_code=False)
        removed.append(ns)
    return removed


@contextlib.contextmanager
def _allocation_lock() -> Iterator[None]:
    os.makedirs(os.path.dirname(LOCK_FILE), exist_ok=True)
    with open(LOCK_FILE, 'a') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _free_subnet() -> ipaddress.IPv4Network:
    used = set()
    out = _run('ip', '-o', '-4', 'addr', 'show')
    for m in re.finditer(r'inet (\d+\.\d+\.\d+\.\d+)/', out):
        used.add(ipaddress.ip_address(m.group(1)))
    for subnet in ADDRESS_POOL.subnets(new_prefix=30):
        if not used.intersection(subnet):
            return subnet
    raise exception.LinkError(name='-', reason='no free /30 left in %s'
                              % ADDRESS_POOL)


class ShapedLink:
    """A live namespace + veth pair; use :func:`shaped_link` to make one."""

    def __init__(self, spec: LinkSpec, tag: int):
        pid = os.getpid()
        self.spec = spec
        self.namespace = '%s%d-%d' % (NAMESPACE_PREFIX, pid, tag)
        self.host_ifname = 'vb%xh%d' % (pid, tag)
        self.array_ifname = 'vb%xa%d' % (pid, tag)
        self.host_address: str | None = None
        self.array_address: str | None = None
        self.prefixlen = 30

    # set-up and teardown

    def _create(self) -> None:
        with _allocation_lock():
            subnet = _free_subnet()
            hosts = list(subnet.hosts())
            self.host_address = str(hosts[0])
            self.array_address = str(hosts[1])
            _run('ip', 'netns', 'add', self.namespace)
            _run('ip', 'link', 'add', self.host_ifname, 'type', 'veth',
                 'peer', 'name', self.array_ifname, 'netns', self.namespace)
            _run('ip', 'addr', 'add', '%s/30' % self.host_address, 'dev',
                 self.host_ifname)
        ns = ('ip', 'netns', 'exec', self.namespace)
        _run(*ns, 'ip', 'addr', 'add', '%s/30' % self.array_address, 'dev',
             self.array_ifname)
        _run(*ns, 'ip', 'link', 'set', 'lo', 'up')
        _run(*ns, 'ip', 'link', 'set', self.array_ifname, 'up')
        _run('ip', 'link', 'set', self.host_ifname, 'up')
        self._shape(())
        self._shape(ns)

    def _shape(self, prefix: tuple[str, ...]) -> None:
        dev = self.array_ifname if prefix else self.host_ifname
        spec = self.spec
        _run(*prefix, 'tc', 'qdisc', 'replace', 'dev', dev, 'root',
             'handle', '1:', 'tbf', 'rate', '%dbit' % spec.rate_bit,
             'burst', str(spec.burst_bytes),
             'latency', '%gms' % spec.latency_ms)
        if spec.delay_ms:
            _run(*prefix, 'tc', 'qdisc', 'replace', 'dev', dev, 'parent',
                 '1:1', 'handle', '10:', 'netem', 'delay',
                 '%gms' % spec.delay_ms, 'limit', '100000')

    def destroy(self) -> None:
        """Stop what runs inside, delete the namespace and both ends."""
        errors = []
        if self.namespace in list_namespaces():
            _stop_pids(namespace_pids(self.namespace))
            try:
                _run('ip', 'netns', 'del', self.namespace)
            except exception.LinkError as exc:
                errors.append(str(exc))
        # The veth pair goes with the namespace; make sure of it.
        for _ in range(50):
            if not os.path.exists('/sys/class/net/' + self.host_ifname):
                break
            _run('ip', 'link', 'del', self.host_ifname,
                 check_exit_code=False)
            time.sleep(0.02)
        else:
            errors.append('%s is still there' % self.host_ifname)
        if errors:
            raise exception.LinkError(name=self.namespace,
                                      reason='; '.join(errors))

    # use

    def netns_argv(self, argv: list[str]) -> list[str]:
        """``argv`` run inside the array's namespace."""
        return ['ip', 'netns', 'exec', self.namespace] + list(argv)

    def counters(self) -> LinkBytes:
        """Bytes at the compute host's end since the link was made."""
        base = '/sys/class/net/%s/statistics/' % self.host_ifname

        def read(name):
            with open(base + name) as f:
                return int(f.read())

        return LinkBytes(to_array=read('tx_bytes'),
                         from_array=read('rx_bytes'))

    def qdisc_stats(self) -> str:
        """``tc -s qdisc`` of both ends (for the run's log)."""
        return (_run('tc', '-s', 'qdisc', 'show', 'dev', self.host_ifname)
                + _run(*self.netns_argv(['tc', '-s', 'qdisc', 'show', 'dev',
                                         self.array_ifname])))

    def describe(self) -> dict:
        return {'kind': 'netns-veth', 'namespace': self.namespace,
                'host_if': self.host_ifname, 'host': self.host_address,
                'array': self.array_address,
                'rate_bit': self.spec.rate_bit,
                'latency_ms': self.spec.latency_ms,
                'delay_ms': self.spec.delay_ms}


@contextlib.contextmanager
def shaped_link(spec: LinkSpec | None = None) -> Iterator[ShapedLink]:
    """Make the array's namespace and link; always tear it down.

    Teardown runs on exceptions, Ctrl-C, SIGTERM and SIGHUP; set-up and
    teardown themselves are not interrupted half-way.
    """
    link = ShapedLink(spec or LinkSpec(), next(_counter))
    with cleanup.signals_raise():
        try:
            with cleanup.deferred_signals():
                link._create()
            LOG.info('Storage link %s: %s <-> %s, %s', link.namespace,
                     link.host_address, link.array_address,
                     link.spec.describe())
            yield link
        finally:
            with cleanup.deferred_signals():
                link.destroy()


def throttle_group_args(spec: LinkSpec, group_id: str = 'volmig-link'
                        ) -> list[str]:
    """qemu-storage-daemon ``--object`` of the fallback throttle group.

    Used when no namespace can be made: each export's node is then put
    under a ``throttle`` filter node with ``throttle-group=<group_id>``,
    which limits bytes per second (not the queue latency) in each
    direction.
    """
    rate = int(spec.rate_bytes)
    return ['--object', 'throttle-group,id=%s,x-bps-read=%d,x-bps-write=%d'
            % (group_id, rate, rate)]
