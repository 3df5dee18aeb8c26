"""The bench's result structure, its table, JSON and plot.

A result document (``schema: volmig-bench/1``)::

    {
      "schema": "volmig-bench/1",
      "started_at": "2026-11-21T23:00:00Z",     ISO 8601, UTC
      "host": {...},                             free-form: qemu, kernel...
      "params": {...},                           free-form: writer, link...
      "notes": ["...", ...],                     fallbacks taken, warnings
      "rows": [ROW, ...],
      "timeseries": {ROW_ID: {"t_s": [...], "p50_ms": [...],
                              "p99_ms": [...], "max_ms": [...],
                              "events": [{"t_s": .., "name": ..}]}}
    }

Each ROW is one migration (flow x link x array x size x iteration):

=========================  =============================================
``id``                     unique, e.g. ``1g-nbd-xfs-new-0``
``flow``                   ``new`` (start, native copy, complete; two-step
                           complete), ``new-write_blocking`` (the
                           single-step complete mode) or ``legacy`` (swap)
``link``                   ``file`` | ``nbd``
``link_kind``              ``local`` | ``netns-veth`` | ``throttle-group``
``array``                  ``cfr`` (copy_file_range pool on the state
                           path) | ``xfs-reflink`` (FICLONE pool)
``size``                   volume size, bytes
``iteration``              0, 1, ... (flows alternate within a run)
``total_s``                wall time of the whole migration
``cinder_complete_wait_s`` time Cinder waited in complete until src was
                           releasable (null for legacy)
``write_block_s``          ``{"start": s|null, "pivots": [s, ...]}``:
                           longest guest write at start and each pivot
``bytes_through_compute``  bytes that crossed the compute host (link
                           counters; null for ``file``)
``guest_latency``          ``{"before": SUMMARY, "during": SUMMARY}``,
                           SUMMARY = ``{count, p50_ms, p99_ms, max_ms}``
``legacy_converged``       legacy only: whether the mirror caught up and
                           the guest switched to dst (pivot done)
``converge_s``             legacy only: time until it did (swap call to
                           the pivot's completed event)
``raw_copy_s``             the array's own copy of the same bytes,
                           measured in the same run (the physical limit)
``copy_phase_s``           the new flow's copy phase (start to complete)
``copy_ratio``             copy_phase_s / raw_copy_s
``checksum_ok``            the final image matched the expected sha256
``error``                  message, or null
=========================  =============================================

Optional fields the full run adds (absent or null otherwise):

=========================  =============================================
``status``                 ``success`` | ``error`` (Cinder's verdict)
``rate``                   the guest's target write rate, bytes/s
``cinder_done_s``          migrate call until Cinder's record said
                           success (src deleted, dst under src's id)
``nova_finish_s``          new flows: complete returned until Nova's
                           asynchronous finish (two-step commit) ended;
                           ``total_s`` includes it
``complete_mode``          Nova's ``volume_migration_complete_mode``
``copy_method``            how Cinder copied: ``reflink``,
                           ``copy_file_range``, ``read_write``
``bytes_source``           ``link counters`` (nbd) or ``qemu process io``
                           (file: the hypervisor's own disk reads and
                           writes, nothing crosses a network)
``guest_bytes_during``     bytes the guest issued during the migration
                           (they cross the link too)
``ready_s``                legacy: swap call until the mirror's first
                           ``ready`` (the pivot may wait long after it)
``phases_s``               Cinder's phase timestamps (Nova calls, copy)
                           as seconds since the migrate call
``raw_copy_method``        how the array's raw copy went (``reflink``,
                           ``copy_file_range``), measured just before
                           the migration
``bytes_to_array``,        nbd: the two directions of
``bytes_from_array``       ``bytes_through_compute`` (pushes, pulls)
=========================  =============================================

A result may also carry ``runs`` (one entry per guest run: fill, raw
copy, boot, writes, checksums), ``summary`` (means per configuration and
the legacy / new ratios), ``checks`` (the run's verdicts) and
``elapsed_s``.

Use :func:`validate` before writing; a row with ``checksum_ok`` false makes
:func:`assert_integrity` raise.
"""

from __future__ import annotations

import datetime
import json
import os

import jsonschema

from volmig_bench import exception

SCHEMA_ID = 'volmig-bench/1'
_NUM = {'type': ['number', 'null']}
_SUMMARY = {
    'type': 'object',
    'required': ['count', 'p50_ms', 'p99_ms', 'max_ms'],
    'properties': {'count': {'type': 'integer', 'minimum': 0},
                   'p50_ms': _NUM, 'p99_ms': _NUM, 'max_ms': _NUM},
}
ROW_SCHEMA = {
    'type': 'object',
    'required': ['id', 'flow', 'link', 'link_kind', 'array', 'size',
                 'iteration', 'total_s', 'cinder_complete_wait_s',
                 'write_block_s', 'bytes_through_compute',
                 'guest_latency', 'legacy_converged', 'converge_s',
                 'raw_copy_s', 'copy_phase_s', 'copy_ratio',
                 'checksum_ok', 'error'],
    'properties': {
        'id': {'type': 'string'},
        'flow': {'enum': ['new', 'new-write_blocking', 'legacy']},
        'link': {'enum': ['file', 'nbd']},
        'link_kind': {'enum': ['local', 'netns-veth', 'throttle-group']},
        'array': {'enum': ['cfr', 'xfs-reflink']},
        'size': {'type': 'integer', 'minimum': 1},
        'iteration': {'type': 'integer', 'minimum': 0},
        'total_s': _NUM,
        'cinder_complete_wait_s': _NUM,
        'write_block_s': {
            'type': 'object', 'required': ['start', 'pivots'],
            'properties': {'start': _NUM,
                           'pivots': {'type': 'array', 'items': _NUM}}},
        'bytes_through_compute': {'type': ['integer', 'null'],
                                  'minimum': 0},
        'guest_latency': {
            'type': 'object', 'required': ['before', 'during'],
            'properties': {'before': _SUMMARY, 'during': _SUMMARY}},
        'legacy_converged': {'type': ['boolean', 'null']},
        'converge_s': _NUM,
        'raw_copy_s': _NUM,
        'copy_phase_s': _NUM,
        'copy_ratio': _NUM,
        'checksum_ok': {'type': 'boolean'},
        'error': {'type': ['string', 'null']},
        'status': {'enum': ['success', 'error', None]},
        'rate': {'type': ['integer', 'null'], 'minimum': 0},
        'cinder_done_s': _NUM,
        'nova_finish_s': _NUM,
        'complete_mode': {'type': ['string', 'null']},
        'copy_method': {'type': ['string', 'null']},
        'bytes_source': {'enum': ['link counters', 'qemu process io',
                                  None]},
        'guest_bytes_during': {'type': ['integer', 'null'], 'minimum': 0},
        'bytes_to_array': {'type': ['integer', 'null'], 'minimum': 0},
        'bytes_from_array': {'type': ['integer', 'null'], 'minimum': 0},
        'raw_copy_method': {'type': ['string', 'null']},
        'ready_s': _NUM,
        'phases_s': {'type': 'object',
                     'additionalProperties': {'type': 'number'}},
    },
}
RESULT_SCHEMA = {
    'type': 'object',
    'required': ['schema', 'started_at', 'params', 'notes', 'rows'],
    'properties': {
        'schema': {'const': SCHEMA_ID},
        'started_at': {'type': 'string'},
        'host': {'type': 'object'},
        'params': {'type': 'object'},
        'notes': {'type': 'array', 'items': {'type': 'string'}},
        'rows': {'type': 'array', 'items': ROW_SCHEMA},
        'timeseries': {'type': 'object'},
        'runs': {'type': 'array', 'items': {'type': 'object'}},
        'summary': {'type': 'array', 'items': {'type': 'object'}},
        'checks': {'type': 'array', 'items': {
            'type': 'object', 'required': ['name', 'ok'],
            'properties': {'name': {'type': 'string'},
                           'ok': {'type': 'boolean'}}}},
    },
}


def new_result(params: dict, host: dict | None = None) -> dict:
    return {'schema': SCHEMA_ID,
            'started_at': datetime.datetime.now(datetime.timezone.utc)
            .strftime('%Y-%m-%dT%H:%M:%SZ'),
            'host': host or {}, 'params': params, 'notes': [], 'rows': [],
            'timeseries': {}}


def new_row(flow: str, link: str, link_kind: str, array: str, size: int,
            iteration: int = 0, **values) -> dict:
    """A row with every field present (unknowns null), then ``values``."""
    empty = {'count': 0, 'p50_ms': None, 'p99_ms': None, 'max_ms': None}
    row = {
        'id': '%s-%s-%s-%s-%d' % (format_size(size).replace(' ', '')
                                  .lower(), link, array, flow, iteration),
        'flow': flow, 'link': link, 'link_kind': link_kind, 'array': array,
        'size': size, 'iteration': iteration, 'total_s': None,
        'cinder_complete_wait_s': None,
        'write_block_s': {'start': None, 'pivots': []},
        'bytes_through_compute': None,
        'guest_latency': {'before': dict(empty), 'during': dict(empty)},
        'legacy_converged': None, 'converge_s': None, 'raw_copy_s': None,
        'copy_phase_s': None, 'copy_ratio': None, 'checksum_ok': False,
        'error': None, 'status': None, 'rate': None, 'cinder_done_s': None,
        'nova_finish_s': None, 'complete_mode': None, 'copy_method': None,
        'bytes_source': None, 'guest_bytes_during': None,
        'bytes_to_array': None, 'bytes_from_array': None,
        'raw_copy_method': None, 'phases_s': {}, 'ready_s': None,
    }
    row.update(values)
    if row['copy_ratio'] is None and row['copy_phase_s'] is not None \
            and row['raw_copy_s']:
        row['copy_ratio'] = round(row['copy_phase_s'] / row['raw_copy_s'],
                                  3)
    return row


def validate(result: dict) -> None:
    try:
        jsonschema.validate(result, RESULT_SCHEMA)
    except jsonschema.ValidationError as exc:
        raise exception.InvalidParameter(
            name='bench result', value='/'.join(map(str, exc.path)),
            reason=exc.message)


def assert_integrity(result: dict) -> None:
    """Raise when any row's final image did not match its checksum."""
    bad = [r['id'] for r in result['rows'] if not r['checksum_ok']]
    if bad:
        raise exception.ChecksumMismatch(
            what=', '.join(bad), expected='(see JSON)', actual='mismatch')


# formatting


def format_size(n: int | None) -> str:
    if n is None:
        return '-'
    for unit, div in (('GiB', 1 << 30), ('MiB', 1 << 20), ('KiB', 1 << 10)):
        if n >= div:
            value = n / div
            return ('%d %s' % (value, unit) if value == int(value)
                    else '%.1f %s' % (value, unit))
    return '%d B' % n


def _s(v, digits=2) -> str:
    return '-' if v is None else '%.*f' % (digits, v)


def _ms(v) -> str:
    return '-' if v is None else '%.0f' % (v * 1000)


def _mb(v) -> str:
    return '-' if v is None else '%.1f' % (v / 1e6)


def _lat(summary: dict) -> str:
    if not summary or not summary.get('count'):
        return '-'
    return '%.1f / %.1f' % (summary['p50_ms'], summary['p99_ms'])


COLUMNS = ('size', 'link', 'array', 'flow', 'total s',
           'wait in complete s', 'async finish s', 'copy / raw copy s',
           'writes blocked ms: start / pivots', 'MB via compute',
           'p50/p99 ms before', 'p50/p99 ms during', 'legacy converged',
           'checksum')
CAPTION = ('total: migrate call until the migration fully ended; '
           'wait in complete: Cinder\'s wait until src was releasable; '
           'copy: Cinder\'s copy phase vs the array\'s raw copy of the '
           'same bytes; MB via compute: storage-link counters (nbd) or, '
           'marked *, the hypervisor\'s own disk I/O (file: local, no '
           'network)')


def _copy_cells(row: dict) -> str:
    if row['copy_phase_s'] is None:
        return '-'
    text = '%s / %s' % (_s(row['copy_phase_s']), _s(row['raw_copy_s']))
    if row['copy_ratio'] is not None:
        text += ' (%.1fx)' % row['copy_ratio']
    return text


def row_cells(row: dict) -> list[str]:
    block = row['write_block_s']
    converged = '-'
    if row['legacy_converged'] is not None:
        converged = ('yes %ss' % _s(row['converge_s'], 1)
                     if row['legacy_converged'] else 'NO')
    link = row['link'] if row['link_kind'] != 'throttle-group' \
        else row['link'] + ' (throttle)'
    through = _mb(row['bytes_through_compute'])
    if row.get('bytes_source') == 'qemu process io':
        through += '*'
    if row.get('status') == 'error' and row['flow'] != 'legacy':
        converged = 'FAILED'
    return [format_size(row['size']), link, row['array'], row['flow'],
            _s(row['total_s']), _s(row['cinder_complete_wait_s']),
            _s(row.get('nova_finish_s')), _copy_cells(row),
            '%s / %s' % (_ms(block['start']),
                         ', '.join(_ms(p) for p in block['pivots']) or '-'),
            through,
            _lat(row['guest_latency']['before']),
            _lat(row['guest_latency']['during']), converged,
            ('ok' if row['checksum_ok'] else
             'MISMATCH' if row['error'] is None else 'error')]


def render_table(result: dict, title: str = 'volmig-bench'):
    """A rich Table of the result's rows."""
    from rich.table import Table

    table = Table(title=title, caption=CAPTION, show_lines=False)
    for name in COLUMNS:
        table.add_column(name, justify='left' if name in (
            'size', 'link', 'array', 'flow') else 'right')
    for row in result['rows']:
        cells = row_cells(row)
        style = None
        if not row['checksum_ok']:
            style = 'bold red'
        elif row['flow'] == 'legacy':
            style = 'dim' if row['legacy_converged'] else 'yellow'
        table.add_row(*cells, style=style)
    return table


def render_rst(result: dict, title: str = 'volmig-bench') -> str:
    """The table as a reStructuredText ``list-table`` (for the docs)."""
    lines = ['.. list-table:: %s' % title, '   :header-rows: 1', '']

    def escape(cell: str) -> str:
        # A cell starting with "-" would be a nested bullet list.
        cell = cell.replace('*', '\\*') or '-'
        return '\\' + cell if cell.startswith('-') else cell

    for cells in [list(COLUMNS)] + [row_cells(r) for r in result['rows']]:
        lines.append('   * - %s' % escape(cells[0]))
        lines.extend('     - %s' % escape(c) for c in cells[1:])
    return '\n'.join(lines) + '\n'


def render_summary(result: dict) -> list[str]:
    """One line per configuration: new flows against legacy, and checks."""
    lines = []
    for entry in result.get('summary', []):
        if entry['flow'] == 'legacy':
            continue
        where = '%s %s %s, %s MB/s writes' % (
            format_size(entry['size']), entry['link'], entry['array'],
            '%g' % ((entry.get('rate') or 0) / 1e6))
        parts = ['%s %s s' % (entry['flow'], _s(entry['total_s']))]
        ratio = entry.get('time_ratio')
        if ratio and ratio >= 1:
            parts.append('%.1fx faster than legacy' % ratio)
        elif ratio:
            parts.append('%.1fx slower than legacy' % (1 / ratio))
        elif entry.get('legacy_did_not_finish'):
            parts.append('legacy did not finish')
        if entry.get('bytes_ratio'):
            parts.append('%.1fx fewer bytes via compute'
                         % entry['bytes_ratio'])
        if entry.get('complete_wait_s') is not None:
            parts.append('Cinder waits %.2f s in complete'
                         % entry['complete_wait_s'])
        lines.append('%s: %s' % (where, ', '.join(parts)))
    for check in result.get('checks', []):
        lines.append('[%s] %s%s' % (
            'ok' if check['ok'] else ('FAIL' if check.get('fatal')
                                      else 'short'),
            check['name'],
            ' (%s)' % check['detail'] if check.get('detail') else ''))
    return lines


class LiveReport:
    """The table with a progress line, redrawn while the bench runs."""

    def __init__(self, result: dict, total_steps: int, console=None):
        from rich.console import Console
        from rich.progress import BarColumn
        from rich.progress import Progress
        from rich.progress import TextColumn
        from rich.progress import TimeElapsedColumn

        self.result = result
        self.console = console or Console()
        self.progress = Progress(TextColumn('{task.description}'),
                                 BarColumn(), TextColumn(
                                     '{task.completed}/{task.total}'),
                                 TimeElapsedColumn(),
                                 console=self.console)
        self.task = self.progress.add_task('starting', total=total_steps)
        self._live = None

    def _render(self):
        from rich.console import Group

        return Group(render_table(self.result), self.progress)

    def __enter__(self) -> 'LiveReport':
        from rich.live import Live

        self._live = Live(self._render(), console=self.console,
                          refresh_per_second=4, transient=False)
        self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._live.update(self._render())
        self._live.__exit__(*exc)

    def step(self, description: str, advance: int = 0) -> None:
        self.progress.update(self.task, description=description,
                             advance=advance)
        if self._live:
            self._live.update(self._render())

    def add_row(self, row: dict) -> None:
        self.result['rows'].append(row)
        self.step(self.progress.tasks[0].description, advance=1)


# files


def write_json(result: dict, path: str) -> str:
    validate(result)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write('\n')
    os.replace(tmp, path)
    return path


def load_json(path: str) -> dict:
    with open(path) as f:
        result = json.load(f)
    validate(result)
    return result


def _log_if_wide(ax, values) -> None:
    positive = [v for v in values if v > 0]
    if positive and max(positive) > 30 * min(positive):
        ax.set_yscale('log')


FLOW_COLORS = {'new': 'tab:blue', 'new-write_blocking': 'tab:cyan',
               'legacy': 'tab:gray'}


def _sweep_axis(rows: list[dict]) -> str | None:
    if len({r['size'] for r in rows}) > 1:
        return 'size'
    if len({r.get('rate') for r in rows}) > 1:
        return 'rate'
    return None


def _plot_sweep(ax, rows: list[dict], axis: str) -> None:
    import numpy as np

    lines: dict[tuple, dict] = {}
    for r in rows:
        if r['total_s'] is None or r.get('status') == 'error':
            continue
        key = (r['link'], r['array'], r['flow'])
        if axis == 'size':
            x = r['size'] / 2 ** 30
        else:
            x = (r.get('rate') or 0) / 1e6
        lines.setdefault(key, {}).setdefault(x, []).append(r['total_s'])
    for (link, array, flow), points in sorted(lines.items()):
        xs = sorted(points)
        ax.plot(xs, [float(np.mean(points[x])) for x in xs], marker='o',
                color=FLOW_COLORS.get(flow),
                linestyle='-' if link == 'nbd' else '--',
                label='%s %s %s' % (link, array, flow))
    ax.set_xlabel('volume size, GiB' if axis == 'size'
                  else 'guest write rate, MB/s')
    ax.set_ylabel('total seconds')
    ax.set_title('How each flow grows with %s' % axis)
    ax.legend(fontsize=7, ncol=2)


def _plot_series(ax, name: str, series: dict) -> None:
    ax.plot(series['t_s'], series['p99_ms'], color='tab:red', linewidth=1,
            label='p99')
    ax.plot(series['t_s'], series['p50_ms'], color='tab:green',
            linewidth=1, label='p50')
    starts = {}
    for ev in series.get('events', []):
        flow, _, what = ev['name'].rpartition(' ')
        if what == 'start':
            starts[flow] = ev['t_s']
        elif what == 'end' and flow in starts:
            ax.axvspan(starts.pop(flow), ev['t_s'], alpha=0.25,
                       color=FLOW_COLORS.get(flow, 'tab:orange'),
                       label=flow)
    ax.set_yscale('log')
    ax.set_ylabel('write latency, ms')
    ax.set_title('Guest writes, %s (shaded: migrations)' % name,
                 fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=7, ncol=5)


def write_plot(result: dict, path: str) -> str:
    """A PNG: time and bytes per migration, the sweep, latency over time."""
    import matplotlib

    matplotlib.use('Agg')
    from matplotlib import pyplot as plt

    rows = result['rows']
    series = list((result.get('timeseries') or {}).items())[:6]
    sweep = _sweep_axis(rows)
    panels = 2 + (1 if sweep else 0) + len(series)
    fig, axes = plt.subplots(panels, 1, figsize=(12, 3.6 * panels),
                             constrained_layout=True, squeeze=False)
    axes = list(axes[:, 0])
    rates = len({r.get('rate') for r in rows}) > 1
    labels = ['%s%s\n%s %s\n%s' % (
        format_size(r['size']),
        ' %g MB/s' % ((r.get('rate') or 0) / 1e6) if rates else '',
        r['link'], r['array'], r['flow']) for r in rows]
    colors = [FLOW_COLORS.get(r['flow'], 'tab:blue') for r in rows]
    x = range(len(rows))

    ax = axes.pop(0)
    total = [r['total_s'] or 0 for r in rows]
    ax.bar(x, total, color=colors, label='total')
    wait = [r['cinder_complete_wait_s'] or 0 for r in rows]
    ax.bar(x, wait, color='tab:orange', width=0.4,
           label='Cinder waits in complete')
    raw = [r['raw_copy_s'] for r in rows]
    ax.scatter([i for i, v in zip(x, raw) if v is not None],
               [v for v in raw if v is not None], marker='_', s=400,
               color='black', label='array raw copy (limit)', zorder=3)
    for i, r in enumerate(rows):
        if r['flow'] == 'legacy' and r['legacy_converged'] is False:
            ax.annotate('did not converge', (i, total[i]), ha='center',
                        va='bottom', fontsize=8, color='tab:red')
        if not r['checksum_ok']:
            ax.annotate('CHECKSUM', (i, 0), ha='center', va='bottom',
                        fontsize=8, color='tab:red', rotation=90)
    _log_if_wide(ax, total)
    ax.set_ylabel('seconds')
    ax.set_title('Volume migration time (blue: new flow, cyan: new, '
                 'write-blocking complete, grey: legacy swap)')
    ax.set_xticks(list(x), labels, fontsize=7)
    ax.legend(fontsize=8)

    ax = axes.pop(0)
    through = [(r['bytes_through_compute'] or 0) / 1e6 for r in rows]
    ax.bar(x, through, color=colors)
    _log_if_wide(ax, through)
    ax.set_ylabel('MB')
    ax.set_title('Bytes that crossed the compute host (nbd: storage-link '
                 'counters; file: the hypervisor\'s own disk I/O)')
    ax.set_xticks(list(x), labels, fontsize=7)

    if sweep:
        _plot_sweep(axes.pop(0), rows, sweep)
    for name, s in series:
        ax = axes.pop(0)
        _plot_series(ax, name, s)
    if series:
        ax.set_xlabel('seconds since the guest started writing')

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_all(result: dict, out_dir: str = 'bench-results',
              stem: str | None = None) -> dict:
    """JSON and PNG under ``out_dir``; returns their paths."""
    stem = stem or 'volmig-bench-%s' % result['started_at'].replace(
        ':', '').replace('-', '')
    return {'json': write_json(result, os.path.join(out_dir,
                                                    stem + '.json')),
            'png': write_plot(result, os.path.join(out_dir, stem + '.png'))}
