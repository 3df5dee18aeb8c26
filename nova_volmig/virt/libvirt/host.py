"""The libvirt connection of the driver, its event loop and reconnection.

As in Nova's ``nova.virt.libvirt.host``: one ``Host`` owns the connection,
opens it lazily, reopens it transparently after libvirtd restarts, and runs
libvirt's default event loop in a daemon thread. Block-job events
(``VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2``) are recorded per domain and disk so a
waiter wakes at once; events lost while libvirtd was away are covered by
the waiters also polling the live XML (``<mirror ready='yes'>``).
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from typing import Callable, TypeVar

import libvirt
from oslo_config import cfg
from oslo_log import log as logging
import tenacity

from nova_volmig import exception
from nova_volmig.virt.libvirt import exception as lv_exc
from nova_volmig.virt.libvirt import guest as libvirt_guest

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

T = TypeVar('T')

#: How long a read-only call keeps retrying while libvirtd is away.
RECONNECT_TIMEOUT = 120.0

_CONNECTION_ERROR_CODES = (libvirt.VIR_ERR_SYSTEM_ERROR,
                           libvirt.VIR_ERR_INTERNAL_ERROR,
                           libvirt.VIR_ERR_NO_CONNECT,
                           libvirt.VIR_ERR_INVALID_CONN,
                           libvirt.VIR_ERR_RPC)
_CONNECTION_ERROR_DOMAINS = (libvirt.VIR_FROM_REMOTE, libvirt.VIR_FROM_RPC)

_event_loop_lock = threading.Lock()
_event_loop_thread: threading.Thread | None = None


def is_connection_error(error: BaseException) -> bool:
    """True when ``error`` means the libvirtd connection is gone."""
    if not isinstance(error, libvirt.libvirtError):
        return False
    code = error.get_error_code()
    if code in (libvirt.VIR_ERR_NO_CONNECT, libvirt.VIR_ERR_INVALID_CONN):
        return True
    return (code in _CONNECTION_ERROR_CODES
            and error.get_error_domain() in _CONNECTION_ERROR_DOMAINS)


def connection_lost(error: BaseException) -> bool:
    """``error``, or what it was raised from, is a lost libvirtd."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, lv_exc.LibvirtConnectionError) or \
                is_connection_error(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def _is_alive(conn: libvirt.virConnect) -> bool:
    """``virConnectIsAlive``; False when the call itself fails."""
    try:
        return bool(conn.isAlive())
    except libvirt.libvirtError:
        return False


def start_event_loop() -> None:
    """Register libvirt's default event loop and run it in a thread.

    Must precede the first ``libvirt.open`` of the process for its
    connections to deliver events; safe to call more than once.
    """
    global _event_loop_thread
    with _event_loop_lock:
        if _event_loop_thread is not None:
            return
        libvirt.virEventRegisterDefaultImpl()

        def _run():
            while True:
                try:
                    libvirt.virEventRunDefaultImpl()
                except Exception:  # never let the loop die
                    LOG.exception('libvirt event loop iteration failed')
                    time.sleep(0.1)

        _event_loop_thread = threading.Thread(
            target=_run, name='libvirt-event-loop', daemon=True)
        _event_loop_thread.start()


@dataclasses.dataclass(frozen=True)
class BlockJobEvent:
    """One ``BLOCK_JOB_2`` event: job type and status (libvirt enums)."""

    seq: int
    job_type: int
    status: int
    received_at: float


class BlockJobEvents:
    """Block-job events per (domain uuid, disk target), and a condition.

    Waiters remember the sequence number they started from and ask for
    the events after it; the condition wakes them when one arrives.
    """

    MAX_PER_DISK = 32

    def __init__(self):
        self._cond = threading.Condition()
        self._seq = 0
        self._events: dict[tuple[str, str], collections.deque] = \
            collections.defaultdict(
                lambda: collections.deque(maxlen=self.MAX_PER_DISK))

    @property
    def seq(self) -> int:
        with self._cond:
            return self._seq

    def record(self, domain_uuid: str, disk: str, job_type: int,
               status: int) -> None:
        with self._cond:
            self._seq += 1
            self._events[(domain_uuid, disk)].append(
                BlockJobEvent(self._seq, job_type, status, time.monotonic()))
            self._cond.notify_all()

    def since(self, domain_uuid: str, disk: str, seq: int
              ) -> list[BlockJobEvent]:
        with self._cond:
            return [e for e in self._events.get((domain_uuid, disk), ())
                    if e.seq > seq]

    def wait(self, timeout: float, domain_uuid: str | None = None,
             disk: str | None = None, after: int | None = None) -> None:
        """Sleep until an event arrives or ``timeout`` passes.

        With ``domain_uuid``, ``disk`` and ``after`` (a :attr:`seq` read
        before the caller last looked at the job): return at once if that
        disk had an event after it, else wait for one of that disk only.
        An event that came while the caller was asking libvirt is not
        slept through (it slept a whole poll interval: a lost wakeup),
        and events of other disks wake no one needlessly. Without them:
        the next event of any disk.
        """
        with self._cond:
            if domain_uuid is None:
                self._cond.wait(timeout)
                return
            self._cond.wait_for(
                lambda: self._has_event_after(domain_uuid, disk, after or 0),
                timeout)

    def _has_event_after(self, domain_uuid: str, disk: str, seq: int
                         ) -> bool:
        events = self._events.get((domain_uuid, disk))
        return bool(events) and events[-1].seq > seq


class Host:
    """The connection to libvirtd and what hangs off it."""

    def __init__(self, uri: str | None = None):
        self.uri = uri or CONF.libvirt.connection_uri
        self._conn: libvirt.virConnect | None = None
        self._conn_lock = threading.RLock()
        #: bumped at each (re)connection; Guests re-lookup their domain
        self.generation = 0
        self.block_job_events = BlockJobEvents()
        self._graph_locks: dict[str, threading.RLock] = \
            collections.defaultdict(threading.RLock)
        self._graph_locks_lock = threading.Lock()

    # connection

    def initialize(self) -> None:
        start_event_loop()
        self.get_connection()

    def get_connection(self) -> libvirt.virConnect:
        """The open connection, reopened if libvirtd went away."""
        with self._conn_lock:
            conn = self._conn
            if conn is not None:
                if _is_alive(conn):
                    return conn
                LOG.warning('Connection to %s lost; reconnecting', self.uri)
                self._drop_connection()
            return self._connect()

    def _connect(self) -> libvirt.virConnect:
        start_event_loop()
        try:
            conn = libvirt.open(self.uri)
        except libvirt.libvirtError as e:
            raise lv_exc.LibvirtConnectionError(uri=self.uri, reason=e)
        try:
            conn.registerCloseCallback(self._on_close, None)
            conn.domainEventRegisterAny(
                None, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2,
                self._on_block_job, None)
            # Keepalive makes a dead libvirtd visible within seconds.
            conn.setKeepAlive(5, 3)
        except libvirt.libvirtError as e:
            LOG.warning('libvirt events unavailable on %s: %s; waiters '
                        'fall back to polling', self.uri, e)
        self._conn = conn
        self.generation += 1
        LOG.debug('Connected to %s (generation %d)', self.uri,
                  self.generation)
        return conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.unregisterCloseCallback()
        except libvirt.libvirtError:
            pass
        try:
            conn.close()
        except libvirt.libvirtError:
            pass

    def _on_close(self, conn, reason, opaque) -> None:
        LOG.warning('libvirt closed the connection to %s (reason %s)',
                    self.uri, reason)
        # Only mark it: reconnecting from the event loop thread deadlocks.
        with self._conn_lock:
            if self._conn is conn:
                self._conn = None

    def _on_block_job(self, conn, dom, disk, job_type, status, opaque):
        try:
            uuid = dom.UUIDString()
        except libvirt.libvirtError:
            return
        LOG.debug('Block job event: domain %s disk %s type %s status %s',
                  uuid, disk, job_type, status)
        self.block_job_events.record(uuid, disk, job_type, status)

    def close(self) -> None:
        with self._conn_lock:
            self._drop_connection()

    # retries across libvirtd restarts

    def call(self, func: Callable[[], T], idempotent: bool = True) -> T:
        """Run ``func``; reconnect and retry on connection loss.

        Only read-only (idempotent) calls are retried: whether a mutating
        call took effect before libvirtd died is unknown, so its caller
        must look again (start-up reconciliation does).
        """
        if not idempotent:
            try:
                return func()
            except libvirt.libvirtError as e:
                if is_connection_error(e):
                    self._mark_dead()
                raise

        def _before_retry(state: tenacity.RetryCallState) -> None:
            LOG.warning('libvirt call failed (%s); retrying after '
                        'reconnection', state.outcome.exception())
            self._mark_dead()

        retryer = tenacity.Retrying(
            retry=tenacity.retry_if_exception(connection_lost),
            wait=tenacity.wait_exponential(multiplier=0.2, max=2),
            stop=tenacity.stop_after_delay(RECONNECT_TIMEOUT),
            before_sleep=_before_retry,
            reraise=True)
        return retryer(func)

    def _mark_dead(self) -> None:
        with self._conn_lock:
            conn = self._conn
            if conn is not None and not _is_alive(conn):
                self._drop_connection()

    # domains

    def lookup_domain(self, uuid: str) -> libvirt.virDomain:
        def _lookup():
            try:
                return self.get_connection().lookupByUUIDString(uuid)
            except libvirt.libvirtError as e:
                if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                    raise exception.InstanceNotFound(instance_id=uuid)
                raise
        return self.call(_lookup)

    def get_guest(self, instance) -> libvirt_guest.Guest:
        """The Guest of ``instance`` (anything with a ``uuid``)."""
        uuid = getattr(instance, 'uuid', instance)
        return libvirt_guest.Guest(self, uuid, self.lookup_domain(uuid))

    def define_guest(self, xml: str) -> libvirt_guest.Guest:
        dom = self.call(lambda: self.get_connection().defineXML(xml),
                        idempotent=False)
        return libvirt_guest.Guest(self, dom.UUIDString(), dom)

    def block_graph_lock(self, domain_uuid: str) -> threading.RLock:
        """Held around every change of a domain's block graph.

        Snapshots, job starts and pivots take it. Anything that writes
        through the QEMU monitor (HMP ``qemu-io`` in tests) must take it
        too: on QEMU 7.2 such a write racing a graph change aborts QEMU
        (``child->perm & BLK_PERM_WRITE``).
        """
        with self._graph_locks_lock:
            return self._graph_locks[domain_uuid]
