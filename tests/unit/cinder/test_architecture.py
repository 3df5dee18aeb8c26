"""The shape of cinder_driver_side: no import circle, small modules.

Read from the source with ``ast`` (no import): every ``import`` and
``from ... import`` of a cinder_driver_side module counts, including
those under ``if TYPE_CHECKING:``, since a reader follows them too.
"""

from __future__ import annotations

import ast
import os

import testtools

import cinder_driver_side

PACKAGE = 'cinder_driver_side'
ROOT = os.path.dirname(os.path.dirname(cinder_driver_side.__file__))
#: Product modules stay under this many lines (the project's rule).
MAX_LINES = 600


def _modules(root: str) -> dict[str, str]:
    """Dotted name -> path of every module of the package under root."""
    found = {}
    for dirpath, _dirs, files in os.walk(os.path.join(root, PACKAGE)):
        for name in files:
            if not name.endswith('.py'):
                continue
            path = os.path.join(dirpath, name)
            dotted = os.path.relpath(path, root)[:-3].replace(os.sep, '.')
            if dotted.endswith('.__init__'):
                dotted = dotted[:-len('.__init__')]
            found[dotted] = path
    return found


def import_graph(root: str) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (anywhere in it)."""
    modules = _modules(root)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read(), path)
        edges = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module \
                    and node.level == 0:
                # "from pkg import mod" imports pkg.mod when it is one.
                targets = ['%s.%s' % (node.module, alias.name)
                           if '%s.%s' % (node.module, alias.name) in modules
                           else node.module for alias in node.names]
            else:
                continue
            edges.update(t for t in targets if t in modules and t != name)
        graph[name] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


class ArchitectureTest(testtools.TestCase):

    def test_no_import_circle(self):
        self.assertEqual([], import_cycles(import_graph(ROOT)))

    def test_flows_do_not_import_the_manager(self):
        graph = import_graph(ROOT)
        flows = [m for m in graph if m.startswith(PACKAGE + '.volume.flows')]
        self.assertIn(PACKAGE + '.volume.flows.attached', flows)
        for module in flows:
            self.assertNotIn(PACKAGE + '.volume.manager', graph[module],
                             module)

    def test_modules_are_small(self):
        too_long = {}
        for name, path in _modules(ROOT).items():
            with open(path, encoding='utf-8') as f:
                lines = sum(1 for _ in f)
            if lines > MAX_LINES:
                too_long[name] = lines
        self.assertEqual({}, too_long)

    def test_cycle_finder_sees_a_circle(self):
        # The finder itself: the old migration <-> manager circle.
        graph = {'a.migration': {'a.manager', 'a.db'},
                 'a.manager': {'a.migration'}, 'a.db': set()}
        self.assertEqual([['a.manager', 'a.migration']],
                         import_cycles(graph))
