"""Server bodies, as upstream Nova's server view builder shapes them."""

from __future__ import annotations

import hashlib
from typing import Callable

from nova_volmig.api.openstack import common
from nova_volmig.compute import vm_states
from nova_volmig.policies import servers as server_policies
from nova_volmig import policy


# Finds a flavor by id; None when it is unknown.
FlavorLookup = Callable[[str], 'dict | None']


def status(instance) -> str:
    return vm_states.API_STATUS.get(instance.vm_state, 'UNKNOWN')


def host_id(instance) -> str:
    """Upstream's opaque per-project host id."""
    if not instance.host:
        return ''
    data = (instance.project_id + instance.host).encode('utf-8')
    return hashlib.sha224(data).hexdigest()


def basic(req, instance) -> dict:
    return {'id': instance.uuid, 'name': instance.display_name,
            'links': common.links(req, 'servers', instance.uuid)}


def create_response(req, instance) -> dict:
    """The body of ``POST /servers`` (202): id and links only."""
    return {'server': {'id': instance.uuid,
                       'links': common.links(req, 'servers', instance.uuid),
                       'OS-DCF:diskConfig': 'MANUAL',
                       'security_groups': []}}


def _flavor(req, instance, flavor_lookup: FlavorLookup) -> dict:
    flavor = flavor_lookup(instance.flavor_ref) if instance.flavor_ref \
        else None
    if req.is_version('2.47'):
        return {'vcpus': instance.vcpus, 'ram': instance.memory_mb,
                'disk': flavor['disk'] if flavor else 0,
                'ephemeral': 0, 'swap': 0,
                'original_name': (flavor['name'] if flavor
                                  else instance.flavor_ref or 'default')}
    flavor_id = instance.flavor_ref or ''
    return {'id': flavor_id,
            'links': common.bookmark_link(req, 'flavors', flavor_id)}


def _image(req, instance):
    # Upstream shows "" for a server that did not boot from an image.
    if not instance.image_ref:
        return ''
    return {'id': instance.image_ref,
            'links': common.bookmark_link(req, 'images',
                                          instance.image_ref)}


def detail(req, instance, bdms: list, flavor_lookup: FlavorLookup) -> dict:
    """The full server body of show and detail."""
    context = req.context
    server = basic(req, instance)
    server.update({
        'status': status(instance),
        'tenant_id': instance.project_id,
        'user_id': instance.user_id,
        'created': common.isotime(instance.created_at),
        'updated': common.isotime(instance.updated_at or
                                  instance.created_at),
        'hostId': host_id(instance),
        'flavor': _flavor(req, instance, flavor_lookup),
        'image': _image(req, instance),
        'addresses': {},
        'metadata': {},
        'accessIPv4': '',
        'accessIPv6': '',
        'progress': 0,
        'key_name': None,
        'config_drive': '',
        'OS-DCF:diskConfig': 'MANUAL',
        'OS-EXT-AZ:availability_zone': instance.availability_zone or '',
        'OS-EXT-STS:task_state': instance.task_state,
        'OS-EXT-STS:vm_state': instance.vm_state,
        'OS-EXT-STS:power_state': instance.power_state,
        'OS-SRV-USG:launched_at': common.isotime_micro(instance.launched_at),
        'OS-SRV-USG:terminated_at': common.isotime_micro(
            instance.terminated_at),
        'os-extended-volumes:volumes_attached': [
            _volume_attached(req, bdm) for bdm in bdms],
    })
    if policy.can(context, server_policies.EXTENDED_ATTRIBUTES,
                  {'project_id': instance.project_id}):
        server['OS-EXT-SRV-ATTR:host'] = instance.host
        server['OS-EXT-SRV-ATTR:hypervisor_hostname'] = instance.host
        server['OS-EXT-SRV-ATTR:instance_name'] = instance.name
    if req.is_version('2.9'):
        server['locked'] = bool(instance.locked)
    if req.is_version('2.19'):
        server['description'] = None
    if req.is_version('2.26'):
        server['tags'] = []
    if req.is_version('2.73'):
        server['locked_reason'] = None
    if instance.vm_state == vm_states.ERROR and instance.fault:
        server['fault'] = {
            'code': 500,
            'created': common.isotime(instance.updated_at or
                                      instance.created_at),
            'message': instance.fault,
        }
    return server


def _volume_attached(req, bdm) -> dict:
    volume = {'id': bdm.volume_id}
    if req.is_version('2.3'):
        volume['delete_on_termination'] = False
    return volume
