"""Asynchronous detach (issue 16 item 13): 202 at once, outcome recorded.

The real compute API, RPC (volmig-inproc:/ transport), manager and
database with the FakeDriver: the API returns as soon as the cast is
sent, even while the hypervisor's unplug is still waiting for the guest;
the outcome is the ``detach_volume`` instance action's
``compute_detach_volume`` event and the ``instance.volume_detach.*``
notifications.
"""

import threading
import time
from unittest import mock

import oslo_messaging as messaging

from nova_volmig.compute import rpcapi as compute_rpcapi
from nova_volmig.compute import task_states
from nova_volmig.db import api as db
from nova_volmig import exception
from nova_volmig.virt.libvirt import exception as lv_exc
from tests import base
from tests import nova_fixtures as nf
from tests.unit.nova import test_volume_migration


class TestAsyncDetach(test_volume_migration.ComputeTestCase):

    def detach(self):
        """Detach with a context of its own (its own request id)."""
        ctxt = nf.user_context()
        started = time.monotonic()
        self.api.detach_volume(ctxt, self.instance_now(), self.volume_id)
        return ctxt, time.monotonic() - started

    def action(self, ctxt, finished=True):
        def done():
            action, events = db.action_get_by_request_id(
                ctxt, self.instance.uuid, ctxt.request_id)
            if finished and (action.finish_time is None
                             or any(e.result is None for e in events)):
                return None
            return action, events
        return nf.wait_for(done, what='detach action finished')

    def test_returns_before_the_guest_releases_the_disk(self):
        gate = self.driver.block['detach_volume'] = threading.Event()
        self.addCleanup(gate.set)
        ctxt, took = self.detach()
        # Old code: a blocking call, 409 after the RPC timeout (10 s here).
        self.assertLess(took, 2)
        self.assertEqual(task_states.DETACHING_VOLUME,
                         self.instance_now().task_state)
        action, events = self.action(ctxt, finished=False)
        self.assertEqual('detach_volume', action.action)
        gate.set()
        action, events = self.action(ctxt)
        self.assertEqual([('compute_detach_volume', 'Success')],
                         [(e.event, e.result) for e in events])
        self.assertIsNone(action.message)
        self.assertIsNone(self.instance_now().task_state)
        self.assertRaises(exception.VolumeBDMNotFound, db.bdm_get_by_volume,
                          self.ctxt, self.instance.uuid, self.volume_id)
        self.assertNotIn(self.src, self.cinder.attachments)
        self.assertNotIn('/dev/vdb',
                         self.driver.instances[self.instance.uuid]['disks'])
        self.assertEqual(['instance.volume_detach.start',
                          'instance.volume_detach.end'],
                         self.rpc.event_types('instance.volume_detach'))
        payload = self.rpc.notifications('instance.volume_detach')[0][
            'payload']['nova_object.data']
        self.assertEqual(self.volume_id, payload['volume_id'])

    def test_guest_keeping_the_disk_is_an_error_event(self):
        self.driver.fail['detach_volume'] = lv_exc.DeviceDetachTimeout(
            domain=self.instance.uuid, disk='vdb', timeout=20)
        # Old code: the DeviceDetachTimeout came back as the API's 409.
        ctxt, _took = self.detach()
        action, events = self.action(ctxt)
        self.assertEqual([('compute_detach_volume', 'Error')],
                         [(e.event, e.result) for e in events])
        self.assertIn('did not release disk vdb', events[0].details)
        self.assertIn('did not release disk vdb', action.message)
        # Nothing was half done: the volume is still attached everywhere.
        bdm = db.bdm_get_by_volume(self.ctxt, self.instance.uuid,
                                   self.volume_id)
        self.assertEqual(self.src, bdm.attachment_id)
        self.assertIn(self.src, self.cinder.attachments)
        self.assertIsNone(self.instance_now().task_state)
        self.assertEqual(['instance.volume_detach.start',
                          'instance.volume_detach.error'],
                         self.rpc.event_types('instance.volume_detach'))
        error = self.rpc.notifications('instance.volume_detach')[1]
        self.assertIn('did not release',
                      error['payload']['nova_object.data']['fault'])

    def test_unknown_volume_is_refused_synchronously(self):
        with mock.patch.object(self.api.compute_rpcapi,
                               'detach_volume') as cast:
            self.assertRaises(exception.VolumeBDMNotFound,
                              self.api.detach_volume, self.ctxt,
                              self.instance_now(), 'no-such-volume')
        cast.assert_not_called()
        self.assertIsNone(self.instance_now().task_state)

    def test_migrating_volume_is_409_synchronously(self):
        self.api.volume_migration_start(self.service_ctxt, self.src)
        with mock.patch.object(self.api.compute_rpcapi,
                               'detach_volume') as cast:
            e = self.assertRaises(exception.Conflict, self.api.detach_volume,
                                  self.ctxt, self.instance_now(),
                                  self.volume_id)
        self.assertEqual(409, e.code)
        cast.assert_not_called()
        self.assertEqual(task_states.VOLUME_MIGRATING,
                         self.instance_now().task_state)

    def test_a_cast_that_cannot_be_sent_releases_the_claim(self):
        with mock.patch.object(
                self.api.compute_rpcapi, 'detach_volume',
                side_effect=messaging.MessageDeliveryFailure('broker gone')):
            e = self.assertRaises(exception.Conflict, self.api.detach_volume,
                                  self.ctxt, self.instance_now(),
                                  self.volume_id)
        self.assertIn('broker gone', e.format_message())
        self.assertIsNone(self.instance_now().task_state)


class TestDetachRPC(base.TestCase):

    def test_detach_is_a_1_1_cast(self):
        api = compute_rpcapi.ComputeAPI.__new__(compute_rpcapi.ComputeAPI)
        api.client = mock.Mock()
        api.client.can_send_version.return_value = True
        prepared = api.client.prepare.return_value
        api.detach_volume('ctxt', 'uuid', 'host1', 7)
        self.assertEqual('1.1', api.client.prepare.call_args.kwargs[
            'version'])
        prepared.cast.assert_called_once_with(
            'ctxt', 'detach_volume', instance_uuid='uuid', bdm_id=7)
        prepared.call.assert_not_called()

    def test_a_1_0_host_still_gets_the_call(self):
        api = compute_rpcapi.ComputeAPI.__new__(compute_rpcapi.ComputeAPI)
        api.client = mock.Mock()
        api.client.can_send_version.return_value = False
        prepared = api.client.prepare.return_value
        api.detach_volume('ctxt', 'uuid', 'host1', 7)
        self.assertEqual('1.0', api.client.prepare.call_args.kwargs[
            'version'])
        prepared.call.assert_called_once_with(
            'ctxt', 'detach_volume', instance_uuid='uuid', bdm_id=7)
