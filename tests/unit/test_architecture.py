"""The shape of every package: no import circle, small modules, clear names.

Read from the source with ``ast`` (no import): every ``import`` and
``from ... import`` of a package's module counts, including those under
``if TYPE_CHECKING:``, since a reader follows them too.
(doc/source/contributor/architecture.rst, "Rules the tree keeps")
"""

from __future__ import annotations

import ast
import configparser
import os
import sys

import testtools

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
#: Package -> the most lines one of its modules may have.
MAX_LINES = {'nova_volmig': 600, 'cinder_driver_side': 600,
             'volmig_common': 600, 'volmig_bench': 400}


def modules(root: str, package: str) -> dict[str, str]:
    """Dotted name -> path of every module of ``package`` under root."""
    found = {}
    for dirpath, _dirs, files in os.walk(os.path.join(root, package)):
        for name in files:
            if not name.endswith('.py'):
                continue
            path = os.path.join(dirpath, name)
            dotted = os.path.relpath(path, root)[:-3].replace(os.sep, '.')
            if dotted.endswith('.__init__'):
                dotted = dotted[:-len('.__init__')]
            found[dotted] = path
    return found


def import_graph(root: str, package: str) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (anywhere in it)."""
    found = modules(root, package)
    graph: dict[str, set[str]] = {}
    for name, path in found.items():
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
                           if '%s.%s' % (node.module, alias.name) in found
                           else node.module for alias in node.names]
            else:
                continue
            edges.update(t for t in targets if t in found and t != name)
        graph[name] = edges
    return graph


def top_level_imports(path: str) -> set[str]:
    """The top-level package names a module imports."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module \
                and node.level == 0:
            names.add(node.module.split('.')[0])
    return names


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


def installed_packages() -> list[str]:
    """The top-level packages setup.cfg's ``[files] packages`` installs."""
    parser = configparser.ConfigParser()
    parser.read(os.path.join(ROOT, 'setup.cfg'))
    return parser['files']['packages'].split()


class ArchitectureTest(testtools.TestCase):

    def test_no_import_circle(self):
        for package in MAX_LINES:
            self.assertEqual([], import_cycles(import_graph(ROOT, package)),
                             package)

    def test_modules_are_small(self):
        too_long = {}
        for package, limit in MAX_LINES.items():
            for name, path in modules(ROOT, package).items():
                with open(path, encoding='utf-8') as f:
                    lines = sum(1 for _ in f)
                if lines > limit:
                    too_long[name] = lines
        self.assertEqual({}, too_long)

    def test_no_module_shadows_the_standard_library(self):
        # A module named like the standard library's (copy, array...)
        # forces import aliases on every reader.
        # ``cmd`` packages are OpenStack's convention (nova/cmd) and are
        # never imported by their bare name.
        shadowing = [name for package in MAX_LINES
                     for name in modules(ROOT, package)
                     if name.rsplit('.', 1)[-1] in sys.stdlib_module_names
                     and not name.endswith('.cmd')]
        self.assertEqual([], shadowing)

    def test_common_imports_no_service(self):
        services = {'nova_volmig', 'cinder_driver_side', 'volmig_bench'}
        found = modules(ROOT, 'volmig_common')
        self.assertIn('volmig_common.polling', found)
        for path in found.values():
            self.assertEqual(set(), top_level_imports(path) & services, path)

    def test_installed_code_imports_only_installed_packages(self):
        # pip's editable install maps only setup.cfg's packages, so a
        # console script importing ``tools`` or ``tests`` fails outside
        # the source tree (the fault scenario did, on a fresh clone).
        installed = installed_packages()
        self.assertIn('volmig_distributed', installed)
        wrong = {}
        for package in installed:
            for path in modules(ROOT, package).values():
                bad = top_level_imports(path) & {'tools', 'tests'}
                if bad:
                    wrong[path] = bad
        self.assertEqual({}, wrong)

    def test_cycle_finder_sees_a_circle(self):
        graph = {'a.migration': {'a.manager', 'a.db'},
                 'a.manager': {'a.migration'}, 'a.db': set()}
        self.assertEqual([['a.manager', 'a.migration']],
                         import_cycles(graph))

    def test_stdlib_check_sees_a_shadow(self):
        self.assertIn('copy', sys.stdlib_module_names)
        self.assertIn('array', sys.stdlib_module_names)
