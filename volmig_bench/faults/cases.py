"""The fault scenario's cases, in the issue's priority order.

A case is a flow of the registry (:mod:`volmig_bench.flows`), an optional
fault (what is done to which service) and the trigger that fires it
(:class:`volmig_bench.faults.injector.Trigger`). ``--faults`` picks cases
by name prefix (``none``, ``kill-compute``...).
"""

from __future__ import annotations

import dataclasses

from volmig_bench.faults import injector

T = injector.Trigger

KILL_COMPUTE = 'kill-compute'
KILL_CINDER = 'kill-cinder'
#: the host's libvirtd (shared: run these cases on a host of their own)
RESTART_LIBVIRTD = 'restart-libvirtd'
#: the host's RabbitMQ (shared too)
RESTART_RABBITMQ = 'restart-rabbitmq'
#: the compute host's overlay directory filled up once the trigger holds
FILL_OVERLAY_DIR = 'fill-overlay-dir'
#: the array whose pool2 is a small loop-mounted file system
#: (:mod:`volmig_bench.xfs_pool`), filled up before an ENOSPC case
SMALL_BACKEND = injector.SMALL_BACKEND
#: the array exporting over NBD: where complete by rebase switches
NBD_BACKEND = injector.NBD_BACKEND


@dataclasses.dataclass(frozen=True)
class FaultCase:
    """One row of the fault table."""

    name: str
    #: a flow of :data:`volmig_bench.flows.FLOWS`
    flow: str
    #: None, ``kill-compute``, ``kill-cinder``, ``restart-libvirtd``,
    #: ``restart-rabbitmq`` or ``fill-overlay-dir``
    fault: str | None = None
    trigger: injector.Trigger | None = None
    #: seconds the service stays dead before it is restarted
    down_s: float = 2.0
    #: the Cinder backend of the volume (pool1 -> pool2)
    backend: str = 'array1'
    #: fill the destination pool up to leave the copy no room (ENOSPC)
    full_dst_pool: bool = False
    #: fill the compute host's overlay directory (on the same small file
    #: system) up: start cannot create its overlay (ENOSPC)
    full_overlay_dir: bool = False
    #: seconds cinder-volmig's delete of src's file is held (strace), so
    #: that a kill lands while it deletes src
    slow_src_delete: float = 0.0

    @property
    def service(self) -> str | None:
        return {KILL_COMPUTE: injector.LIVE,
                KILL_CINDER: injector.CINDER}.get(self.fault)


def _kill_compute(label: str, flow: str, *steps: str,
                  delay: float = 0.0, backend: str = 'array1') -> FaultCase:
    return FaultCase('%s-%s' % (KILL_COMPUTE, label), flow, KILL_COMPUTE,
                     T('nova-step', steps, delay), backend=backend)


def _kill_cinder(label: str, flow: str, status: str,
                 delay: float = 0.0) -> FaultCase:
    return FaultCase('%s-%s' % (KILL_CINDER, label), flow, KILL_CINDER,
                     T('cinder-status', (status,), delay))


#: Registration order is the run's order.
CASES: tuple[FaultCase, ...] = (
    # (1) every flow, no fault
    FaultCase('none-two_step', 'new'),
    FaultCase('none-write_blocking', 'new-write_blocking'),
    FaultCase('none-rebase', 'new-rebase', backend=NBD_BACKEND),
    FaultCase('none-legacy', 'legacy'),
    # (2) SIGKILL of nova-volmig-compute at the step boundaries it records
    _kill_compute('after-start', 'new', 'started'),
    FaultCase('%s-during-cinder-copy' % KILL_COMPUTE, 'new', KILL_COMPUTE,
              T('cinder-status', ('migrating',))),
    _kill_compute('complete-before-switch', 'new-write_blocking',
                  'complete:copy'),
    _kill_compute('complete-before-switch-two_step', 'new',
                  'complete:creating_overlay', 'complete:copy'),
    _kill_compute('after-switch', 'new', 'complete:switched'),
    _kill_compute('async-commit', 'new', 'complete:commit'),
    # ... and in rebase mode: during the switch, once QEMU reads dst, and
    # in the commit that follows
    _kill_compute('rebase-switch', 'new-rebase', 'complete:rebase_switch',
                  backend=NBD_BACKEND),
    _kill_compute('rebase-switched', 'new-rebase',
                  'complete:rebase_switched', backend=NBD_BACKEND),
    _kill_compute('rebase-async-commit', 'new-rebase', 'complete:commit',
                  backend=NBD_BACKEND),
    # (5) the copy fails with ENOSPC of the destination pool: Cinder
    # cancels, Nova commits the overlay back into src
    FaultCase('enospc-dst-pool', 'new', backend=SMALL_BACKEND,
              full_dst_pool=True),
    # ... and of the overlay directory at start: start fails cleanly
    FaultCase('enospc-overlay-dir', 'new', backend=SMALL_BACKEND,
              full_overlay_dir=True),
    # ... and during complete: two_step's second overlay cannot be
    # written (complete fails, Cinder cancels, the guest goes back to src)
    # and, later, the guest's writes into that overlay while it is being
    # committed into dst fail: a guest paused on ENOSPC is resumed once its
    # disk is off the overlay
    FaultCase('enospc-overlay-dir-complete', 'new', FILL_OVERLAY_DIR,
              T('nova-step', ('complete:creating_overlay', 'complete:copy'))),
    FaultCase('enospc-overlay-dir-commit', 'new', FILL_OVERLAY_DIR,
              T('nova-step', ('complete:commit',))),
    # (2) ... and nova-volmig-compute SIGKILLed in that commit-back
    FaultCase('%s-cancel-commit' % KILL_COMPUTE, 'new', KILL_COMPUTE,
              T('nova-step', ('cancel:commit',)), backend=SMALL_BACKEND,
              full_dst_pool=True),
    # (3) SIGKILL of cinder-volmig in each of its phases
    _kill_cinder('starting', 'new', 'starting'),
    _kill_cinder('copying', 'new', 'migrating'),
    _kill_cinder('completing', 'new', 'completing'),
    FaultCase('%s-deleting-src' % KILL_CINDER, 'new', KILL_CINDER,
              T('cinder-switched', ('switched',), 0.5),
              slow_src_delete=5.0),
    # (4) libvirtd restarted during each block job of the new flow
    FaultCase('%s-complete-copy' % RESTART_LIBVIRTD, 'new-write_blocking',
              RESTART_LIBVIRTD, T('nova-step', ('complete:copy',)),
              down_s=1.0),
    FaultCase('%s-async-commit' % RESTART_LIBVIRTD, 'new', RESTART_LIBVIRTD,
              T('nova-step', ('complete:commit',)), down_s=1.0),
    FaultCase('%s-cancel-commit' % RESTART_LIBVIRTD, 'new',
              RESTART_LIBVIRTD, T('nova-step', ('cancel:commit',)),
              down_s=1.0, backend=SMALL_BACKEND, full_dst_pool=True),
    # ... and in rebase mode: the commit after the switch (nbd)
    FaultCase('%s-rebase-async-commit' % RESTART_LIBVIRTD, 'new-rebase',
              RESTART_LIBVIRTD, T('nova-step', ('complete:commit',)),
              down_s=1.0, backend=NBD_BACKEND),
    # (6) the broker restarted mid-migration: while Cinder copies (no
    # call in flight), and while complete's RPC call runs on the compute
    # host (its reply lost with the connection)
    FaultCase('%s-copying' % RESTART_RABBITMQ, 'new', RESTART_RABBITMQ,
              T('cinder-status', ('migrating',))),
    FaultCase('%s-complete' % RESTART_RABBITMQ, 'new-write_blocking',
              RESTART_RABBITMQ, T('nova-step', ('complete:copy',))),
)


def select(prefixes: str | None) -> list[FaultCase]:
    """The cases whose names start with one of ``prefixes``.

    ``prefixes`` is comma-separated; None: every case. In registration
    order.
    """
    if not prefixes:
        return list(CASES)
    wanted = [p.strip() for p in prefixes.split(',') if p.strip()]
    return [c for c in CASES if any(c.name.startswith(p) for p in wanted)]


def names() -> list[str]:
    return [c.name for c in CASES]
