"""Entry point of oslo-config-generator for the Nova side."""

import collections

from nova_volmig.conf import api
from nova_volmig.conf import base
from nova_volmig.conf import cinder
from nova_volmig.conf import compute
from nova_volmig.conf import database
from nova_volmig.conf import libvirt


def list_opts():
    merged = collections.defaultdict(list)
    for module in (base, api, cinder, compute, database, libvirt):
        for group, opts in module.list_opts().items():
            merged[group].extend(opts)
    return list(merged.items())
