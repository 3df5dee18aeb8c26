#!/usr/bin/env python3
"""Rewrite every marked results table of the docs from its committed file.

Usage: ``tools/render_doc_results.py [PAGE.rst ...]`` (default: every page
under ``doc/source``). After each ``.. volmig-results: PATH`` marker, the
block that follows (the table, its indented lines and the ``|`` summary
lines) is replaced by ``volmig-bench report --format rst PATH``'s output,
the text ``tests/unit/test_doc_results.py`` checks. Markers ``none:`` and
``pending`` are left alone.
"""

from __future__ import annotations

import glob
import os
import re
import sys

from volmig_bench import report

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), 'doc', 'source')
MARKER = re.compile(r'^\.\. volmig-results:\s*(?P<arg>.*?)\s*$')
#: how every rendered block begins
TABLE = '.. list-table::'


def _paths(arg: str) -> list[str] | None:
    """The files a marker names, or None (said) when one is missing."""
    found = []
    for rel in arg.split():
        pattern = os.path.normpath(os.path.join(DOC, rel))
        matches = sorted(glob.glob(pattern))
        if not matches:
            print('%s: no such results file; left as it is' % rel)
            return None
        found.extend(matches)
    return found


def _block_end(lines: list[str], start: int) -> int:
    """The line after the rendered block that starts at ``start``."""
    end = start + 1
    while end < len(lines):
        line = lines[end]
        if line.strip() and not line.startswith((' ', '|')):
            break
        end += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return end


def render_page(path: str) -> bool:
    """Rewrite one page in place; True when it changed."""
    with open(path) as f:
        lines = f.read().split('\n')
    out, i, changed = [], 0, False
    while i < len(lines):
        out.append(lines[i])
        m = MARKER.match(lines[i])
        i += 1
        if not m or m.group('arg').startswith(('none:', 'pending ')):
            continue
        while i < len(lines) and not lines[i].strip():
            out.append(lines[i])
            i += 1
        # A marker not rendered yet has no table under it: the text that
        # follows stays, after a blank line.
        fresh = i >= len(lines) or not lines[i].startswith(TABLE)
        end = i if fresh else _block_end(lines, i)
        paths = _paths(m.group('arg'))
        if paths is None:
            continue
        new = report.render_rst_files(paths).rstrip('\n').split('\n')
        changed |= new != lines[i:end]
        out.extend(new + [''] if fresh else new)
        i = end
    if changed:
        with open(path, 'w') as f:
            f.write('\n'.join(out))
    return changed


def main(argv: list[str]) -> int:
    pages = argv or sorted(glob.glob(os.path.join(DOC, '**', '*.rst'),
                                     recursive=True))
    for page in pages:
        if render_page(page):
            print('rewrote %s' % os.path.relpath(page))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
