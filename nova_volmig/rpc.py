"""oslo.messaging plumbing: transports, RPC clients/servers, notifier."""

from __future__ import annotations

from oslo_config import cfg
import oslo_messaging as messaging
from oslo_serialization import jsonutils

from nova_volmig import context as nova_context

CONF = cfg.CONF

# Exceptions that cross RPC with their class (and so their HTTP code).
ALLOWED_EXMODS = ['nova_volmig.exception', 'nova_volmig.db.api',
                  'nova_volmig.virt.libvirt.exception']

TRANSPORT: messaging.Transport | None = None
NOTIFICATION_TRANSPORT: messaging.Transport | None = None
NOTIFIER: messaging.Notifier | None = None


class RequestContextSerializer(messaging.Serializer):
    """Carries the request context (and so the request id) over RPC."""

    def __init__(self, base: messaging.Serializer | None = None):
        self._base = base or messaging.NoOpSerializer()

    def serialize_entity(self, context, entity):
        return self._base.serialize_entity(context, jsonutils.to_primitive(
            entity, convert_instances=True))

    def deserialize_entity(self, context, entity):
        return self._base.deserialize_entity(context, entity)

    def serialize_context(self, context):
        return context.to_dict()

    def deserialize_context(self, context):
        return nova_context.RequestContext.from_dict(context)


def init(conf: cfg.ConfigOpts = CONF, url: str | None = None) -> None:
    """Create the transports; idempotent.

    :param url: transport URL overriding ``[DEFAULT] transport_url`` (the
        aio passes ``volmig-inproc:/``: everything in one process).
    """
    global TRANSPORT, NOTIFICATION_TRANSPORT, NOTIFIER
    if TRANSPORT is not None:
        return
    TRANSPORT = messaging.get_rpc_transport(
        conf, url=url, allowed_remote_exmods=ALLOWED_EXMODS)
    NOTIFICATION_TRANSPORT = messaging.get_notification_transport(
        conf, url=url, allowed_remote_exmods=ALLOWED_EXMODS)
    NOTIFIER = messaging.Notifier(NOTIFICATION_TRANSPORT,
                                  serializer=RequestContextSerializer(),
                                  topics=['versioned_notifications'])


def cleanup() -> None:
    global TRANSPORT, NOTIFICATION_TRANSPORT, NOTIFIER
    for transport in (TRANSPORT, NOTIFICATION_TRANSPORT):
        if transport is not None:
            transport.cleanup()
    TRANSPORT = NOTIFICATION_TRANSPORT = NOTIFIER = None


def get_client(target: messaging.Target, version_cap: str | None = None,
               timeout: int | None = None) -> messaging.RPCClient:
    init()
    return messaging.get_rpc_client(
        TRANSPORT, target, version_cap=version_cap, timeout=timeout,
        serializer=RequestContextSerializer())


def get_server(target: messaging.Target, endpoints: list
               ) -> messaging.MessageHandlingServer:
    init()
    access_policy = messaging.DefaultRPCAccessPolicy
    return messaging.get_rpc_server(
        TRANSPORT, target, endpoints,
        serializer=RequestContextSerializer(),
        access_policy=access_policy)


def get_notifier(publisher_id: str) -> messaging.Notifier:
    init()
    return NOTIFIER.prepare(publisher_id=publisher_id)
