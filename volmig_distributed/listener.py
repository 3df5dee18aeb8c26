"""Read the versioned notifications a deployment puts on the broker.

``NotificationCollector`` is an oslo.messaging notification listener on
the ``versioned_notifications`` topic. With a pool it has its own queue and
sees every notification without taking any from another consumer; without
one it consumes the topic's default queue. It keeps what it receives and
can wait for an event type.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from oslo_config import cfg
import oslo_messaging as messaging

TOPIC = 'versioned_notifications'


class _Endpoint:
    """Receives every priority; hands each message to ``sink``."""

    def __init__(self, sink: Callable[[dict], None]):
        self._sink = sink

    def _receive(self, priority, ctxt, publisher_id, event_type, payload,
                 metadata):
        self._sink({'priority': priority, 'publisher_id': publisher_id,
                    'event_type': event_type, 'payload': payload,
                    'message_id': (metadata or {}).get('message_id'),
                    'timestamp': (metadata or {}).get('timestamp')})
        return messaging.NotificationResult.HANDLED

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        return self._receive('INFO', ctxt, publisher_id, event_type,
                             payload, metadata)

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        return self._receive('ERROR', ctxt, publisher_id, event_type,
                             payload, metadata)

    def warn(self, ctxt, publisher_id, event_type, payload, metadata):
        return self._receive('WARN', ctxt, publisher_id, event_type,
                             payload, metadata)


class NotificationCollector:
    """Listen to ``versioned_notifications`` on ``transport_url``.

    :param pool: the listener pool: its own queue, so other listeners
        (a real deployment's consumers) still get every message; None
        consumes the topic's default queue.
    :param on_message: optional callback for each message, besides
        keeping it.
    """

    def __init__(self, transport_url: str, pool: str | None = None,
                 on_message: Callable[[dict], None] | None = None):
        # A private ConfigOpts: the caller's cfg.CONF is left alone.
        self._conf = cfg.ConfigOpts()
        self._conf([], project='volmig-listener', default_config_files=[])
        self.transport = messaging.get_notification_transport(
            self._conf, url=transport_url)
        self.messages: list[dict] = []
        self._cond = threading.Condition()
        self._on_message = on_message
        self.listener = messaging.get_notification_listener(
            self.transport, [messaging.Target(topic=TOPIC)],
            [_Endpoint(self._keep)], pool=pool)

    def _keep(self, message: dict) -> None:
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()
        if self._on_message is not None:
            self._on_message(message)

    def start(self) -> None:
        self.listener.start()

    def stop(self) -> None:
        self.listener.stop()
        self.listener.wait()
        self.transport.cleanup()

    def event_types(self, prefix: str = '',
                    where: Callable[[dict], bool] | None = None
                    ) -> list[str]:
        with self._cond:
            return [m['event_type'] for m in self.messages
                    if m['event_type'].startswith(prefix)
                    and (where is None or where(m))]

    def wait_for(self, event_type: str, timeout: float = 60.0,
                 where: Callable[[dict], bool] | None = None) -> dict:
        """The first message of ``event_type`` (matching ``where``)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.messages:
                    if message['event_type'] == event_type and (
                            where is None or where(message)):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        'no %s notification within %ss; got %s' % (
                            event_type, timeout,
                            [m['event_type'] for m in self.messages]))
                self._cond.wait(remaining)
