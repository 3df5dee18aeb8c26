"""The shape of cinder_driver_side: no import circle, small modules.

Read from the source with ``ast`` (no import): every ``import`` and
``from ... import`` of a cinder_driver_side module counts, including
those under ``if TYPE_CHECKING:``, since a reader follows them too.
"""

from __future__ import annotations

import os

import testtools

import cinder_driver_side
from tests.unit.test_architecture import import_cycles
from tests.unit.test_architecture import import_graph as _graph
from tests.unit.test_architecture import modules

PACKAGE = 'cinder_driver_side'
ROOT = os.path.dirname(os.path.dirname(cinder_driver_side.__file__))
#: Product modules stay under this many lines (the project's rule).
MAX_LINES = 600


def import_graph(root: str) -> dict[str, set[str]]:
    return _graph(root, PACKAGE)


def _modules(root: str) -> dict[str, str]:
    return modules(root, PACKAGE)


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
