"""tools/render_doc_results.py rewrites only the block under a marker."""

from __future__ import annotations

import importlib.util
import os

from tests import base

TOOL = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'tools', 'render_doc_results.py')
PAGE = """Title
=====

.. volmig-results: results/sizes/results.json

Next section
^^^^^^^^^^^^

Text.
"""


def _tool():
    spec = importlib.util.spec_from_file_location('render_doc_results', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class RenderPageTest(base.TestCase):

    def test_a_new_marker_keeps_the_text_after_it(self):
        """The heading after a marker with no table yet is not replaced."""
        path = os.path.join(self.state_path, 'page.rst')
        with open(path, 'w') as f:
            f.write(PAGE)
        tool = _tool()
        self.assertTrue(tool.render_page(path))
        with open(path) as f:
            text = f.read()
        self.assertIn('.. list-table::', text)
        self.assertIn('\n\nNext section\n^^^^^^^^^^^^\n\nText.\n', text)
        self.assertFalse(tool.render_page(path))    # stable once rendered
