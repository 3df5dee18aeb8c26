"""Exceptions cross a real broker with their class, so with their code."""

from oslo_messaging._drivers import common as driver_common

from nova_volmig import exception
from nova_volmig import rpc
from nova_volmig.virt.libvirt import exception as lv_exc
from tests import base


class TestRemoteExceptions(base.TestCase):

    def _roundtrip(self, error):
        data = driver_common.serialize_remote_exception(
            (type(error), error, None))
        return driver_common.deserialize_remote_exception(
            data, rpc.ALLOWED_EXMODS)

    def test_driver_errors_keep_code_and_message(self):
        for error, code in (
                (lv_exc.OverlayNoSpace(path='/o', reason='full'), 409),
                (lv_exc.OverlayDirUnavailable(path='/o', reason='gone'),
                 500),
                (lv_exc.DeviceDetachTimeout(domain='d', disk='vdb',
                                            timeout=20), 409),
                (exception.VolumeMigrationInvalidState(
                    action='cancel', attachment_id='a', status='completed',
                    expected='running'), 409)):
            remote = self._roundtrip(error)
            self.assertIsInstance(remote, type(error))
            self.assertEqual(code, remote.code)
            self.assertEqual(error.format_message(),
                             remote.format_message())
        self.assertTrue(self._roundtrip(
            lv_exc.OverlayDirUnavailable(path='/o', reason='gone')).safe)
