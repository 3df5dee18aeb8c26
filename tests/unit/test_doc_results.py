"""Every results table in the docs is a committed result file's rendering.

A table the documentation quotes from a ``volmig-bench`` run is preceded
by a reST comment naming the run's committed file, relative to
``doc/source``::

    .. volmig-results: results/scale/results.json

    .. list-table::
       ...

The lines after the marker (blank lines skipped) must be exactly what
``volmig-bench report --format rst FILE`` prints
(:func:`volmig_bench.report.render_rst_file`), so a number typed by hand
or left behind by a re-run fails here, and so does a marker naming a file
that is not committed. ``tools/render_doc_results.py`` rewrites every
marked table from its file after a re-run.

A marker may name several files, separated by spaces, each a path or a
glob (resolved in sorted order; a glob matching no file fails): the table
is then ``volmig-bench report --format rst FILE FILE...``
(:func:`volmig_bench.report.render_rst_files`, which merges fault
scenario runs into one table)::

    .. volmig-results: results/faults/faults-*/results.json

In the pages that report measurements (:data:`CITING`: the benchmark, the
reliability page and the specs), every table needs a marker. Two other
forms exist:

``.. volmig-results: none: <why>``
    a table of no measured numbers (a list of fault cases, say);
``.. volmig-results: pending <key>``
    a table quoting a run whose ``results.json`` is not committed. Allowed
    only while ``<key>`` (the run id, or a name for a table merged from
    several runs) is in :data:`PENDING`, a temporary list meant to be
    emptied: once the run is re-done and committed, the marker becomes its
    path and the key leaves the list. A key in the list that no page uses
    fails too.
"""

from __future__ import annotations

import contextlib
import glob
import io
import json
import os
import re

from tests import base
from volmig_bench import report
from volmig_bench import scale_report

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DOC = os.path.join(REPO, 'doc', 'source')

#: Pages that quote measurements: none of their tables goes unmarked.
CITING = ('benchmark.rst', 'reliability.rst', 'specs/*.rst')

#: TEMPORARY. Tables quoting runs whose results.json is not committed,
#: by run id (or, for a table merged by hand from several runs, a name
#: for it). The goal is an empty set: each entry leaves when its table
#: is replaced by a marked rendering of a committed run.
PENDING: frozenset = frozenset()   # empty: every table cites a run

MARKER = re.compile(r'^\.\. volmig-results:\s*(?P<arg>.*?)\s*$')
#: A marker's path that is a glob.
GLOB = re.compile(r'[*?[]')
#: Where a table starts: a table directive, a simple or a grid table.
TABLE = re.compile(r'^(\.\. (list-table|csv-table|table)::'
                   r'|=+( +=+)+\s*$|\+(-+\+){2,}\s*$)')


def rst_files() -> list[str]:
    return sorted(glob.glob(os.path.join(DOC, '**', '*.rst'),
                            recursive=True))


def citing_files() -> set[str]:
    found = set()
    for pattern in CITING:
        found.update(glob.glob(os.path.join(DOC, pattern)))
    return found


def _next_content(lines: list[str], i: int) -> int:
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i


def check_page(path: str, lines: list[str], citing: bool,
               pending: frozenset = PENDING,
               doc_root: str = DOC) -> tuple[list[str], set[str]]:
    """Problems of one page, and the pending keys it uses."""
    problems, used = [], set()
    where = os.path.relpath(path, doc_root)
    marked = set()
    for i, line in enumerate(lines):
        m = MARKER.match(line)
        if not m:
            continue
        arg = m.group('arg')
        start = _next_content(lines, i + 1)
        marked.add(start)
        if start >= len(lines) or not TABLE.match(lines[start]):
            problems.append('%s:%d: marker not followed by a table'
                            % (where, i + 1))
        if arg.startswith('none:') and arg[5:].strip():
            continue
        if arg.startswith('pending '):
            key = arg[len('pending '):].strip()
            used.add(key)
            if key not in pending:
                problems.append(
                    '%s:%d: pending %r is not in the allow-list: commit '
                    'the run and name its results.json' % (where, i + 1, key))
            continue
        problems.extend(check_rendering(where, i, lines, start, arg,
                                        doc_root))
    if citing:
        for i, line in enumerate(lines):
            if TABLE.match(line) and i not in marked and not (
                    line.startswith('=') and _inside_table(lines, i)):
                problems.append(
                    '%s:%d: table without a ".. volmig-results:" marker'
                    % (where, i + 1))
    return problems, used


def _inside_table(lines: list[str], i: int) -> bool:
    """A simple table's second or third border, not its first."""
    j = i - 1
    while j >= 0 and lines[j].strip():
        if TABLE.match(lines[j]):
            return True
        j -= 1
    return False


def resolve(arg: str, doc_root: str) -> tuple[list[str], list[str]]:
    """The files a marker names (paths or globs), and those missing."""
    paths, missing = [], []
    for rel in arg.split():
        pattern = os.path.normpath(os.path.join(doc_root, rel))
        found = (sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
                 if GLOB.search(rel) else
                 [pattern] if os.path.isfile(pattern) else [])
        paths.extend(found)
        if not found:
            missing.append(rel)
    return paths, missing


def check_rendering(where: str, i: int, lines: list[str], start: int,
                    rel: str, doc_root: str) -> list[str]:
    paths, missing = resolve(rel, doc_root)
    if missing:
        return ['%s:%d: %s is not committed' % (where, i + 1, m)
                for m in missing]
    expected = report.render_rst_files(paths).rstrip('\n').split('\n')
    got = [line.rstrip() for line in lines[start:start + len(expected)]]
    expected = [line.rstrip() for line in expected]
    if got == expected:
        return []
    for n, (want, have) in enumerate(zip(expected, got + [''] * len(
            expected))):
        if want != have:
            return ['%s:%d: differs from "volmig-bench report --format rst '
                    '%s" at its line %d: expected %r, found %r'
                    % (where, start + n + 1, rel, n + 1, want, have)]
    return []  # pragma: no cover - the lists differ somewhere


def check_docs(doc_root: str = DOC, pending: frozenset = PENDING,
               citing: set[str] | None = None) -> list[str]:
    citing = citing_files() if citing is None else citing
    problems, used = [], set()
    for path in sorted(glob.glob(os.path.join(doc_root, '**', '*.rst'),
                                 recursive=True)):
        with open(path) as f:
            lines = f.read().split('\n')
        page_problems, page_used = check_page(path, lines, path in citing,
                                              pending, doc_root)
        problems.extend(page_problems)
        used |= page_used
    problems.extend('allow-list entry %r is used by no page: remove it '
                    'from PENDING' % key for key in sorted(pending - used))
    return problems


class DocResultsTest(base.TestCase):

    def test_every_cited_table_is_its_results_rendering(self):
        self.assertEqual([], check_docs())

    def test_scale_files_hold_the_summary_their_runs_give(self):
        # A scale result's summary is recomputed on load: the committed
        # one must be what today's arithmetic gives.
        for path in glob.glob(os.path.join(DOC, 'results', '**',
                                           'results.json'), recursive=True):
            with open(path) as f:
                document = json.load(f)
            if report.kind(document) != 'scale':
                continue
            self.assertEqual(scale_report.load_json(path)['summary'],
                             document['summary'], path)

    def test_every_committed_result_renders(self):
        # volmig-bench report --format rst works on each committed file,
        # whatever its scenario (a file a page could cite).
        paths = glob.glob(os.path.join(DOC, 'results', '**', 'results.json'),
                          recursive=True)
        self.assertGreater(len(paths), 3)
        for path in paths:
            text = report.render_rst_file(path)
            self.assertTrue(text.startswith('.. list-table::'), path)

    def test_the_cli_prints_the_same_rendering(self):
        # "volmig-bench report --format rst FILE", the command the pages
        # name, prints exactly what this test compares against.
        from volmig_bench import cli

        for rel in ('results/scale/count-8/results.json',
                    'results/faults/faults-20261206T045421Z/results.json',
                    'results/faults/faults-*/results.json'):
            paths, missing = resolve(rel, DOC)
            self.assertEqual([], missing)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                self.assertEqual(0, cli.main(['report', '--format', 'rst']
                                             + paths))
            self.assertEqual(report.render_rst_files(paths), out.getvalue())

    def test_the_marked_tables_cover_the_scale_runs(self):
        marked = set()
        for path in rst_files():
            with open(path) as f:
                for line in f:
                    m = MARKER.match(line)
                    if m:
                        marked.add(m.group('arg'))
        for run in ('results/scale/results.json',
                    'results/scale/count-8/results.json',
                    'results/scale/queue-cap-4/results.json'):
            self.assertIn(run, marked)


class CheckerTest(base.TestCase):
    """The checker fails on what it should (a copy of a scale run)."""

    SCALE = os.path.join(DOC, 'results', 'scale', 'count-8', 'results.json')

    def _tree(self, body: str, name: str = 'benchmark.rst') -> str:
        root = self.state_file('doc')
        os.makedirs(os.path.join(root, 'results'), exist_ok=True)
        with open(self.SCALE) as f:
            data = f.read()
        with open(os.path.join(root, 'results', 'r.json'), 'w') as f:
            f.write(data)
        with open(os.path.join(root, name), 'w') as f:
            f.write(body)
        return root

    def _check(self, body: str, pending: frozenset = frozenset()):
        root = self._tree(body)
        return check_docs(root, pending,
                          {os.path.join(root, 'benchmark.rst')})

    def _rendering(self) -> str:
        return report.render_rst_file(self.SCALE)

    def test_the_rendering_passes(self):
        self.assertEqual([], self._check(
            'Title\n=====\n\n.. volmig-results: results/r.json\n\n'
            + self._rendering() + '\nAfter.\n'))

    def test_a_changed_number_fails(self):
        text = self._rendering()
        changed = text.replace('7.698', '7.699', 1)
        self.assertNotEqual(text, changed)
        problems = self._check('.. volmig-results: results/r.json\n\n'
                               + changed)
        self.assertEqual(1, len(problems))
        self.assertIn("found '     - 7.699'", problems[0])

    def test_a_missing_file_fails(self):
        problems = self._check('.. volmig-results: results/gone.json\n\n'
                               + self._rendering())
        self.assertIn('results/gone.json is not committed', problems[0])

    def test_an_unmarked_table_fails_in_a_citing_page(self):
        for table in ('.. list-table::\n   :header-rows: 1\n\n'
                      '   * - a\n     - b\n   * - 1\n     - 2\n',
                      '===  ===\na    b\n===  ===\n1    2\n===  ===\n'):
            problems = self._check('Text.\n\n' + table)
            self.assertEqual(1, len(problems), problems)
            self.assertIn('table without a ".. volmig-results:" marker',
                          problems[0])

    def test_pending_only_while_allowed_and_used(self):
        table = ('.. list-table::\n   :header-rows: 1\n\n'
                 '   * - a\n   * - 1\n')
        body = '.. volmig-results: pending run-1\n\n' + table
        self.assertEqual([], self._check(body, frozenset({'run-1'})))
        self.assertIn('not in the allow-list', self._check(body)[0])
        self.assertIn('used by no page', self._check(
            '.. volmig-results: none: cases\n\n' + table,
            frozenset({'run-1'}))[0])

    FAULTS = ('faults-20261206T040646Z', 'faults-20261206T042025Z')

    def _faults_tree(self, body: str) -> str:
        root = self._tree(body)
        for run in self.FAULTS:
            os.makedirs(os.path.join(root, 'results', 'faults', run),
                        exist_ok=True)
            with open(os.path.join(DOC, 'results', 'faults', run,
                                   'results.json')) as f:
                data = f.read()
            with open(os.path.join(root, 'results', 'faults', run,
                                   'results.json'), 'w') as f:
                f.write(data)
        return root

    def _merged(self) -> str:
        return report.render_rst_files([
            os.path.join(DOC, 'results', 'faults', run, 'results.json')
            for run in self.FAULTS])

    def test_a_glob_names_the_merged_rendering(self):
        for arg in ('results/faults/faults-*/results.json',
                    'results/faults/faults-20261206T042025Z/results.json '
                    'results/faults/faults-20261206T040646Z/results.json'):
            body = '.. volmig-results: %s\n\n%s' % (arg, self._merged())
            root = self._faults_tree(body)
            self.assertEqual([], check_docs(
                root, frozenset(), {os.path.join(root, 'benchmark.rst')}),
                arg)

    def test_a_merged_table_missing_a_run_fails(self):
        # One run's rendering under a glob naming two runs.
        one = report.render_rst_file(os.path.join(
            DOC, 'results', 'faults', self.FAULTS[0], 'results.json'))
        root = self._faults_tree(
            '.. volmig-results: results/faults/faults-*/results.json\n\n'
            + one)
        problems = check_docs(root, frozenset(),
                              {os.path.join(root, 'benchmark.rst')})
        self.assertEqual(1, len(problems), problems)
        self.assertIn('differs from', problems[0])

    def test_a_glob_matching_nothing_fails(self):
        problems = self._check(
            '.. volmig-results: results/gone-*/results.json\n\n'
            + self._rendering())
        self.assertIn('results/gone-*/results.json is not committed',
                      problems[0])

    def test_none_needs_a_reason(self):
        table = ('.. list-table::\n   :header-rows: 1\n\n'
                 '   * - a\n   * - 1\n')
        self.assertEqual([], self._check(
            '.. volmig-results: none: the cases\n\n' + table))
        self.assertIn('is not committed', self._check(
            '.. volmig-results: none:\n\n' + table)[0])


#: A measured quantity typed into prose: a number (or range) with a unit
#: of time, size, rate, or a ratio ("3.5x", "40 %").
MEASURED = re.compile(
    r'(?<![\w.])\d+(?:\.\d+)?(?:\s?-\s?\d+(?:\.\d+)?)?\s?'
    r'(?:ms|s|min|h|[KMGT]i?B(?:/s)?|[KMG]bit/s|x|%)(?![\w/])')


def prose(text: str) -> str:
    """``text`` without literal blocks, code blocks and inline literals."""
    out, skip_indent = [], None
    for line in text.split('\n'):
        if skip_indent is not None:
            if not line.strip() or (len(line) - len(line.lstrip())
                                    > skip_indent):
                continue
            skip_indent = None
        stripped = line.strip()
        if stripped.endswith('::') or stripped.startswith('.. '):
            skip_indent = len(line) - len(line.lstrip())
            line = line[:len(line) - len(stripped)] + stripped.split('::')[0]
        out.append(re.sub(r'``.*?``', '``..``', line))
    return '\n'.join(out)


class SpecNumbersTest(base.TestCase):
    """The specs cite measurements, they do not type them."""

    def test_no_measured_number_in_spec_prose(self):
        found = []
        for path in sorted(glob.glob(os.path.join(DOC, 'specs', '*.rst'))):
            with open(path) as f:
                text = prose(f.read())
            for n, line in enumerate(text.split('\n'), 1):
                found.extend('%s:%d: %s' % (os.path.relpath(path, DOC), n,
                                            m.group(0))
                             for m in MEASURED.finditer(line))
        self.assertEqual([], found)

    def test_the_check_finds_typed_numbers(self):
        text = prose('It took 2.45 s, moved 139-196 MB, 5.0x faster and '
                     '40 MB/s.\n\n::\n\n    make bench  # 130 s\n\n'
                     'Microversion 2.105, QEMU 7.2, ``1 GiB``.\n')
        self.assertEqual(['2.45 s', '139-196 MB', '5.0x', '40 MB/s'],
                         MEASURED.findall(text))
