"""Versioned notifications of volume migrations.

Shaped like Nova's versioned notifications: the payload is a serialised
versioned object (``nova_object.name/namespace/version/data``) sent on the
``versioned_notifications`` topic with event types
``instance.volume_migration.{start,end,error}`` and a phase in the payload.
"""

from __future__ import annotations

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import timeutils

from nova_volmig import rpc

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

PAYLOAD_VERSION = '1.0'


def _instance_data(instance) -> dict:
    """The instance's part of a payload (upstream's InstancePayload)."""
    return {
        'instance_uuid': instance.uuid,
        'instance_name': instance.name,
        'host': instance.host,
        'project_id': instance.project_id,
        'user_id': instance.user_id,
        'state': instance.vm_state,
    }


def _versioned(name: str, data: dict) -> dict:
    """A serialised versioned object, as Nova's notifications carry."""
    return {
        'nova_object.name': name,
        'nova_object.namespace': 'nova',
        'nova_object.version': PAYLOAD_VERSION,
        'nova_object.data': data,
    }


def _payload(instance, migration, action: str, fault: str | None) -> dict:
    data = {
        'action': action,
        **_instance_data(instance),
        'task_state': instance.task_state,
        'src_attachment_id': migration.src_attachment_id,
        'dst_attachment_id': migration.dst_attachment_id,
        'volume_id': migration.volume_id,
        'migration_status': migration.status,
        'fault': fault,
        'timestamp': timeutils.utcnow().isoformat(),
    }
    return _versioned('InstanceActionVolumeMigrationPayload', data)


def _send(context, instance, event_type: str, phase: str,
          payload: dict) -> None:
    """Send at ERROR for an ``error`` phase, else INFO; never raise."""
    try:
        notifier = rpc.get_notifier('nova-compute:%s' % CONF.host)
        if phase == 'error':
            notifier.error(context, event_type, payload)
        else:
            notifier.info(context, event_type, payload)
    except Exception:
        LOG.exception('Failed to send %s notification for instance %s',
                      event_type, instance.uuid)


def notify_volume_migration(context, instance, migration, action: str,
                            phase: str, fault: str | None = None) -> None:
    """Emit ``instance.volume_migration.<phase>`` for start/complete/cancel.

    ``phase`` is ``start``, ``end`` or ``error``; notification failures are
    logged and never break the operation.
    """
    event_type = 'instance.volume_migration.%s' % phase
    payload = _payload(instance, migration, action, fault)
    _send(context, instance, event_type, phase, payload)


def notify_volume_detach(context, instance, volume_id: str, phase: str,
                         fault: str | None = None) -> None:
    """Emit ``instance.volume_detach.<phase>`` (upstream's event types).

    The payload is upstream's ``InstanceActionVolumePayload`` in short: the
    instance, the volume and the fault of an ``error``.
    """
    event_type = 'instance.volume_detach.%s' % phase
    payload = _versioned('InstanceActionVolumePayload', {
        **_instance_data(instance),
        'volume_id': volume_id,
        'fault': fault,
        'timestamp': timeutils.utcnow().isoformat(),
    })
    _send(context, instance, event_type, phase, payload)
