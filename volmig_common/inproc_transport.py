"""``volmig-inproc:/``: oslo.messaging in one process, without polling.

oslo.messaging's own in-process driver (``fake:/``) lets each listener
sleep 50 ms between looks at its queues, so every RPC call waits up to
50 ms before its server sees it: a quarter of the 200 ms a Cinder
caller may wait in complete. This driver keeps fake's exchanges (each
message checked to be JSON-serializable, passed in memory, replies on
a queue) and rings a doorbell on every delivery: a listener sleeps
until the next one, not for a fixed pause.

The embedded deployment (``nova-volmig-aio``) and the tests use it;
the distributed deployment uses RabbitMQ (``rabbit://``). Registered
as an ``oslo.messaging.drivers`` entry point (setup.cfg).
"""

from __future__ import annotations

import threading
import time

import oslo_messaging
from oslo_messaging._drivers import base
from oslo_messaging._drivers import impl_fake

SCHEME = 'volmig-inproc'
URL = SCHEME + ':/'


class Doorbell:
    """A counter of deliveries that listeners can sleep on."""

    def __init__(self):
        self._rung = 0
        self._condition = threading.Condition()

    @property
    def rung(self) -> int:
        """Deliveries so far: read it *before* looking at the queues."""
        with self._condition:
            return self._rung

    def ring(self) -> None:
        with self._condition:
            self._rung += 1
            self._condition.notify_all()

    def wait(self, seen: int, timeout: float | None) -> None:
        """Sleep until the count passes ``seen`` or ``timeout`` ends."""
        with self._condition:
            self._condition.wait_for(lambda: self._rung != seen, timeout)


class _Exchange(impl_fake.FakeExchange):

    def __init__(self, name: str, doorbell: Doorbell):
        super().__init__(name)
        self._doorbell = doorbell

    def deliver_message(self, *args, **kwargs) -> None:
        # Requeued messages come through here too.
        super().deliver_message(*args, **kwargs)
        self._doorbell.ring()


class _ExchangeManager(impl_fake.FakeExchangeManager):
    # Shared by every driver of the process (RPC and notifications), as
    # fake's are, but apart from them.
    _exchanges_lock = threading.Lock()
    _exchanges: dict[str, _Exchange] = {}
    doorbell = Doorbell()

    def get_exchange(self, name: str | None) -> _Exchange:
        if name is None:
            name = self._default_exchange
        with self._exchanges_lock:
            exchange = self._exchanges.get(name)
            if exchange is None:
                exchange = self._exchanges[name] = _Exchange(
                    name, self.doorbell)
            return exchange


class _Listener(impl_fake.FakeListener):

    def _take(self) -> impl_fake.FakeIncomingMessage | None:
        for target in self._targets:
            exchange = self._exchange_manager.get_exchange(target.exchange)
            ctxt, message, reply_q, requeue = exchange.poll(target,
                                                            self._pool)
            if message is not None:
                return impl_fake.FakeIncomingMessage(ctxt, message,
                                                     reply_q, requeue)
        return None

    @base.batch_poll_helper
    def poll(self, timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        doorbell = self._exchange_manager.doorbell
        while True:
            # The count first: a delivery or stop() after it wakes the
            # wait below even if it came before the wait began.
            seen = doorbell.rung
            if self._stopped.is_set():
                return None
            message = self._take()
            if message is not None:
                return message
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            doorbell.wait(seen, left)

    def stop(self) -> None:
        super().stop()
        self._exchange_manager.doorbell.ring()


class InProcessDriver(impl_fake.FakeDriver):
    """fake's in-memory driver whose listeners wake on delivery."""

    def __init__(self, conf, url, default_exchange=None,
                 allowed_remote_exmods=None):
        super().__init__(conf, url, default_exchange,
                         allowed_remote_exmods)
        self._exchange_manager = _ExchangeManager(default_exchange)

    def listen(self, target, batch_size, batch_timeout):
        exchange = target.exchange or self._default_exchange
        targets = [oslo_messaging.Target(topic=target.topic,
                                         server=target.server,
                                         exchange=exchange),
                   oslo_messaging.Target(topic=target.topic,
                                         exchange=exchange)]
        return base.PollStyleListenerAdapter(
            _Listener(self._exchange_manager, targets), batch_size,
            batch_timeout)

    def listen_for_notifications(self, targets_and_priorities, pool,
                                 batch_size, batch_timeout):
        targets = [oslo_messaging.Target(topic='%s.%s' % (target.topic,
                                                          priority),
                                         exchange=target.exchange)
                   for target, priority in targets_and_priorities]
        return base.PollStyleListenerAdapter(
            _Listener(self._exchange_manager, targets, pool), batch_size,
            batch_timeout)
