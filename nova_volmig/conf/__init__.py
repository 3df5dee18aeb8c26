"""Configuration options of the Nova side, registered on ``cfg.CONF``.

One module per group, as in Nova: each defines ``register_opts(conf)`` and
``list_opts()``; this package registers them all on import.
"""

from oslo_config import cfg

from nova_volmig.conf import api
from nova_volmig.conf import base
from nova_volmig.conf import cinder
from nova_volmig.conf import compute
from nova_volmig.conf import database
from nova_volmig.conf import libvirt

CONF = cfg.CONF

# Every option module, in registration (and sample) order.
ALL_MODULES = (base, api, cinder, compute, database, libvirt)

for _module in ALL_MODULES:
    _module.register_opts(CONF)
