"""Set-up of one run: what every case stands on.

* the storage link: the array's network namespace and shaped veth, or
  the throttle-group fallback (:func:`set_up_link`);
* the pools of every backend, the XFS reflink one on a loop device
  (:func:`set_up_pools`);
* the libvirt event recorder and one ``nova-volmig-aio`` whose Cinder
  side has one backend per (link, array), each with two pools
  (:func:`start_deployment`).

Each step registers its undoing on the run's ``ExitStack``;
:class:`RunContext` is what the cases are then given.
"""

from __future__ import annotations

import contextlib
import math
import os

from volmig_bench import cleanup
from volmig_bench import deploy
from volmig_bench import display
from volmig_bench import events as events_mod
from volmig_bench import exception
from volmig_bench import link as link_mod
from volmig_bench import measure
from volmig_bench import plan as plan_mod
from volmig_bench import results
from volmig_bench import teardown
from volmig_bench import xfs_pool

POOLS = ('pool1', 'pool2')


def legacy_timeout(plan: plan_mod.BenchPlan) -> int:
    """Nova's block-job ready timeout for the run.

    Three times the link's time for the largest volume, at least two
    minutes, unless the plan sets it.
    """
    if plan.legacy_timeout_s:
        return plan.legacy_timeout_s
    seconds = max(plan.sizes) / plan.link.rate_bytes
    return max(120, int(math.ceil(3 * seconds)))


class RunContext:
    """What the cases of one run share."""

    def __init__(self, plan: plan_mod.BenchPlan, work_dir: str,
                 out_dir: str, reporter: display.Reporter,
                 cache_dir: str | None):
        self.plan = plan
        self.work_dir = work_dir
        self.out_dir = out_dir
        self.reporter = reporter
        self.cache_dir = cache_dir
        self.clock = measure.WallClock.now()
        self.link: link_mod.ShapedLink | None = None
        self.link_kind = 'local'
        self.pools: dict[str, dict[str, str]] = {}
        self.aio: deploy.AioDeployment | None = None
        self.recorder: events_mod.BlockJobRecorder | None = None
        #: domains the run created, destroyed at the end whatever happens
        self.domains: set[str] = set()

    @property
    def cloud(self) -> deploy.Cloud:
        return self.aio.cloud

    @property
    def aio_state(self) -> str:
        return os.path.join(self.work_dir, 'aio')

    def pool_path(self, backend: str, pool: str, name: str) -> str:
        return os.path.join(self.pools[backend][pool], name)

    def volume_file(self, volume: dict) -> str:
        """The file of ``volume`` (a Cinder volume) in its pool now."""
        return self.pool_path(*self.cloud.volume_location(volume))

    def other_pool(self, volume: dict) -> str:
        """The pool of its backend that ``volume`` is not in."""
        _, pool, _ = self.cloud.volume_location(volume)
        return POOLS[1 - POOLS.index(pool)]


def check_space(plan: plan_mod.BenchPlan, state_path: str) -> None:
    """Refuse a plan whose volumes, copies and pools would not fit."""
    need = int(max(plan.sizes) * plan.fraction * 4) + (2 << 30)
    stat = os.statvfs(state_path)
    free = stat.f_bavail * stat.f_frsize
    if free < need:
        raise exception.InvalidParameter(
            name='state path', value=state_path,
            reason='%s free, the plan needs about %s' % (
                results.format_size(free), results.format_size(need)))


def set_up_link(ctx: RunContext, stack: contextlib.ExitStack) -> None:
    """The NBD backends' link: namespace + shaped veth, else throttling."""
    plan = ctx.plan
    if plan.link_mode != 'throttle-group':
        ok, why = link_mod.namespaces_available()
        if ok:
            ctx.reporter.step('storage link: namespace + veth, %s'
                              % plan.link.describe())
            ctx.link = stack.enter_context(link_mod.shaped_link(plan.link))
            ctx.link_kind = 'netns-veth'
            return
        if plan.link_mode == 'netns':
            raise exception.NamespaceUnavailable(reason=why)
        ctx.reporter.note('network namespaces cannot be made here (%s): '
                          'the NBD exports are limited by a QEMU throttle '
                          'group instead, with no queue bound and no link '
                          'byte counters' % why)
    else:
        ctx.reporter.note('link mode throttle-group requested: NBD exports '
                          'limited by a QEMU throttle group, no link byte '
                          'counters')
    ctx.link_kind = 'throttle-group'


def set_up_pools(ctx: RunContext, stack: contextlib.ExitStack,
                 state_path: str) -> list[plan_mod.Backend]:
    """Two pool directories per backend; the backends that can run."""
    plan = ctx.plan
    backends = list(plan.backends)
    xfs = [b for b in backends if b.array == 'xfs-reflink']
    xfs_root = None
    if xfs:
        ok, why = xfs_pool.loop_available()
        if ok:
            size = int(2.5 * max(plan.sizes)) + (1 << 30)
            ctx.reporter.step('XFS reflink pool on a loop device')
            pool = stack.enter_context(xfs_pool.xfs_pool(
                os.path.join(state_path, 'bench'), size))
            xfs_root = pool.path
        else:
            ctx.reporter.note('XFS reflink pool skipped: loop devices '
                              'cannot be had here (%s)' % why)
            backends = [b for b in backends if b not in xfs]
    for backend in backends:
        root = (os.path.join(xfs_root, backend.name)
                if backend.array == 'xfs-reflink'
                else os.path.join(ctx.work_dir, 'pools', backend.name))
        ctx.pools[backend.name] = {}
        for pool in POOLS:
            path = os.path.join(root, pool)
            os.makedirs(path, exist_ok=True)
            ctx.pools[backend.name][pool] = path
    if not backends:
        raise exception.BenchError('no backend of the plan can run here')
    return backends


def nova_conf(plan: plan_mod.BenchPlan) -> dict:
    """The deployment's nova.conf values (flows change the mode later)."""
    return {'libvirt': {
        'block_job_ready_timeout': legacy_timeout(plan),
        'block_job_progress_window': plan.progress_window_s,
        'volume_migration_complete_mode': 'two_step'}}


def cinder_conf(ctx: RunContext, backends) -> dict:
    """One Cinder backend per (link, array), each with both pools."""
    names = ','.join(b.name for b in backends)
    conf = {'DEFAULT': {'enabled_backends': names}}
    for backend in backends:
        group = {'volume_backend_name': backend.name,
                 'pools': ','.join('%s:%s' % (p, ctx.pools[backend.name][p])
                                   for p in POOLS),
                 'export_protocol': backend.link}
        if backend.link == 'nbd':
            if ctx.link is not None:
                group.update(nbd_netns=ctx.link.namespace,
                             nbd_listen_address=ctx.link.array_address)
            else:
                group['nbd_throttle_bytes_sec'] = int(
                    ctx.plan.link.rate_bytes)
        conf[backend.name] = group
    return conf


def start_deployment(ctx: RunContext, stack: contextlib.ExitStack,
                     backends: list[plan_mod.Backend]) -> None:
    """The event recorder and the deployment, with a volume type each.

    Teardown, in the reverse order of registration: the deployment stops
    (it stops its NBD daemons), its log is kept, then any domain the run
    created and any daemon left behind go.
    """
    ctx.recorder = stack.enter_context(events_mod.BlockJobRecorder())
    stack.callback(teardown.stop_leftover_exports, ctx.aio_state)
    stack.callback(cleanup.destroy_leftover_domains, ctx.domains)
    ctx.reporter.step('starting nova-volmig-aio')
    ctx.aio = deploy.AioDeployment(ctx.aio_state, nova_conf(ctx.plan),
                                   cinder_conf(ctx, backends))
    stack.callback(teardown.save_aio_log, ctx.aio, ctx.out_dir)
    stack.callback(ctx.aio.stop)
    ctx.aio.start()
    for backend in backends:
        ctx.cloud.create_volume_type(backend.name, backend.name)
