"""QEMU's block-node graph over QMP, for what libvirt has no API for.

libvirt 9.0 cannot change the backing node of a running disk, so the
``rebase`` complete (DESIGN 5) talks QMP through
``virDomainQemuMonitorCommand`` (``libvirt_qemu.qemuMonitorCommand``). In
the style of ``guest.py`` each method of :class:`QemuMonitor` makes one QMP
command and names it; the node graph is always read from QEMU
(``query-named-block-nodes`` for the nodes, ``x-debug-query-block-graph``
for the edges and for which node a device uses), never parsed from
libvirt's XML, because after a rebase that XML is not true.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import libvirt
from oslo_log import log as logging

from nova_volmig.virt.libvirt import config
from nova_volmig.virt.libvirt import exception as lv_exc

LOG = logging.getLogger(__name__)

#: QMP commands the rebase switch needs (``query-commands`` lists them).
REBASE_COMMANDS = ('blockdev-add', 'blockdev-reopen', 'blockdev-del',
                   'query-named-block-nodes', 'x-debug-query-block-graph')

#: Filters block jobs put above a device's top node; the data is below.
JOB_FILTERS = ('mirror_top', 'commit_top')

#: Storage drivers, by the libvirt disk type they stand for.
STORAGE_KINDS = {'file': 'file', 'host_device': 'block', 'nbd': 'network'}


@dataclasses.dataclass(frozen=True)
class BlockNode:
    """One node of ``query-named-block-nodes`` (``BlockDeviceInfo``)."""

    node_name: str
    driver: str
    #: what QEMU opened: a path, or ``nbd://host:port/export``
    filename: str
    read_only: bool
    cache_direct: bool = False
    cache_no_flush: bool = False
    detect_zeroes: str = 'off'

    @classmethod
    def from_qmp(cls, info: dict[str, Any]) -> BlockNode:
        cache = info.get('cache') or {}
        return cls(node_name=info['node-name'], driver=info['drv'],
                   filename=info.get('file', ''),
                   read_only=bool(info.get('ro')),
                   cache_direct=bool(cache.get('direct')),
                   cache_no_flush=bool(cache.get('no-flush')),
                   detect_zeroes=info.get('detect_zeroes', 'off'))

    @property
    def cache(self) -> dict[str, bool]:
        """The ``cache`` option of blockdev-add/-reopen, as reported."""
        return {'direct': self.cache_direct, 'no-flush': self.cache_no_flush}

    def disk_source(self, storage: BlockNode | None = None,
                    backing: config.DiskSource | None = None
                    ) -> config.DiskSource:
        """This (format) node as a :class:`config.DiskSource`.

        The location is the storage child's filename: a format node whose
        backing was changed reports a ``json:{...}`` filename.
        """
        filename = storage.filename if storage is not None else \
            self.filename
        source = config.DiskSource.from_uri(filename, self.driver)
        if storage is not None and STORAGE_KINDS.get(storage.driver) == \
                'block':
            source = dataclasses.replace(source, kind='block')
        return source.with_backing(backing)


class BlockGraph:
    """Nodes and parent -> child edges of one QEMU, as QEMU reports them."""

    def __init__(self, nodes: list[BlockNode],
                 edges: dict[str, dict[str, str]],
                 devices: dict[str, str]):
        self.nodes = {node.node_name: node for node in nodes}
        #: parent node-name -> {child role ('file', 'backing'): node-name}
        self.edges = edges
        #: qdev id or path -> node-name of the device's top node
        self.devices = devices

    def node(self, name: str) -> BlockNode:
        try:
            return self.nodes[name]
        except KeyError:
            raise lv_exc.BlockNodeNotFound(node=name) from None

    def child(self, name: str, role: str) -> BlockNode | None:
        child = self.edges.get(name, {}).get(role)
        return self.nodes.get(child) if child else None

    def device_node(self, alias: str) -> BlockNode | None:
        """The top node of the device whose libvirt alias is ``alias``.

        A job's filter node (QEMU hides implicit ones from query-block,
        not necessarily named ones) is skipped.
        """
        for qdev, node_name in self.devices.items():
            if qdev == alias or qdev.startswith(
                    '/machine/peripheral/%s/' % alias):
                node = self.nodes.get(node_name)
                while node is not None and node.driver in JOB_FILTERS:
                    node = (self.child(node.node_name, 'backing')
                            or self.child(node.node_name, 'file'))
                return node
        return None

    def location(self, node: BlockNode) -> config.DiskSource:
        """Where ``node`` (a format node) really reads: its storage."""
        return node.disk_source(self.child(node.node_name, 'file'))

    def backing_chain(self, top: BlockNode) -> list[BlockNode]:
        """``top`` and its backing format nodes, active layer first."""
        chain, node, seen = [], top, set()
        while node is not None and node.node_name not in seen:
            seen.add(node.node_name)
            chain.append(node)
            node = self.child(node.node_name, 'backing')
        return chain

    def disk_source(self, top: BlockNode) -> config.DiskSource:
        """The chain under ``top`` as libvirt would describe it if true."""
        source = None
        for node in reversed(self.backing_chain(top)):
            source = node.disk_source(self.child(node.node_name, 'file'),
                                      source)
        return source


class QemuMonitor:
    """QMP commands on one running domain, one method per command."""

    def __init__(self, guest):
        self.guest = guest

    def execute(self, command: str, **arguments: Any) -> Any:
        return self._execute(command, False, arguments)

    def query(self, command: str, **arguments: Any) -> Any:
        """A read-only QMP command (retried over a libvirtd restart)."""
        return self._execute(command, True, arguments)

    def _execute(self, command: str, idempotent: bool,
                 arguments: dict[str, Any]) -> Any:
        """One QMP command via ``virDomainQemuMonitorCommand``.

        Returns its ``return`` member; a QMP error or a libvirt failure
        raises :class:`lv_exc.QMPCommandFailed` naming the command.
        """
        request = {'execute': command}
        if arguments:
            request['arguments'] = arguments
        started = time.monotonic()
        try:
            reply = json.loads(self.guest.qemu_monitor_command(
                json.dumps(request), idempotent=idempotent))
        except (libvirt.libvirtError, ValueError) as e:
            raise lv_exc.QMPCommandFailed(command=command,
                                          domain=self.guest.uuid, reason=e)
        finally:
            LOG.debug('QMP %s on domain %s took %.1f ms', command,
                      self.guest.uuid, (time.monotonic() - started) * 1000)
        if 'error' in reply:
            raise lv_exc.QMPCommandFailed(
                command=command, domain=self.guest.uuid,
                reason='%(class)s: %(desc)s' % {
                    'class': reply['error'].get('class'),
                    'desc': reply['error'].get('desc')})
        return reply.get('return')

    def query_commands(self) -> set[str]:
        """``query-commands``: the QMP commands this QEMU offers."""
        return {c['name'] for c in self.query('query-commands')}

    def query_named_block_nodes(self) -> list[BlockNode]:
        """``query-named-block-nodes`` (flat): every node of the graph."""
        return [BlockNode.from_qmp(n)
                for n in self.query('query-named-block-nodes', flat=True)]

    def query_block_graph(self) -> tuple[dict[str, dict[str, str]],
                                         dict[str, str]]:
        """``x-debug-query-block-graph``: the edges and the devices.

        Returns parent -> {role: child} over every named node (the only
        QMP command that lists which node is the ``file`` and which the
        ``backing`` of another on QEMU 7.2), and the qdev id or path of
        each device -> the node-name its BlockBackend has as ``root``
        (what ``query-block`` reports, without another QMP round trip).
        """
        graph = self.query('x-debug-query-block-graph')
        nodes = {n['id']: n for n in graph['nodes']}
        edges: dict[str, dict[str, str]] = {}
        devices: dict[str, str] = {}
        for edge in graph['edges']:
            parent, child = nodes.get(edge['parent']), nodes.get(
                edge['child'])
            if not (parent and child and parent['name'] and child['name']):
                continue
            edges.setdefault(parent['name'], {})[edge['name']] = \
                child['name']
            if parent['type'] == 'block-backend' and edge['name'] == 'root':
                devices[parent['name']] = child['name']
        return edges, devices

    def block_graph(self) -> BlockGraph:
        """The whole graph: nodes, edges and devices, read from QEMU."""
        edges, devices = self.query_block_graph()
        return BlockGraph(self.query_named_block_nodes(), edges, devices)

    def blockdev_add(self, options: dict[str, Any]) -> None:
        """``blockdev-add`` one node."""
        self.execute('blockdev-add', **options)

    def blockdev_reopen(self, options: list[dict[str, Any]]) -> None:
        """``blockdev-reopen``: the nodes' full option sets, atomically."""
        self.execute('blockdev-reopen', options=options)

    def blockdev_del(self, node_name: str) -> None:
        """``blockdev-del`` of a node no parent uses any more."""
        self.execute('blockdev-del', **{'node-name': node_name})


def storage_options(source: config.DiskSource, node_name: str,
                    like: BlockNode, read_only: bool) -> dict[str, Any]:
    """blockdev-add options of the storage node of ``source``.

    ``like`` is the storage node it replaces: its cache mode is kept, as
    libvirt had chosen it (libvirt opens storage with auto-read-only and
    discard=unmap).
    """
    options: dict[str, Any] = {
        'node-name': node_name, 'read-only': read_only,
        'auto-read-only': True, 'discard': 'unmap', 'cache': like.cache}
    if source.kind == 'network':
        options.update(driver=source.protocol, export=source.name,
                       server={'type': 'inet', 'host': source.host,
                               'port': str(source.port)})
    else:
        options.update(driver='host_device' if source.kind == 'block'
                       else 'file', filename=source.path)
    return options


def format_options(source: config.DiskSource, node_name: str,
                   storage_node: str, like: BlockNode,
                   read_only: bool) -> dict[str, Any]:
    """blockdev-add options of the format node of ``source``."""
    return {'node-name': node_name, 'driver': source.format,
            'file': storage_node, 'read-only': read_only,
            'cache': like.cache,
            'detect-zeroes': like.detect_zeroes}


def reopen_options(graph: BlockGraph, node: BlockNode,
                   backing: str) -> dict[str, Any]:
    """blockdev-reopen options of ``node`` with a new ``backing`` child.

    Every other option is kept as QEMU reports it (driver, file child,
    read-only, cache, detect-zeroes): blockdev-reopen resets any option
    left out to its default.
    """
    file_child = graph.child(node.node_name, 'file')
    if file_child is None:
        raise lv_exc.BlockNodeNotFound(node='file child of %s'
                                       % node.node_name)
    return {'driver': node.driver, 'node-name': node.node_name,
            'file': file_child.node_name, 'read-only': node.read_only,
            'cache': node.cache, 'detect-zeroes': node.detect_zeroes,
            'backing': backing}


def true_disk(graph: BlockGraph, disk: config.DiskState) -> config.DiskState:
    """``disk`` with its chain (and active-commit base) as QEMU has it."""
    top = graph.device_node(disk.alias) if disk.alias else None
    if top is None:
        return disk
    source = graph.disk_source(top)
    mirror = disk.mirror
    if disk.mirror_job == 'active-commit' and source.backing is not None:
        mirror = source.backing
    return dataclasses.replace(disk, source=source, mirror=mirror)
