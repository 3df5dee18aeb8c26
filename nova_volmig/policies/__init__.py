"""Default policy rules, one module per resource (Nova's layout).

``list_rules`` is the ``oslo.policy.policies`` entry point that
``oslopolicy-sample-generator --namespace nova_volmig`` reads.
"""

import itertools

from nova_volmig.policies import base
from nova_volmig.policies import instance_actions
from nova_volmig.policies import servers
from nova_volmig.policies import volume_attachments
from nova_volmig.policies import volume_migrations


def list_rules():
    return list(itertools.chain(
        base.list_rules(),
        servers.list_rules(),
        volume_attachments.list_rules(),
        instance_actions.list_rules(),
        volume_migrations.list_rules(),
    ))
