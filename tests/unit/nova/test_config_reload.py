"""SIGHUP reload: mutable options change, the others keep their value."""

from oslo_config import cfg

from nova_volmig.cmd import common
from nova_volmig.conf import libvirt as libvirt_conf
from tests import base


class ConfigReloadTest(base.TestCase):

    def _write(self, path, mode, timeout):
        with open(path, 'w') as f:
            f.write('[libvirt]\nvolume_migration_complete_mode = %s\n'
                    'block_job_ready_timeout = %d\n' % (mode, timeout))

    def test_complete_mode_is_mutable(self):
        path = self.state_file('nova.conf')
        self._write(path, 'two_step', 60)
        conf = cfg.ConfigOpts()
        libvirt_conf.register_opts(conf)
        conf([], default_config_files=[path])
        self.assertEqual('two_step',
                         conf.libvirt.volume_migration_complete_mode)
        self._write(path, 'write_blocking', 90)
        changed = common.reload_config(conf)
        self.assertEqual({('libvirt', 'volume_migration_complete_mode'):
                          ('two_step', 'write_blocking')}, changed)
        self.assertEqual('write_blocking',
                         conf.libvirt.volume_migration_complete_mode)
        # Not mutable: only a restart applies it.
        self.assertEqual(60, conf.libvirt.block_job_ready_timeout)
