"""Several scale runs side by side: one row per run, for a before/after.

``volmig-bench report --format rst RUN.json RUN.json...`` with scale
results only. A row is labelled by its run's directory (relative to the
runs' common directory); the run at that common directory itself, the
scenario's committed ``results.json``, is ``final (results.json)``.
Every cell comes from the file: the concurrent run's start and complete
latency, its total time, the median copy of one volume against the
array's raw copy of one volume, and raw / achieved copy throughput.
"""

from __future__ import annotations

import os

from volmig_bench import scale_report

HEADERS = ('step', 'run', 'start p50 / p99 s', 'complete p50 / p99 s',
           'total s', 'copy s p50 / raw s per volume', 'raw / achieved')


def _pair(stats: dict) -> str:
    return '%.3f / %.3f' % (stats['p50_s'], stats['p99_s'])


def row(label: str, result: dict) -> list[str]:
    """The cells of one run."""
    concurrent = result['summary']['concurrent']
    copies = [m['copy_s'] for m in result['runs']['concurrent']['migrations']]
    raw = result['raw']
    return [label, result['started_at'], _pair(concurrent['start']),
            _pair(concurrent['complete']), '%.1f' % concurrent['total_s'],
            '%.3f / %.3f' % (scale_report.latency(copies)['p50_s'],
                             raw['seconds'] / raw['volumes']),
            '%.2f' % result['summary']['throughput_ratio']]


def labels(paths: list[str]) -> list[str]:
    dirs = [os.path.dirname(os.path.abspath(p)) for p in paths]
    common = os.path.commonpath(dirs)
    return [os.path.relpath(d, common).split(os.sep)[-1]
            if d != common else 'final (results.json)' for d in dirs]


def render_rst(paths: list[str]) -> str:
    """The list-table of the runs, in the order given."""
    rows = [list(HEADERS)] + [
        row(label, scale_report.load_json(path))
        for label, path in zip(labels(paths), paths)]
    out = ['.. list-table::', '   :header-rows: 1', '']
    for cells in rows:
        out.extend('   %s - %s' % ('*' if j == 0 else ' ', cell)
                   for j, cell in enumerate(cells))
    return '\n'.join(out) + '\n'
