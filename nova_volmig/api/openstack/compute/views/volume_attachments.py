"""Volume attachment bodies, per microversion as upstream shapes them."""

from __future__ import annotations

import uuid

from nova_volmig.api import api_version_request

# BDMs here have integer ids; 2.89's bdm_uuid is derived from them,
# stable for the life of the attachment.
_BDM_UUID_NAMESPACE = uuid.UUID('0b7b6f0e-5d0e-4a57-9d3c-6c1f3e6e2a89')


def bdm_uuid(bdm) -> str:
    explicit = getattr(bdm, 'uuid', None)
    if explicit:
        return explicit
    return str(uuid.uuid5(_BDM_UUID_NAMESPACE,
                          '%s/%s' % (bdm.instance_uuid, bdm.id)))


def attachment(req, bdm) -> dict:
    body = {}
    if not req.is_version('2.89'):
        body['id'] = bdm.volume_id
    body['volumeId'] = bdm.volume_id
    body['serverId'] = bdm.instance_uuid
    if bdm.device_name:
        body['device'] = bdm.device_name
    if req.is_version('2.70'):
        body['tag'] = None
    if req.is_version('2.79'):
        body['delete_on_termination'] = False
    if req.is_version('2.89'):
        body['attachment_id'] = bdm.attachment_id
        body['bdm_uuid'] = bdm_uuid(bdm)
    if (req.is_version(api_version_request.VOLUME_MIGRATION_VERSION)
            and bdm.swap_progress is not None):
        body['swap_progress'] = bdm.swap_progress
    return body
