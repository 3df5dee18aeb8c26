"""The pool names the documentation tells people to type exist.

Every ``host@backend#pool`` in README.md and doc/source names a pool of the
deployment it is written for: ``aio@...`` of nova-volmig-aio's embedded
configuration, ``cinder1@...`` of the distributed deployment's rendered
``etc/distributed/cinder-volmig.conf.in``. A walkthrough that names the
aio's pools in the distributed deployment fails there with 400.
"""

from __future__ import annotations

import glob
import os
import re
import string

from cinder_driver_side import conf as cinder_conf
from cinder_driver_side.conf import backend as backend_conf
from cinder_driver_side import service as cinder_service
from tests import base
from volmig_distributed import deployment as dist

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
POOL_NAME = re.compile(r'\b([\w.-]+)@([\w.-]+)#([\w.-]+)')
#: Placeholders in prose, not names to type.
PLACEHOLDERS = {'host@backend#pool', 'HOST@BACKEND#POOL'}


def _pools(conf) -> set[str]:
    """host@backend#pool of every pool, as Array.location() names them."""
    return {'%s@%s#%s' % (conf.host, name, pool)
            for name in conf.enabled_backends
            for pool in backend_conf.get(conf, name, 'pools')}


def aio_pools(state_path: str) -> set[str]:
    return _pools(cinder_service.aio_config(state_path))


def distributed_pools(state_path: str) -> set[str]:
    """Pools of the cinder-volmig.conf tools/distributed.py renders."""
    with open(os.path.join(dist.TEMPLATE_DIR,
                           'cinder-volmig.conf.in')) as f:
        text = string.Template(f.read()).substitute(
            state_path=state_path, cinder_host=dist.CINDER_HOST,
            listen='127.0.0.1', cinder_port='8776', debug='false',
            cinder_database='sqlite://', volume_protocol='file',
            nova_endpoint='http://127.0.0.1:8774/v2.1')
    os.makedirs(state_path, exist_ok=True)
    path = os.path.join(state_path, 'cinder-volmig.conf')
    with open(path, 'w') as f:
        f.write(text)
    return _pools(cinder_conf.parse(cinder_conf.new_conf(), [], [path]))


def doc_files() -> list[str]:
    return [os.path.join(REPO, 'README.md')] + sorted(glob.glob(
        os.path.join(REPO, 'doc', 'source', '**', '*.rst'), recursive=True))


def named_pools(path: str) -> set[str]:
    with open(path) as f:
        return {m.group(0) for m in POOL_NAME.finditer(f.read())
                if m.group(0) not in PLACEHOLDERS}


class TestDocPools(base.TestCase):

    def setUp(self):
        super().setUp()
        self.deployments = {
            'aio': aio_pools(self.state_file('aio')),
            dist.CINDER_HOST: distributed_pools(self.state_file('dist')),
        }

    def test_the_deployments_have_pools(self):
        self.assertIn('aio@array1#pool2', self.deployments['aio'])
        self.assertIn('cinder1@array1#pool2',
                      self.deployments[dist.CINDER_HOST])

    def test_every_pool_named_in_the_docs_exists(self):
        wrong = []
        for path in doc_files():
            for name in sorted(named_pools(path)):
                host = name.split('@', 1)[0]
                known = self.deployments.get(host)
                if known is None or name not in known:
                    wrong.append('%s: %s' % (os.path.relpath(path, REPO),
                                             name))
        self.assertEqual([], wrong, 'pools that no deployment has '
                         '(known: %s)' % self.deployments)

    def test_distributed_walkthrough_migrates_to_its_own_pools(self):
        path = os.path.join(REPO, 'doc', 'source', 'admin',
                            'distributed.rst')
        with open(path) as f:
            text = f.read()
        migrate = re.findall(r'volmig migrate \S+ --host (\S+)', text)
        self.assertNotEqual([], migrate, 'distributed.rst shows no '
                            'migration')
        for host in migrate:
            self.assertIn(host, self.deployments[dist.CINDER_HOST])
        self.assertIn('volmig pools', text)
        self.assertEqual(set(), {n for n in named_pools(path)
                                 if n.startswith('aio@')})

    def test_readme_distributed_part_names_distributed_pools(self):
        with open(os.path.join(REPO, 'README.md')) as f:
            text = f.read()
        part = text[text.index('make distributed-start'):]
        part = part[:part.index('make distributed-stop')]
        migrate = re.findall(r'volmig migrate \S+ --host (\S+)', part)
        self.assertNotEqual([], migrate)
        for host in migrate:
            self.assertIn(host, self.deployments[dist.CINDER_HOST])

    def test_setup_host_installs_the_walkthrough_tools(self):
        path = os.path.join(REPO, 'doc', 'source', 'admin',
                            'distributed.rst')
        with open(path) as f:
            text = f.read()
        with open(os.path.join(REPO, 'tools', 'setup-host.sh')) as f:
            setup = f.read()
        packages = set(re.search(r'SYSTEM_PACKAGES=\(([^)]*)\)',
                                 setup).group(1).split())
        for tool in ('curl', 'jq'):
            self.assertRegex(text, r'\b%s\b' % tool)
            self.assertIn(tool, packages)
