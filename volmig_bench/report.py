"""The result for readers: the table, its reST form, the summary lines.

And the files of a run (:func:`write_run`): ``results.json``
(:mod:`volmig_bench.results`) and ``results.png`` (:mod:`volmig_bench.plot`).
"""

from __future__ import annotations

import contextlib
import json
import os

from volmig_bench import exception
from volmig_bench import flows
from volmig_bench import plot
from volmig_bench import results


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
           'guest MB in 64 KiB chunks',
           'p50/p99 ms before', 'p50/p99 ms during', 'legacy converged',
           'checksum')
CAPTION = ('total: migrate call until the migration fully ended; '
           'wait in complete: Cinder\'s wait until src was releasable; '
           'copy: Cinder\'s copy phase vs the array\'s raw copy of the '
           'same bytes; MB via compute: storage-link counters (nbd) or, '
           'marked *, the hypervisor\'s own disk I/O (file: local, no '
           'network); guest MB in 64 KiB chunks: the distinct 64 KiB '
           'chunks the guest wrote during the migration')


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
    if row.get('status') == 'error' and not flows.is_baseline(row['flow']):
        converged = 'FAILED'
    return [results.format_size(row['size']), link, row['array'], row['flow'],
            _s(row['total_s']), _s(row['cinder_complete_wait_s']),
            _s(row.get('nova_finish_s')), _copy_cells(row),
            '%s / %s' % (_ms(block['start']),
                         ', '.join(_ms(p) for p in block['pivots']) or '-'),
            through, _mb(row.get('guest_chunk_bytes_during')),
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
        elif flows.is_baseline(row['flow']):
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


def kind(document: dict) -> str:
    """``scale``, ``faults`` or ``flows`` (the default scenario's schema)."""
    from volmig_bench import scale_report

    if scale_report.is_scale(document):
        return 'scale'
    if document.get('scenario') == 'faults':
        return 'faults'
    return 'flows'


def render_rst_file(path: str) -> str:
    """``volmig-bench report --format rst PATH``: any result file's table.

    The text the docs quote verbatim after a ``.. volmig-results: PATH``
    marker (``tests.unit.test_doc_results``): the default scenario's
    table titled by its start time with its summary and check lines, the
    scale scenario's table and summary lines, or the fault scenario's
    rows.
    """
    with open(path) as f:
        which = kind(json.load(f))
    if which == 'scale':
        from volmig_bench import scale_report

        return scale_report.render_rst(scale_report.load_json(path))
    if which == 'faults':
        from volmig_bench.faults import run as faults_run

        with open(path) as f:
            return faults_run.render_rst(json.load(f))
    result = results.load_json(path)
    return render_rst(result, title=result['started_at']) + '\n' + ''.join(
        '| %s\n' % line for line in render_summary(result))


def render_rst_files(paths: list[str]) -> str:
    """``volmig-bench report --format rst PATH...``: one or several files.

    One file: :func:`render_rst_file`. Several scale runs: a row per run
    (:mod:`volmig_bench.scale_steps`). Several fault scenario files:
    merged into one table, a row per case, every cell computed from the
    files by the rules of :mod:`volmig_bench.faults.merge`.
    """
    if len(paths) == 1:
        return render_rst_file(paths[0])
    kinds = set()
    for path in paths:
        with open(path) as f:
            kinds.add(kind(json.load(f)))
    if kinds == {'scale'}:
        from volmig_bench import scale_steps

        return scale_steps.render_rst(paths)
    from volmig_bench.faults import merge

    return merge.render_rst(load_faults(paths))


def load_faults(paths: list[str]) -> list[dict]:
    """The fault results of ``paths``; any other kind is refused."""
    from volmig_bench.faults import merge

    for path in paths:
        with open(path) as f:
            if kind(json.load(f)) != 'faults':
                raise exception.InvalidParameter(
                    name='result file', value=path,
                    reason='only fault scenario files merge')
    return merge.load(paths)


def render_summary(result: dict) -> list[str]:
    """One line per configuration: new flows against legacy, and checks."""
    lines = []
    for entry in result.get('summary', []):
        if flows.is_baseline(entry['flow']):
            continue
        where = '%s %s %s, %s MB/s writes' % (
            results.format_size(entry['size']), entry['link'], entry['array'],
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


def write_all(result: dict, out_dir: str = 'bench-results',
              stem: str | None = None) -> dict:
    """JSON and PNG under ``out_dir``; returns their paths."""
    stem = stem or 'volmig-bench-%s' % result['started_at'].replace(
        ':', '').replace('-', '')
    return {'json': results.write_json(result, os.path.join(
                out_dir, stem + '.json')),
            'png': plot.write_plot(result, os.path.join(out_dir,
                                                        stem + '.png'))}


def write_run(result: dict, out_dir: str, out_root: str) -> None:
    """``results.json`` and ``results.png`` of a run, and ``latest``.

    ``result['files']`` names both, in the JSON too; ``out_root/latest``
    then points at ``out_dir``.
    """
    result['files'] = {
        'json': results.write_json(result,
                                   os.path.join(out_dir, 'results.json')),
        'png': plot.write_plot(result, os.path.join(out_dir,
                                                    'results.png'))}
    results.write_json(result, result['files']['json'])
    latest = os.path.join(out_root, 'latest')
    with contextlib.suppress(FileNotFoundError):
        os.unlink(latest)
    os.symlink(os.path.basename(out_dir), latest)


def command(args) -> dict | None:
    """``volmig-bench report``: a result file's table, summary and plot."""
    from rich.console import Console

    from volmig_bench import scale_report

    if args.format == 'rst':
        print(render_rst_files(args.json), end='')
        return None
    if len(args.json) > 1:
        from volmig_bench.faults import merge

        Console().print(merge.render_table(load_faults(args.json)))
        return None
    args.json = args.json[0]
    with open(args.json) as f:
        which = kind(json.load(f))
    if which == 'scale':
        return _report_scale(args, scale_report)
    if which == 'faults':
        from volmig_bench.faults import run as faults_run

        with open(args.json) as f:
            Console().print(faults_run.render_table(json.load(f)))
        return None
    result = results.load_json(args.json)
    Console().print(render_table(result))
    for line in render_summary(result):
        Console().print(line, markup=False, highlight=False)
    png = plot.write_plot(result, os.path.splitext(args.json)[0] + '.png')
    return {'png': png}


def _report_scale(args, scale_report) -> dict | None:
    from rich.console import Console

    result = scale_report.load_json(args.json)
    Console().print(scale_report.render_table(result))
    for line in scale_report.summary_lines(result):
        Console().print(line, markup=False, highlight=False)
    return {'png': scale_report.write_plot(
        result, os.path.splitext(args.json)[0] + '.png')}
