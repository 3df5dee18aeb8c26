"""Entry point of oslo-config-generator for the Nova side."""

import collections

from nova_volmig import conf


def list_opts():
    merged = collections.defaultdict(list)
    for module in conf.ALL_MODULES:
        for group, opts in module.list_opts().items():
            merged[group].extend(opts)
    return list(merged.items())
