"""Host prerequisites: missing commands are installed or named."""

from unittest import mock

from tests import base
from volmig_bench import exception
from volmig_bench import host


class RequireTestCase(base.TestCase):

    def test_present_commands_need_nothing(self):
        with mock.patch.object(host.processutils, 'execute') as execute:
            host.require('sh')
        execute.assert_not_called()

    def test_missing_command_named_with_its_package(self):
        with mock.patch('shutil.which', return_value=None):
            exc = self.assertRaises(exception.CommandUnavailable,
                                    host.require, 'mkfs.xfs',
                                    install_missing=False)
        self.assertIn('xfsprogs', str(exc))

    def test_missing_command_installed_with_apt(self):
        found = iter([None, '/usr/bin/cpio'])
        with mock.patch('shutil.which', side_effect=lambda c: next(found)), \
                mock.patch('os.geteuid', return_value=0), \
                mock.patch.object(host.processutils, 'execute') as execute:
            host.require('cpio')
        argv = execute.call_args[0]
        self.assertEqual(('apt-get', 'install', '-y'), argv[:3])
        self.assertEqual('cpio', argv[-1])

    def test_not_root_cannot_install(self):
        with mock.patch('shutil.which', return_value=None), \
                mock.patch('os.geteuid', return_value=1000):
            self.assertRaises(exception.CommandUnavailable, host.require,
                              'cpio')
