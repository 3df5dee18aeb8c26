"""etc/*.conf.sample hold what oslo-config-generator makes now."""

import os

from oslo_config import cfg
from oslo_config import generator

from tests import base

ETC = os.path.join(os.path.dirname(__file__), '..', '..', 'etc')

# The namespaces of the Makefile's genconfig target.
SAMPLES = {
    'nova-volmig.conf.sample': [
        'nova_volmig', 'oslo.messaging', 'oslo.log', 'oslo.policy',
        'keystonemiddleware.auth_token'],
    'cinder-volmig.conf.sample': ['cinder_volmig', 'oslo.log',
                                  'oslo.policy'],
}


class TestConfigSamples(base.TestCase):

    def test_samples_are_current(self):
        for name, namespaces in SAMPLES.items():
            conf = cfg.ConfigOpts()
            generator.register_cli_opts(conf)
            out = self.state_file(name)
            conf(['--output-file', out]
                 + [arg for ns in namespaces for arg in ('--namespace', ns)])
            generator.generate(conf)
            with open(out) as f, open(os.path.join(ETC, name)) as current:
                self.assertEqual(current.read(), f.read(),
                                 '%s is stale: run make genconfig' % name)
