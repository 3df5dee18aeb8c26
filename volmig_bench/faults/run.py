"""``volmig-bench --scenario faults``: every case ``repeat`` times.

One distributed deployment for the run (its own databases and vhost on
the host's PostgreSQL and RabbitMQ), the cases in turn, each on a fresh
volume and server; ``results.json`` (the rows) and ``report.rst`` (the
table) under ``<out>/faults-<UTC time>/``.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import time
import uuid

from volmig_bench import exception
from volmig_bench.faults import cases as cases_mod
from volmig_bench.faults import checks
from volmig_bench.faults import injector
from volmig_bench.faults import scenario
from volmig_bench.guest import protocol
from volmig_bench import plan as plan_mod
from volmig_bench import xfs_pool

COLUMNS = ('case', 'run', 'fired at', 'outcome', 'guest on', 'acked',
           'ok', 'newer', 'stale', 'missing', 'corrupt', 'src frozen',
           'leaks', 'verdict')


def run(selected: list[cases_mod.FaultCase], state_path: str, out_root: str,
        repeat: int = 1, size: int = 128 << 20, rate: int = 4 * 10 ** 6,
        seed: int = 1, cache_dir: str | None = None, say=print) -> dict:
    """Run ``selected`` ``repeat`` times each; the result (also written)."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime(
        '%Y%m%dT%H%M%SZ')
    out_dir = os.path.abspath(os.path.join(out_root, 'faults-%s' % stamp))
    os.makedirs(out_dir, exist_ok=True)
    root = os.path.join(os.path.abspath(state_path), 'bench',
                        'faults-%s-%d' % (stamp, os.getpid()))
    work_dir = os.path.join(root, 'work')
    os.makedirs(work_dir, mode=0o755)
    result = {'scenario': 'faults', 'started_at': stamp,
              'params': {'repeat': repeat, 'size': size, 'rate': rate,
                         'seed': seed,
                         'cases': [c.name for c in selected]},
              'rows': []}
    began = time.monotonic()
    try:
        with contextlib.ExitStack() as stack:
            small_pool = None
            if any(c.backend == cases_mod.SMALL_BACKEND for c in selected):
                say('a small XFS pool on a loop device (ENOSPC cases)')
                small_pool = stack.enter_context(xfs_pool.xfs_pool(
                    os.path.join(root, 'pools'), xfs_pool.MIN_SIZE)).path
            overlay_pool = None
            if any(c.full_overlay_dir or c.fault == cases_mod.FILL_OVERLAY_DIR
                   for c in selected):
                overlay_pool = stack.enter_context(xfs_pool.xfs_pool(
                    os.path.join(root, 'pools'), xfs_pool.MIN_SIZE)).path
            env = injector.FaultDeployment(
                os.path.join(root, 'deployment'),
                'vb_%s' % uuid.uuid4().hex[:10], small_pool=small_pool,
                overlay_pool=overlay_pool)
            _run_cases(env, selected, result, out_dir, root, work_dir,
                       repeat, size, rate, seed, cache_dir, say, began)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        result['leaks_at_end'] = checks.run_leaks(root, result['rows'])
        _write(result, out_dir)
    result['files'] = {'json': os.path.join(out_dir, 'results.json'),
                       'rst': os.path.join(out_dir, 'report.rst')}
    return result


def _run_cases(env, selected, result, out_dir, root, work_dir, repeat,
               size, rate, seed, cache_dir, say, began) -> None:
    try:
        say('starting the distributed deployment')
        env.start()
        for backend in sorted({c.backend for c in selected}):
            env.cloud.create_volume_type(backend, backend)
        n = 0
        for iteration in range(repeat):
            for case in selected:
                n += 1
                row = scenario.FaultCaseRun(
                    env, case, iteration, seed + n, work_dir, size, rate,
                    cache_dir, say=say).run()
                result['rows'].append(row)
                say(' | '.join(str(c) for c in table_row(row)))
                _write(result, out_dir)
    finally:
        result['elapsed_s'] = round(time.monotonic() - began, 1)
        for name in env.deployment.services:
            path = env.deployment.log_path(name)
            if os.path.exists(path):
                shutil.copy(path, os.path.join(out_dir, '%s.log' % name))
        try:
            env.stop()
        finally:
            for path in os.listdir(root):
                if path.endswith('-writer.log'):
                    shutil.copy(os.path.join(root, path), out_dir)
            _write(result, out_dir)


def _write(result: dict, out_dir: str) -> None:
    with open(os.path.join(out_dir, 'results.json'), 'w') as f:
        json.dump(result, f, indent=1, sort_keys=True)
    with open(os.path.join(out_dir, 'report.rst'), 'w') as f:
        f.write(render_rst(result))


def table_row(row: dict) -> list[str]:
    final = row.get('final') or {}
    after = row.get('after_migration') or {}
    start = row.get('src_at_start')
    if start is None:
        frozen = 'n/a'
    elif start.get('error'):
        frozen = 'ERROR'
    else:
        frozen = '%s%s' % (start.get('verdict'),
                           '' if start.get('unchanged', True)
                           else ', changed')
    leaked = row.get('leaks') or {}
    return [row['case'], str(row['iteration'] + 1),
            str(row.get('fired_at') or '-'),
            str(row.get('outcome') or row.get('error', '-'))[:60],
            str(after.get('on', '-')), str(final.get('acknowledged', '-'))] + [
        str(final.get(k, '-')) for k in ('ok', 'newer', 'stale', 'missing',
                                         'corrupt')] + [
        frozen, str(sum(len(v) for v in leaked.values())) if leaked else '-',
        'pass' if row.get('passed') else 'FAIL']


def render_rst(result: dict) -> str:
    """The table as an RST list-table (doc/source/benchmark.rst)."""
    lines = ['.. list-table:: Fault scenario %s (%d rows)' % (
        result['started_at'], len(result['rows'])),
        '   :header-rows: 1', '']
    for cells in [list(COLUMNS)] + [table_row(r) for r in result['rows']]:
        lines.append('   * - %s' % cells[0])
        lines.extend('     - %s' % c for c in cells[1:])
    if 'leaks_at_end' in result:
        lines += ['', 'Left on the host after the run (domains, processes, '
                  'loop devices): %s.' % describe_leaks(
                      result['leaks_at_end'])]
    return '\n'.join(lines) + '\n'


def render_table(result: dict):
    from rich.table import Table

    table = Table(title='volmig-bench faults %s' % result['started_at'])
    for column in COLUMNS:
        table.add_column(column)
    for row in result['rows']:
        table.add_row(*table_row(row))
    return table


def cmd_run(args, state_dir: str) -> None:
    """``volmig-bench run --scenario faults``: run, print, fail on a case."""
    from rich.console import Console

    selected = cases_mod.select(args.faults)
    if not selected:
        raise exception.InvalidParameter(name='--faults', value=args.faults,
                                         reason=', '.join(cases_mod.names()))
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 200))
    result = run(
        selected, state_dir, args.out, repeat=args.repeat,
        size=plan_mod.parse_volume_size(args.size or '128M'),
        rate=protocol.parse_rate(args.rate or '4M'), seed=args.seed,
        cache_dir=args.cache_dir,
        say=lambda text: console.print(text, markup=False, highlight=False))
    console.print(render_table(result))
    console.print('results: %s (%.0f s)' % (result['files']['json'],
                                            result['elapsed_s']),
                  markup=False, highlight=False)
    console.print('left on the host after the run: %s'
                  % describe_leaks(result.get('leaks_at_end')),
                  markup=False, highlight=False)
    failed = [r['case'] for r in result['rows'] if not r['passed']]
    if failed:
        raise exception.BenchError('fault cases failed: %s'
                                   % ', '.join(failed))
    if any((result.get('leaks_at_end') or {}).values()):
        raise exception.BenchError('the run left %s on the host'
                                   % describe_leaks(result['leaks_at_end']))
    return None


def describe_leaks(leaks: dict | None) -> str:
    """``nothing``, or what :func:`checks.run_leaks` found."""
    if leaks is None:
        return 'not checked'
    found = ['%s: %s' % (kind, ', '.join(items))
             for kind, items in sorted(leaks.items()) if items]
    return '; '.join(found) or 'nothing'
