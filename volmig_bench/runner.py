"""One benchmark run, end to end: what ``volmig-bench`` does by default.

The run, in the layers it is made of:

1. Set up (:mod:`volmig_bench.environment`): the array's network
   namespace and shaped link (or the throttle-group fallback), the XFS
   reflink pool, a libvirt event recorder, and one ``nova-volmig-aio``
   deployment whose Cinder side has one backend per (link, array) of the
   plan, each with two pools.
2. Per case (backend x size x write rate, :class:`volmig_bench.case.CaseRun`):
   a volume filled with data and holes, a real guest booted through Nova
   from the writer image, the volume attached; the flows
   (:mod:`volmig_bench.flows`) take turns migrating it while the guest
   writes; the final volume is checked by checksum
   (:mod:`volmig_bench.checks`) and each migration measured into a row
   (:mod:`volmig_bench.measure`).
3. Tear down everything, also on failure, Ctrl-C or SIGTERM
   (:mod:`volmig_bench.teardown`); write ``results.json`` (schema-checked,
   :mod:`volmig_bench.results`) and ``results.png``
   (:mod:`volmig_bench.plot`) under ``bench-results/<UTC time>/``; the
   progress and the table on the way (:mod:`volmig_bench.display`,
   :mod:`volmig_bench.report`).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import time

from volmig_bench import case as case_mod
from volmig_bench import checks
from volmig_bench import cleanup
from volmig_bench import display
from volmig_bench import environment
from volmig_bench import exception
from volmig_bench import host
from volmig_bench import measure
from volmig_bench import plan as plan_mod
from volmig_bench import report
from volmig_bench import results


def run(plan: plan_mod.BenchPlan, state_path: str,
        out_root: str = 'bench-results', cache_dir: str | None = None,
        console=None) -> dict:
    """Run the plan; returns the result (also written under out_root).

    A failed case or migration is recorded, not raised: call
    :func:`volmig_bench.checks.verdict` on the result to fail on it.
    """
    host.require('qemu-img', 'qemu-storage-daemon', 'ip', 'tc')
    state_path = os.path.abspath(state_path)
    os.makedirs(state_path, exist_ok=True)
    environment.check_space(plan, state_path)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime(
        '%Y%m%dT%H%M%SZ')
    out_dir = os.path.abspath(os.path.join(out_root, stamp))
    os.makedirs(out_dir, exist_ok=True)
    result = results.new_result(plan.describe(),
                                host=host.host_facts(state_path))
    result['runs'] = []
    cases = plan.cases()
    started = time.monotonic()
    with display.Reporter(result, len(cases) * plan.migrations_per_case,
                          console) as reporter, cleanup.signals_raise():
        work_dir = os.path.join(state_path, 'bench', 'run-%s-%d'
                                % (stamp, os.getpid()))
        ctx = environment.RunContext(plan, work_dir, out_dir, reporter,
                                     cache_dir)
        try:
            with contextlib.ExitStack() as stack:
                backends = _set_up(ctx, stack, state_path, result)
                result['timeseries'] = {}
                for case in cases:
                    if case.backend in backends:
                        _run_case(ctx, case, result)
                reporter.step('tearing down')
        finally:
            result['elapsed_s'] = round(time.monotonic() - started, 1)
            result['summary'] = measure.summarize(result['rows'])
            result['checks'] = checks.run_checks(result)
            report.write_run(result, out_dir, out_root)
    return result


def _set_up(ctx: environment.RunContext, stack: contextlib.ExitStack,
            state_path: str, result: dict) -> list[plan_mod.Backend]:
    """Everything the cases stand on; the backends that can run here."""
    plan = ctx.plan
    os.makedirs(ctx.work_dir, mode=0o755)
    stack.callback(shutil.rmtree, ctx.work_dir, True)
    if any(b.link == 'nbd' for b in plan.backends):
        environment.set_up_link(ctx, stack)
    backends = environment.set_up_pools(ctx, stack, state_path)
    result['params']['backends_run'] = [str(b) for b in backends]
    result['params']['link']['kind'] = ctx.link_kind
    result['params']['legacy_timeout_s'] = environment.legacy_timeout(plan)
    environment.start_deployment(ctx, stack, backends)
    return backends


def _run_case(ctx: environment.RunContext, case: plan_mod.Case,
              result: dict) -> None:
    """One case; its rows, run record and latency series into ``result``.

    A case that fails is recorded (its ``error``) and the run goes on.
    """
    case_run = case_mod.CaseRun(ctx, case)
    try:
        rows = case_run.run()
    except exception.BenchError as exc:
        ctx.reporter.note('case %s failed: %s' % (case.label, exc))
        case_run.info['error'] = str(exc)
        rows = []
    result['runs'].append(case_run.info)
    for row in rows:
        ctx.reporter.add_row(row)
    if case_run.series:
        key = '%s-%s-%gm' % (
            results.format_size(case.size).replace(' ', ''),
            case.backend.name, case.rate / 1e6)
        result['timeseries'][key] = case_run.series
