"""Flavor bodies, as upstream shapes them."""

from nova_volmig.api.openstack import common


def basic(req, flavor: dict) -> dict:
    body = {'id': str(flavor['id']), 'name': flavor['name'],
            'links': common.links(req, 'flavors', str(flavor['id']))}
    if req.is_version('2.55'):
        body['description'] = flavor.get('description')
    return body


def detail(req, flavor: dict) -> dict:
    body = basic(req, flavor)
    body.update({
        'ram': flavor['ram'],
        'vcpus': flavor['vcpus'],
        'disk': flavor['disk'],
        'OS-FLV-EXT-DATA:ephemeral': flavor.get('ephemeral', 0),
        'OS-FLV-DISABLED:disabled': False,
        'os-flavor-access:is_public': True,
        'swap': 0 if req.is_version('2.75') else '',
        'rxtx_factor': 1.0,
    })
    if req.is_version('2.61'):
        body['extra_specs'] = {}
    return body
