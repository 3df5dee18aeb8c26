"""Version documents at ``/`` and ``/v3/``."""

from __future__ import annotations

from cinder_driver_side.api import microversions

UPDATED = '2026-11-21T00:00:00Z'


def version_v3(base: str) -> dict:
    return {
        'id': 'v3.0', 'status': 'CURRENT',
        'version': microversions.MAX_VERSION,
        'min_version': microversions.MIN_VERSION,
        'updated': UPDATED,
        'links': [{'rel': 'describedby', 'type': 'text/html',
                   'href': 'https://docs.openstack.org/'},
                  {'rel': 'self', 'href': base + '/v3/'}],
        'media-types': [{
            'base': 'application/json',
            'type': 'application/vnd.openstack.volume+json;version=3'}],
    }


def versions(base: str) -> dict:
    return {'versions': [version_v3(base)]}
