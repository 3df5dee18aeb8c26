"""The Sphinx documentation builds without a warning.

``sphinx-build -W`` turns every warning (a broken reference, a page left
out of the toctree, a malformed table, a missing image or include) into
an error. The ``dummy`` builder parses, resolves and checks everything
the ``html`` builder does (the same warnings, checked by hand against
``-b html`` when this test was written) without writing pages, which
keeps the test to about a second and a half.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests import base

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SOURCE = os.path.join(REPO, 'doc', 'source')


def sphinx_build(source: str, out: str,
                 builder: str = 'dummy') -> subprocess.CompletedProcess:
    """``sphinx-build -W`` of ``source`` into ``out``, nothing cached."""
    return subprocess.run(
        [sys.executable, '-m', 'sphinx', '-W', '-E', '-q', '-j', '1',
         '-b', builder, '-d', os.path.join(out, '.doctrees'), source, out],
        capture_output=True, text=True, timeout=300, check=False)


class DocsBuildTest(base.TestCase):

    def test_docs_build_without_warnings(self):
        try:
            import sphinx  # noqa: F401
        except ImportError:  # pragma: no cover - test-requirements has it
            self.fail('sphinx is not installed (test-requirements.txt)')
        proc = sphinx_build(SOURCE, self.state_file('docs'))
        self.assertEqual(
            0, proc.returncode,
            'sphinx-build -W failed:\n%s%s' % (proc.stdout, proc.stderr))
        self.assertEqual('', proc.stderr.strip())

    def test_a_warning_fails_the_build(self):
        # The check can fail: a page with a broken reference does not
        # build. A copy of conf.py and a two-page tree, so it is quick.
        src = self.state_file('src')
        os.makedirs(src)
        with open(os.path.join(SOURCE, 'conf.py')) as f:
            conf = f.read()
        with open(os.path.join(src, 'conf.py'), 'w') as f:
            f.write(conf)
        with open(os.path.join(src, 'index.rst'), 'w') as f:
            f.write('Index\n=====\n\nSee :doc:`missing-page`.\n')
        proc = sphinx_build(src, self.state_file('out'))
        self.assertNotEqual(0, proc.returncode)
        self.assertIn('missing-page', proc.stderr)
