"""volmig_common.inproc_transport: fake's exchanges, woken on delivery."""

from __future__ import annotations

import threading
from unittest import mock

from oslo_config import cfg
import oslo_messaging as messaging

from tests import base
from volmig_common import inproc_transport


class Echo:
    target = messaging.Target(version='1.0')

    def echo(self, context, value):
        return value


def _no_sleep(*args):
    raise AssertionError('a listener slept for a fixed pause')


class TestInProcessTransport(base.TestCase):

    def setUp(self):
        super().setUp()
        self.transport = messaging.get_rpc_transport(
            cfg.CONF, url=inproc_transport.URL)
        self.addCleanup(self.transport.cleanup)

    def _server(self, topic='t', server='h'):
        rpc_server = messaging.get_rpc_server(
            self.transport, messaging.Target(topic=topic, server=server),
            [Echo()])
        rpc_server.start()
        self.addCleanup(rpc_server.wait)
        self.addCleanup(rpc_server.stop)
        return rpc_server

    def test_the_scheme_loads_this_driver(self):
        self.assertIsInstance(self.transport._driver,
                              inproc_transport.InProcessDriver)

    def test_call_is_answered_without_a_polling_pause(self):
        self._server()
        client = messaging.get_rpc_client(
            self.transport, messaging.Target(topic='t', server='h'),
            timeout=10)
        # fake:/ sleeps 50 ms between looks at its queues: time.sleep.
        with mock.patch('time.sleep', side_effect=_no_sleep):
            for value in range(5):
                self.assertEqual(value, client.call({}, 'echo',
                                                    value=value))

    def test_cast_and_fanout_are_delivered(self):
        self._server(server='h1')
        self._server(server='h2')
        client = messaging.get_rpc_client(
            self.transport, messaging.Target(topic='t', fanout=True))
        client.cast({}, 'echo', value=1)
        self.assertEqual(2, messaging.get_rpc_client(
            self.transport, messaging.Target(topic='t', server='h2'),
            timeout=10).call({}, 'echo', value=2))

    def _listener(self):
        driver = self.transport._driver
        return driver.listen(messaging.Target(topic='l', server='s'),
                             batch_size=1, batch_timeout=None)

    def test_stop_wakes_a_listener_waiting_without_timeout(self):
        listener = self._listener()._poll_style_listener
        returned = []
        poller = threading.Thread(
            target=lambda: returned.append(listener.poll(timeout=None)))
        with mock.patch('time.sleep', side_effect=_no_sleep):
            poller.start()
            listener.stop()
            poller.join(10)
        self.assertFalse(poller.is_alive())
        self.assertEqual([[]], returned)

    def test_poll_gives_up_after_its_timeout(self):
        listener = self._listener()._poll_style_listener
        with mock.patch('time.sleep', side_effect=_no_sleep):
            self.assertEqual([], listener.poll(timeout=0.01))

    def test_a_delivery_wakes_a_waiting_listener(self):
        listener = self._listener()._poll_style_listener
        returned = []
        started = threading.Event()

        def poll():
            started.set()
            returned.extend(listener.poll(timeout=None))

        poller = threading.Thread(target=poll)
        with mock.patch('time.sleep', side_effect=_no_sleep):
            poller.start()
            started.wait(10)
            self.transport._send(messaging.Target(topic='l', server='s'),
                                 {}, {'method': 'echo', 'args': {}})
            poller.join(10)
        self.assertFalse(poller.is_alive())
        self.assertEqual('echo', returned[0].message['method'])


class TestDoorbell(base.TestCase):

    def test_a_ring_before_the_wait_is_not_lost(self):
        doorbell = inproc_transport.Doorbell()
        seen = doorbell.rung
        doorbell.ring()
        doorbell.wait(seen, timeout=None)      # returns at once
        self.assertEqual(seen + 1, doorbell.rung)
