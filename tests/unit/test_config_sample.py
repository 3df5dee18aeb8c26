"""etc/ samples hold what the oslo generators make now."""

import glob
import os

from oslo_config import cfg
from oslo_config import generator
from oslo_policy import generator as policy_generator

from tests import base

ETC = os.path.join(os.path.dirname(__file__), '..', '..', 'etc')


def generator_configs(kind: str) -> list[str]:
    """What `make genconfig|genpolicy` and tox generate from."""
    return sorted(glob.glob(os.path.join(ETC, kind, '*.conf')))


def sample_of(config_file: str) -> str:
    """The committed sample a generator config file writes."""
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.StrOpt('output_file'))
    conf(['--config-file', config_file])
    return os.path.join(ETC, os.path.basename(conf.output_file))


class TestConfigSamples(base.TestCase):

    def assertSameFile(self, expected, actual, message):
        with open(expected) as f, open(actual) as g:
            self.assertEqual(f.read(), g.read(), message)

    def test_samples_are_current(self):
        configs = generator_configs('oslo-config-generator')
        self.assertEqual(2, len(configs))
        for config_file in configs:
            sample = sample_of(config_file)
            out = self.state_file(os.path.basename(sample))
            conf = cfg.ConfigOpts()
            generator.register_cli_opts(conf)
            conf(['--config-file', config_file, '--output-file', out])
            generator.generate(conf)
            self.assertSameFile(sample, out, '%s is stale: run make '
                                'genconfig' % os.path.basename(sample))

    def test_policy_samples_are_current(self):
        configs = generator_configs('oslo-policy-generator')
        self.assertEqual(2, len(configs))
        for config_file in configs:
            sample = sample_of(config_file)
            out = self.state_file(os.path.basename(sample))
            policy_generator.generate_sample(
                ['--config-file', config_file, '--output-file', out],
                conf=cfg.ConfigOpts())
            self.assertSameFile(sample, out, '%s is stale: run make '
                                'genpolicy' % os.path.basename(sample))
