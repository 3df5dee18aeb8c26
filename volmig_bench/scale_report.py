"""``--scenario scale``: its statistics, result document, table and plot.

The arithmetic and the presentation of :mod:`volmig_bench.scale` (which
runs the migrations), kept apart so they are tested without a cloud.

A result document (``schema: volmig-bench-scale/1``)::

    {
      "schema": "volmig-bench-scale/1",
      "started_at": "...Z", "elapsed_s": s,
      "host": {...}, "params": {...}, "notes": [...],
      "load": {RUN: {"loadavg_1m": {"min", "mean", "max"},
                     "cpu_busy": share of both cores busy}},
      "raw": {"bytes", "seconds", "bytes_per_s", "method", "volumes"},
      "runs": {RUN: {"total_s": s, "migrations": [MIGRATION, ...]}},
      "summary": {RUN: SUMMARY, "speedup": x, "throughput_ratio": x},
      "checks": [{"name", "ok", "detail"}],
      "files": {"json", "png"}
    }

RUN is ``concurrent`` (every migration requested at once) or
``sequential`` (the same volumes migrated back, one at a time). A
MIGRATION is one volume's: ``index``, ``volume_id``, ``server_id``,
``status`` (Cinder's ``migration_status``), ``verified`` (dst's sha256
equals base plus every acknowledged write), ``start_s`` and
``complete_s`` (Nova's start and complete as Cinder timed its calls: the
control-plane latency), ``copy_s``, ``total_s`` (request until Cinder
and Nova both finished) and the offsets from the run's first request
``t_request``, ``t_copy_started``, ``t_copy_finished``, ``t_done``;
``error`` if any; ``nova`` (optional): where Nova spent start and
complete (``scale_parts.nova_phases``).
SUMMARY: ``start`` and ``complete`` as ``{n, p50_s, p99_s, max_s}``,
``total_s`` (wall), ``migrations_sum_s`` (their own times added up),
``succeeded``, ``verified``, ``count``, ``copy_bytes`` and
``copy_bytes_per_s`` (bytes copied over the union of the copy windows);
``nova_phases`` (:func:`nova_phases`) when the migrations have ``nova``.
"""

from __future__ import annotations

import json
import math
import os

import jsonschema

from volmig_bench import results

SCHEMA_NAME = 'volmig-bench-scale/1'
RUNS = ('concurrent', 'sequential')
#: the issue's targets
LATENCY_P99_TARGET_S = 1.0
THROUGHPUT_RATIO_TARGET = 1.2

_NUM = {'type': ['number', 'null']}
_LAT = {'type': 'object', 'required': ['n', 'p50_s', 'p99_s', 'max_s'],
        'properties': {'n': {'type': 'integer'}, 'p50_s': _NUM,
                       'p99_s': _NUM, 'max_s': _NUM}}
_MIGRATION = {
    'type': 'object',
    'required': ['index', 'volume_id', 'status', 'verified', 'start_s',
                 'complete_s', 'copy_s', 'total_s', 't_request',
                 't_copy_started', 't_copy_finished', 't_done'],
    'properties': {'index': {'type': 'integer'},
                   'status': {'type': ['string', 'null']},
                   'verified': {'type': ['boolean', 'null']},
                   **{k: _NUM for k in (
                       'start_s', 'complete_s', 'copy_s', 'total_s',
                       't_request', 't_copy_started', 't_copy_finished',
                       't_done')}}}
_SUMMARY = {'type': 'object',
            'required': ['start', 'complete', 'total_s', 'succeeded',
                         'verified', 'count', 'copy_bytes_per_s'],
            'properties': {'start': _LAT, 'complete': _LAT,
                           'total_s': _NUM, 'copy_bytes_per_s': _NUM}}
SCHEMA = {
    'type': 'object',
    'required': ['schema', 'started_at', 'host', 'params', 'notes', 'load',
                 'raw', 'runs', 'summary', 'checks'],
    'properties': {
        'schema': {'const': SCHEMA_NAME},
        'notes': {'type': 'array', 'items': {'type': 'string'}},
        'runs': {'type': 'object', 'properties': {
            run: {'type': 'object', 'required': ['total_s', 'migrations'],
                  'properties': {'migrations': {'type': 'array',
                                                'items': _MIGRATION}}}
            for run in RUNS}, 'required': ['concurrent']},
        'summary': {'type': 'object', 'required': ['concurrent'],
                    'properties': {run: _SUMMARY for run in RUNS}},
        'checks': {'type': 'array', 'items': {
            'type': 'object', 'required': ['name', 'ok']}},
    },
}


def is_scale(result: dict) -> bool:
    return result.get('schema') == SCHEMA_NAME


def validate(result: dict) -> None:
    jsonschema.validate(result, SCHEMA)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (the value at rank ceil(p/100 * n)).

    Exact for the small samples here: p99 of 32 values is the largest,
    which is what a target on p99 should hold against.
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


def latency(values: list[float | None]) -> dict:
    """``{n, p50_s, p99_s, max_s}`` of the values that were measured."""
    seen = [v for v in values if v is not None]
    return {'n': len(seen),
            'p50_s': _round(percentile(seen, 50)),
            'p99_s': _round(percentile(seen, 99)),
            'max_s': _round(max(seen) if seen else None)}


def union_seconds(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of ``(start, end)`` intervals."""
    total, end = 0.0, None
    for lo, hi in sorted(i for i in intervals if i[1] >= i[0]):
        if end is None or lo > end:
            total += hi - lo
            end = hi
        elif hi > end:
            total += hi - end
            end = hi
    return total


def summarize_run(migrations: list[dict], total_s: float | None,
                  size: int) -> dict:
    """A run's SUMMARY (see the module docstring)."""
    windows = [(m['t_copy_started'], m['t_copy_finished'])
               for m in migrations
               if m['t_copy_started'] is not None
               and m['t_copy_finished'] is not None]
    busy = union_seconds(windows)
    copied = size * len(windows)
    extra = {}
    nova = nova_phases(migrations)
    if nova:
        extra['nova_phases'] = nova
    return {
        **extra,
        'count': len(migrations),
        'succeeded': sum(m['status'] == 'success' for m in migrations),
        'verified': sum(bool(m['verified']) for m in migrations),
        'start': latency([m['start_s'] for m in migrations]),
        'complete': latency([m['complete_s'] for m in migrations]),
        'total_s': _round(total_s),
        # the migrations' own time, without the gaps between them
        'migrations_sum_s': _round(sum(m['total_s'] or 0
                                       for m in migrations)),
        'copy_bytes': copied,
        'copy_busy_s': _round(busy),
        'copy_bytes_per_s': round(copied / busy) if busy > 0 else None,
    }


NOVA_PHASES = ('api_s', 'dispatch_s', 'compute_s', 'reply_s')


def nova_phases(migrations: list[dict]) -> dict:
    """``{step: {phase: {n, p50_s, p99_s, max_s}}}`` of MIGRATIONs' ``nova``.

    Empty when no migration has it (results written before it existed).
    """
    out = {}
    for step in ('start', 'complete'):
        seen = [m['nova'][step] for m in migrations
                if step in (m.get('nova') or {})]
        if seen:
            out[step] = {phase: latency([s.get(phase) for s in seen])
                         for phase in NOVA_PHASES}
    return out


def summarize(result: dict) -> None:
    """Fill ``summary`` and ``checks`` from ``runs`` and ``raw``."""
    size = result['params']['size']
    summary = {run: summarize_run(data['migrations'], data['total_s'],
                                  size)
               for run, data in result['runs'].items()}
    conc, seq = summary['concurrent'], summary.get('sequential')
    # One by one counts the migrations' own times only: the bench's
    # polling between them is not the cloud's.
    summary['speedup'] = _round(
        seq['migrations_sum_s'] / conc['total_s']
        if seq and seq['migrations_sum_s'] and conc['total_s'] else None)
    raw = result['raw'].get('bytes_per_s')
    summary['throughput_ratio'] = _round(
        raw / conc['copy_bytes_per_s']
        if raw and conc['copy_bytes_per_s'] else None)
    result['summary'] = summary
    result['checks'] = checks(summary, result['params'])


def checks(summary: dict, params: dict) -> list[dict]:
    """The issue's targets, each ``{name, ok, detail}``."""
    conc = summary['concurrent']
    out = [{'name': 'all %d migrations succeeded' % conc['count'],
            'ok': conc['succeeded'] == conc['count'],
            'detail': '%d succeeded' % conc['succeeded']},
           {'name': 'all verified by checksum',
            'ok': conc['verified'] == conc['count'],
            'detail': '%d verified' % conc['verified']}]
    for step in ('start', 'complete'):
        p99 = conc[step]['p99_s']
        out.append({'name': '%s p99 under %g s' % (
            step, LATENCY_P99_TARGET_S),
            'ok': p99 is not None and p99 < LATENCY_P99_TARGET_S,
            'detail': 'p99 %s s' % p99, 'fatal': False})
    ratio = summary.get('throughput_ratio')
    out.append({'name': 'copy throughput within %gx of the raw limit'
                        % THROUGHPUT_RATIO_TARGET,
                'ok': ratio is not None and ratio <= THROUGHPUT_RATIO_TARGET,
                'detail': 'raw / achieved = %s; queue cap: %s' % (
                    ratio, params.get('queue_cap') or 'none'),
                'fatal': False})
    return out


def _round(v: float | None, digits: int = 3) -> float | None:
    return None if v is None else round(v, digits)


def _s(v) -> str:
    return '-' if v is None else '%.3f' % v


def _mbs(v) -> str:
    return '-' if v is None else '%.0f' % (v / 1e6)


HEADERS = ('run', 'migrations', 'ok / verified', 'start p50 / p99 s',
           'complete p50 / p99 s', 'total s', 'copy MB/s',
           'host load 1m, cpu busy')


def table_rows(result: dict) -> list[list[str]]:
    rows = []
    for run in RUNS:
        s = result['summary'].get(run)
        if s is None:
            continue
        load = result['load'].get(run, {})
        avg = load.get('loadavg_1m', {})
        rows.append([
            run, str(s['count']), '%d / %d' % (s['succeeded'],
                                               s['verified']),
            '%s / %s' % (_s(s['start']['p50_s']), _s(s['start']['p99_s'])),
            '%s / %s' % (_s(s['complete']['p50_s']),
                         _s(s['complete']['p99_s'])),
            _s(s['total_s']), _mbs(s['copy_bytes_per_s']),
            '%.1f-%.1f, cpu %s' % (
                avg.get('min', 0), avg.get('max', 0),
                '-' if load.get('cpu_busy') is None
                else '%.0f%%' % (100 * load['cpu_busy']))])
    raw = result['raw']
    rows.append(['raw copy (%s)' % raw.get('method'), str(raw.get('volumes')),
                 '-', '-', '-', _s(raw.get('seconds')),
                 _mbs(raw.get('bytes_per_s')), '-'])
    return rows


def summary_lines(result: dict) -> list[str]:
    s = result['summary']
    seq = s.get('sequential', {})
    lines = ['%d concurrent migrations of %s volumes: %s s; one by one: '
             '%s s of migrations (%s s wall, with the bench polling '
             'between them); at once is %sx faster' % (
                 s['concurrent']['count'],
                 results.format_size(result['params']['size']),
                 _s(s['concurrent']['total_s']),
                 _s(seq.get('migrations_sum_s')), _s(seq.get('total_s')),
                 s.get('speedup')),
             'copy throughput: raw / achieved = %s' % s.get(
                 'throughput_ratio')]
    for step, phases in s['concurrent'].get('nova_phases', {}).items():
        lines.append('concurrent %s in Nova, p50 / p99 s: %s' % (
            step, ', '.join('%s %s / %s' % (
                name[:-2], _s(phases[name]['p50_s']),
                _s(phases[name]['p99_s'])) for name in NOVA_PHASES)))
    for check in result['checks']:
        lines.append('[%s] %s (%s)' % (
            'ok' if check['ok'] else (
                'short' if check.get('fatal') is False else 'FAIL'),
            check['name'], check.get('detail')))
    return lines


def render_table(result: dict):
    from rich.table import Table

    table = Table(title='volmig-bench scale %s' % result['started_at'])
    for header in HEADERS:
        table.add_column(header)
    for row in table_rows(result):
        table.add_row(*row)
    return table


def render_rst(result: dict) -> str:
    """A list-table for the docs, then the summary lines."""
    out = ['.. list-table::', '   :header-rows: 1', '']
    for i, row in enumerate([list(HEADERS)] + table_rows(result)):
        for j, cell in enumerate(row):
            out.append('   %s - %s' % ('*' if j == 0 else ' ', cell))
    out.append('')
    out.extend('| %s' % line for line in summary_lines(result))
    return '\n'.join(out) + '\n'


def write_plot(result: dict, path: str) -> str:
    """Timeline of the concurrent run, and latencies of both runs."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot as plt

    fig, (gantt, lat) = plt.subplots(1, 2, figsize=(13, 6),
                                     gridspec_kw={'width_ratios': [3, 2]})
    for m in result['runs']['concurrent']['migrations']:
        y = m['index']
        spans = [(m['t_request'], m['t_copy_started'], 'tab:gray'),
                 (m['t_copy_started'], m['t_copy_finished'], 'tab:blue'),
                 (m['t_copy_finished'], m['t_done'], 'tab:orange')]
        for lo, hi, color in spans:
            if lo is not None and hi is not None:
                gantt.barh(y, hi - lo, left=lo, color=color, height=0.8)
        if m['status'] != 'success':
            gantt.plot([m['t_done'] or 0], [y], 'rx')
    gantt.set_xlabel('s since the first request')
    gantt.set_ylabel('migration')
    gantt.yaxis.get_major_locator().set_params(integer=True)
    gantt.set_title('concurrent: gray request..copy, blue copy, '
                    'orange complete..done', fontsize=9)
    names, values = [], []
    for run in RUNS:
        s = result['summary'].get(run)
        if s is None:
            continue
        for step in ('start', 'complete'):
            for p in ('p50_s', 'p99_s'):
                names.append('%s %s %s' % (run[:4], step[:5], p[:3]))
                values.append(s[step][p] or 0)
    lat.bar(range(len(values)), values,
            color=['tab:blue', 'tab:cyan', 'tab:orange', 'tab:red'] * 2)
    lat.axhline(LATENCY_P99_TARGET_S, color='k', linestyle='--',
                linewidth=0.8)
    lat.set_xticks(range(len(names)), names, fontsize=8, rotation=40,
                   ha='right')
    lat.set_ylabel('Nova call, s (dashed: p99 target)')
    s = result['summary']
    lat.set_title('total %s s at once vs %s s one by one'
                  % (_s(s['concurrent']['total_s']),
                     _s(s.get('sequential', {}).get('total_s'))),
                  fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_json(result: dict, path: str) -> str:
    """Validate, then write ``path`` atomically (a temporary + rename)."""
    validate(result)
    return results.dump_json(result, path)


def load_json(path: str) -> dict:
    """A result file, its summary and checks recomputed from its runs.

    ``summary`` and ``checks`` are derived from ``runs``, ``raw`` and
    ``params`` only, so the arithmetic of today's code applies to files
    written before it changed.
    """
    with open(path) as f:
        result = json.load(f)
    validate(result)
    summarize(result)
    return result


def write_run(result: dict, out_dir: str) -> dict:
    """``results.json`` (schema-checked) and ``results.png``."""
    result['files'] = {'json': os.path.join(out_dir, 'results.json'),
                       'png': os.path.join(out_dir, 'results.png')}
    write_plot(result, result['files']['png'])
    write_json(result, result['files']['json'])
    return result['files']
