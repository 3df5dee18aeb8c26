"""A fake QEMU block layer answering the QMP commands ``blockdev`` uses."""

from __future__ import annotations

import copy
import json

OVERLAY = '/ov/u_a_start.qcow2'
SRC = '/vol/src.raw'
DST = '/vol/dst.raw'
QDEV = '/machine/peripheral/ua-vol-vdb/virtio-backend'


class FakeQemu:
    """Nodes, edges and a device; fails a chosen command on request."""

    def __init__(self, commands=None):
        self.nodes: dict[str, dict] = {}
        self.edges: dict[str, dict[str, str]] = {}
        self.device_top = 'libvirt-2-format'
        self.commands = commands or [
            'blockdev-add', 'blockdev-reopen', 'blockdev-del',
            'query-named-block-nodes', 'x-debug-query-block-graph',
            'query-commands']
        self.calls: list[tuple[str, dict]] = []
        #: command name -> how many more calls succeed before it fails
        self.fail_after: dict[str, int] = {}
        self._add('libvirt-1-storage', 'file', SRC, False)
        self._add('libvirt-1-format', 'raw', SRC, True,
                  file='libvirt-1-storage')
        self._add('libvirt-2-storage', 'file', OVERLAY, False)
        self._add('libvirt-2-format', 'qcow2', OVERLAY, False,
                  file='libvirt-2-storage', backing='libvirt-1-format')

    def _add(self, name, drv, filename, ro, **children):
        self.nodes[name] = {
            'node-name': name, 'drv': drv, 'file': filename, 'ro': ro,
            'cache': {'direct': True, 'no-flush': False, 'writeback': True},
            'detect_zeroes': 'off'}
        self.edges[name] = {k: v for k, v in children.items() if v}

    def backing_of_overlay(self) -> tuple[str, str]:
        name = self.edges['libvirt-2-format']['backing']
        return name, self.nodes[self.edges[name]['file']]['file']

    def users(self, name):
        return [p for p, ch in self.edges.items() if name in ch.values()]

    # the monitor

    def command(self, request: str, idempotent: bool = False) -> str:
        req = json.loads(request)
        cmd, args = req['execute'], req.get('arguments', {})
        self.calls.append((cmd, args))
        if cmd in self.fail_after:
            if self.fail_after[cmd] == 0:
                return json.dumps({'error': {'class': 'GenericError',
                                             'desc': 'injected'}})
            self.fail_after[cmd] -= 1
        if cmd not in self.commands:
            return json.dumps({'error': {'class': 'CommandNotFound',
                                         'desc': 'no %s' % cmd}})
        return json.dumps({'return': getattr(
            self, '_' + cmd.replace('-', '_'))(**args)})

    def _query_commands(self):
        return [{'name': c} for c in self.commands]

    def _query_named_block_nodes(self, flat=False):
        return [copy.deepcopy(n) for n in self.nodes.values()]

    def _x_debug_query_block_graph(self):
        ids = {name: i for i, name in enumerate(self.nodes, start=1)}
        nodes = [{'id': i, 'name': n, 'type': 'block-driver'}
                 for n, i in ids.items()]
        edges = [{'parent': ids[p], 'child': ids[c], 'name': role}
                 for p, ch in self.edges.items() for role, c in ch.items()]
        # The device's BlockBackend, named by its qdev path, and a job's
        # anonymous one.
        nodes += [{'id': 0, 'name': QDEV, 'type': 'block-backend'},
                  {'id': -1, 'name': '', 'type': 'block-backend'}]
        edges += [{'parent': 0, 'child': ids[self.device_top],
                   'name': 'root'},
                  {'parent': -1, 'child': ids[self.device_top],
                   'name': 'root'}]
        return {'nodes': nodes, 'edges': edges}

    def _blockdev_add(self, **o):
        name = o['node-name']
        assert name not in self.nodes, 'duplicate node-name %s' % name
        if o['driver'] in ('file', 'host_device'):
            filename = o['filename']
        elif o['driver'] == 'nbd':
            filename = 'nbd://%s:%s/%s' % (o['server']['host'],
                                           o['server']['port'], o['export'])
        else:
            filename = self.nodes[o['file']]['file']
        self._add(name, o['driver'], filename, o.get('read-only', False),
                  file=o.get('file') if isinstance(o.get('file'), str)
                  else None)
        return {}

    def _blockdev_reopen(self, options):
        for o in options:
            name = o['node-name']
            assert self.nodes[name]['drv'] == o['driver']
            assert self.edges[name]['file'] == o['file']
            assert o['backing'] in self.nodes
            self.last_reopen = o
            self.edges[name]['backing'] = o['backing']
            self.nodes[name]['file'] = 'json:{...}'
        return {}

    def _blockdev_del(self, **o):
        name = o['node-name']
        assert not self.users(name), '%s is in use' % name
        del self.nodes[name]
        del self.edges[name]
        return {}
