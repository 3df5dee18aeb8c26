"""Several fault runs' ``results.json`` as one table, a row per case.

``volmig-bench report --format rst FILE FILE...`` (the fault scenario's
files only). Every cell is computed from the files' rows, by these rules:

* the files are taken in the order of their ``started_at``, each file's
  rows in the order they ran; the table lists the cases in the order
  they first appear;
* *runs*: the case's rows; *from*: the runs (``started_at``) they come
  from, with a count when above one;
* *passed*: the rows whose verdict, recomputed by today's rule
  (:func:`volmig_bench.faults.checks.passed`) with the row's own leaks
  (below), is a pass; *failed in*: the runs of the others; *stored
  verdict differs*: the rows whose ``passed`` as stored in the file is
  not the recomputed one, by run;
* corrections, each what today's harness records itself, so that a file
  written by an older harness reads as a new one would have written it:

  - *own leaks* (:func:`own_leaks`): an overlay or volume file that an
    earlier row of the same run already reported is that row's, not this
    one's (the first harness listed every overlay in the directory on
    every row; today's lists the case's server's only,
    :func:`volmig_bench.faults.checks.leaks`);
  - *guest on* (:func:`guest_on`): ``overlay`` when the disk the guest
    ran on after the migration was not raw or had a backing chain (the
    first harness said ``dst``; either way that check failed the row);
  - a *final* check that read a non-raw disk as if it were raw (no
    ``checked`` field, the disk after the migration not raw: the first
    harness did not flatten the chain) is *not verified*: its counts are
    not summed (the row fails anyway: its guest was not on a raw disk);

* *outcomes (guest on)*: the outcome up to its first ``:`` (``stuck``,
  or ``case error`` for a row whose case failed before its checks), the
  guest's disk in brackets, counted;
* *fired at*: the distinct steps the fault fired at;
* *acked writes*: the range, over the rows whose final check is
  verified, of the writes the guest's whole log acknowledged;
* *stale / missing / corrupt*: the sums of each over the verified checks
  of every row (src at start, after the migration, final);
* *not verified*: the checks not made or not trusted, with why, counted;
* *src frozen*: the distinct verdicts of the start check (``ok``,
  ``ok (written back)`` when src changed but the guest did not end on
  dst, ``CHANGED`` when it did, ``n/a`` with no start check, ``ERROR:``
  and its error);
* *leaks*: the own leaks (overlays and unowned volume files), summed.
"""

from __future__ import annotations

import copy
import json

from volmig_bench.faults import checks

COLUMNS = ('case', 'runs', 'passed', 'outcomes (guest on)', 'fired at',
           'acked writes', 'stale / missing / corrupt', 'not verified',
           'src frozen', 'leaks', 'failed in', 'stored verdict differs',
           'from')
CHECKS = ('src_at_start', 'after_migration', 'final')


def load(paths: list[str]) -> list[dict]:
    """The fault results of ``paths``, in the order they started."""
    results = []
    for path in paths:
        with open(path) as f:
            results.append(json.load(f))
    return sorted(results, key=lambda r: r['started_at'])


def own_leaks(rows: list[dict]) -> list[dict]:
    """Each row's leaks without those an earlier row of its run reported."""
    seen: dict[str, set] = {}
    out = []
    for row in rows:
        leaked = row.get('leaks')
        if leaked is None:
            out.append(None)
            continue
        own = {}
        for kind, names in leaked.items():
            before = seen.setdefault(kind, set())
            own[kind] = [n for n in names if n not in before]
            before.update(names)
        out.append(own)
    return out


def guest_on(row: dict) -> str:
    """Where the guest ran after the migration, by today's rule."""
    after = row.get('after_migration') or {}
    if not after:
        return '-'
    if after.get('format', 'raw') != 'raw' or after.get('chained'):
        return 'overlay'
    return str(after.get('on', '-'))


def _final_read_as_raw(row: dict) -> bool:
    final = row.get('final') or {}
    after = row.get('after_migration') or {}
    return bool(final) and 'checked' not in final and (
        after.get('format', 'raw') != 'raw' or bool(after.get('chained')))


def not_verified(row: dict) -> list[str]:
    """The checks of ``row`` not made or not to be trusted, with why."""
    if row.get('error'):
        return ['case error, no checks']
    out = []
    start = row.get('src_at_start')
    if start is not None and 'verdict' not in start:
        out.append('src at start: %s' % start.get('error', 'no verdict'))
    after = row.get('after_migration') or {}
    if 'verdict' not in after:
        out.append('after: %s not flattened' % after['format']
                   if guest_on(row) == 'overlay' else 'after: not made')
    if _final_read_as_raw(row):
        out.append('final: %s read as raw' % after.get('format'))
    return out


def rejudged(row: dict, leaks: dict | None) -> bool:
    """``row``'s verdict by today's rule, with its own ``leaks``."""
    fixed = copy.deepcopy(row)
    fixed['leaks'] = leaks
    return checks.passed(fixed)


def _verified(row: dict) -> list[dict]:
    if row.get('error'):
        return []
    out = []
    for key in CHECKS:
        got = row.get(key)
        if not got or 'verdict' not in got:
            continue
        if key == 'final' and _final_read_as_raw(row):
            continue
        out.append(got)
    return out


def _outcome(row: dict) -> str:
    if row.get('error') and not row.get('outcome'):
        what = 'case error'
    else:
        what = str(row.get('outcome') or '-').split(':')[0]
    return '%s (%s)' % (what, guest_on(row))


def _src_frozen(row: dict) -> str:
    start = row.get('src_at_start')
    if row.get('error'):
        return '-'
    if start is None:
        return 'n/a'
    if 'verdict' not in start:
        return 'ERROR: %s' % start.get('error', 'no verdict')
    if start['verdict'] != 'ok':
        return start['verdict']
    if start.get('unchanged', True):
        return 'ok'
    return 'CHANGED' if guest_on(row) == 'dst' else 'ok (written back)'


def _counted(items: list[str]) -> str:
    """``a x2, b`` in the order of first appearance; ``-`` when empty."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return ', '.join(k if n == 1 else '%s x%d' % (k, n)
                     for k, n in counts.items()) or '-'


def _distinct(items: list[str]) -> str:
    return ', '.join(dict.fromkeys(items)) or '-'


def merge(results: list[dict]) -> list[dict]:
    """One entry per case: its rows, each with the run and the verdicts."""
    cases: dict[str, list[dict]] = {}
    for result in sorted(results, key=lambda r: r['started_at']):
        for row, leaks in zip(result['rows'], own_leaks(result['rows'])):
            cases.setdefault(row['case'], []).append({
                'run': result['started_at'], 'row': row, 'leaks': leaks,
                'passed': rejudged(row, leaks),
                'stored': bool(row.get('passed'))})
    return [{'case': case, 'rows': rows} for case, rows in cases.items()]


def case_cells(entry: dict) -> list[str]:
    """The table's cells for one case of :func:`merge`."""
    rows = entry['rows']
    verified = [c for r in rows for c in _verified(r['row'])]
    acked = [(r['row'].get('final') or {}).get('acknowledged')
             for r in rows if not r['row'].get('error')
             and not _final_read_as_raw(r['row'])]
    acked = [a for a in acked if a is not None]
    leaks = sum(len(names) for r in rows if r['leaks']
                for names in r['leaks'].values())
    return [
        entry['case'], str(len(rows)),
        str(sum(1 for r in rows if r['passed'])),
        _counted([_outcome(r['row']) for r in rows]),
        _distinct([str(r['row']['fired_at']) for r in rows
                   if r['row'].get('fired_at')]),
        ('-' if not acked else str(min(acked)) if min(acked) == max(acked)
         else '%d-%d' % (min(acked), max(acked))),
        ' / '.join(str(sum(c.get(k, 0) for c in verified))
                   for k in ('stale', 'missing', 'corrupt')),
        _counted([why for r in rows for why in not_verified(r['row'])]),
        _distinct([_src_frozen(r['row']) for r in rows]),
        str(leaks),
        _counted([r['run'] for r in rows if not r['passed']]),
        _counted([r['run'] for r in rows if r['passed'] != r['stored']]),
        _counted([r['run'] for r in rows])]


def render_rst(results: list[dict]) -> str:
    """The merged table as an RST list-table (doc/source/reliability.rst)."""
    entries = merge(results)
    lines = ['.. list-table:: Fault scenario, %d runs merged (%d rows)' % (
        len(results), sum(len(e['rows']) for e in entries)),
        '   :header-rows: 1', '']
    for cells in [list(COLUMNS)] + [case_cells(e) for e in entries]:
        cells = [_escape(c) for c in cells]
        lines.append('   * - %s' % cells[0])
        lines.extend('     - %s' % c for c in cells[1:])
    return '\n'.join(lines) + '\n'


def _escape(cell: str) -> str:
    # A cell starting with "-" would be a nested bullet list.
    return '\\' + cell if cell.startswith('-') else cell


def render_table(results: list[dict]):
    """The merged table for a terminal (rich)."""
    from rich.table import Table

    table = Table(title='volmig-bench faults, %d runs merged'
                  % len(results))
    for column in COLUMNS:
        table.add_column(column)
    for entry in merge(results):
        table.add_row(*case_cells(entry))
    return table
