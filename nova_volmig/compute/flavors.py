"""Built-in flavors: the prototype has no flavor database.

The instances here are libvirt domains that need no guest OS; the tiny
flavor is the 64 MiB diskless domain of DESIGN 3, the larger ones fit the
benchmark's small Linux guest.
"""

from __future__ import annotations

import copy

from nova_volmig import exception

_FLAVORS = {
    '1': {'id': '1', 'name': 'volmig.tiny', 'ram': 64, 'vcpus': 1,
          'disk': 0},
    '2': {'id': '2', 'name': 'volmig.small', 'ram': 256, 'vcpus': 1,
          'disk': 0},
    '3': {'id': '3', 'name': 'volmig.medium', 'ram': 512, 'vcpus': 1,
          'disk': 0},
}

DEFAULT_FLAVOR_ID = '1'


def get_all() -> list[dict]:
    return [copy.deepcopy(f) for f in _FLAVORS.values()]


def get(flavor_id: str | None) -> dict:
    """A flavor by id (or by name); the tiny one when ``None``."""
    flavor_id = DEFAULT_FLAVOR_ID if flavor_id is None else str(flavor_id)
    flavor = _FLAVORS.get(flavor_id) or next(
        (f for f in _FLAVORS.values() if f['name'] == flavor_id), None)
    if flavor is None:
        raise exception.NotFound('Flavor %s could not be found.' % flavor_id)
    return copy.deepcopy(flavor)
