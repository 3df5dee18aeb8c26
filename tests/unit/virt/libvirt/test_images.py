import json
from unittest import mock

from oslo_concurrency import processutils

from nova_volmig.virt.libvirt import exception as lv_exc
from nova_volmig.virt.libvirt import images
from tests import base


@mock.patch.object(processutils, 'execute', return_value=('', ''))
class ImagesTest(base.TestCase):

    def test_create_overlay(self, execute):
        path = self.state_file('ov.qcow2')
        images.create_overlay(path, 'nbd://h:1/e', 'raw', 'extended_l2=on')
        execute.assert_called_once_with(
            'qemu-img', 'create', '-q', '-f', 'qcow2', '-b', 'nbd://h:1/e',
            '-F', 'raw', '-o', 'extended_l2=on', path)

    def test_create_overlay_refuses_existing(self, execute):
        path = self.state_file('ov.qcow2')
        open(path, 'w').close()
        self.assertRaises(lv_exc.QemuImgError, images.create_overlay,
                          path, '/v/src', 'raw')
        execute.assert_not_called()

    def test_no_space(self, execute):
        execute.side_effect = processutils.ProcessExecutionError(
            stderr='qemu-img: x: No space left on device', exit_code=1)
        err = self.assertRaises(lv_exc.OverlayNoSpace,
                                images.create_overlay,
                                self.state_file('ov.qcow2'), '/v/s', 'raw')
        self.assertEqual(409, err.code)

    def test_info_under_prlimit(self, execute):
        execute.return_value = (
            '{"format": "qcow2", "virtual-size": 1024, '
            '"full-backing-filename": "/v/s", '
            '"backing-filename-format": "raw"}', '')
        info = images.info('/o/ov.qcow2')
        self.assertEqual(('qcow2', '/v/s', 'raw'),
                         (info.format, info.backing_file,
                          info.backing_format))
        kwargs = execute.call_args.kwargs
        self.assertEqual(1024 * 1024 * 1024,
                         kwargs['prlimit'].address_space)
        self.assertIn('-U', execute.call_args.args)

    def test_allocation_unit(self, execute):
        for extended_l2, cluster, unit in ((True, 131072, 4096),
                                           (False, 65536, 65536),
                                           (None, None, None)):
            data = {'format': 'qcow2', 'virtual-size': 1024}
            if cluster:
                data['cluster-size'] = cluster
            if extended_l2 is not None:
                data['format-specific'] = {
                    'type': 'qcow2', 'data': {'extended-l2': extended_l2}}
            execute.return_value = (json.dumps(data), '')
            self.assertEqual(unit, images.info('/o/ov').allocation_unit)

    def test_rebase_and_commit(self, execute):
        images.rebase_unsafe('/o/ov', '/v/dst', 'raw')
        execute.assert_called_with('qemu-img', 'rebase', '-q', '-u', '-f',
                                   'qcow2', '-b', '/v/dst', '-F', 'raw',
                                   '/o/ov')
        images.commit('/o/ov')
        execute.assert_called_with('qemu-img', 'commit', '-q', '-f',
                                   'qcow2', '-d', '/o/ov')

    def test_missing_dir(self, execute):
        err = self.assertRaises(lv_exc.OverlayDirUnavailable,
                                images.ensure_usable_dir,
                                self.state_file('nope'))
        self.assertEqual(500, err.code)
