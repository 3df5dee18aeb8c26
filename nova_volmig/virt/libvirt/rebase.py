"""Complete by live rebase: the overlay's backing switched from src to dst.

DESIGN 5's target mechanism ("rebases local qcow2 from src to dst, then
returns success"), in the running QEMU over QMP (``blockdev.py``), since
libvirt 9.0 has no API for it. Cinder guarantees dst holds src as of
start, and the overlay holds every write since, so no data moves:

1. ``blockdev-add`` dst (storage + format) under temporary node names,
   read-only, and ``blockdev-reopen`` the overlay's format node with
   ``backing`` = that node (all other options as QEMU reports them). From
   here the guest reads dst: this is *the switch*.
2. ``blockdev-del`` src's format and storage nodes: src is closed, and
   complete returns (Cinder waits on each QMP call up to here).
3. In the finish, before its block job: ``blockdev-add`` dst again under
   the node names libvirt had given src (libvirt's job, its pivot and its
   removal of the old chain address the backing by those names), reopen
   the overlay onto it, ``blockdev-del`` the temporary nodes. Node names
   are unique, hence the two rounds; the second open of dst does not
   conflict because a backing child only takes read.

:meth:`RebaseSwitch.ensure_switched` reads QEMU's graph and carries on
from wherever it stands (steps 2-3), so the finish, and a compute service
restarted after being killed at any point of the switch, complete it;
:meth:`RebaseSwitch.roll_back` drops the leftovers of a switch that had
not happened.

libvirt's live XML keeps naming src afterwards. Before the switch the
disk is marked in the domain's live metadata (``mark``); for marked
disks ``Guest.get_disks`` takes the chain from QEMU's graph instead (see
doc/source/contributor/design-notes/rebase.rst).
"""

from __future__ import annotations

import threading
from typing import Callable

import cachetools
from oslo_log import log as logging

from nova_volmig.virt.libvirt import blockdev
from nova_volmig.virt.libvirt import config
from nova_volmig.virt.libvirt import exception as lv_exc
from nova_volmig.virt.libvirt import guest as libvirt_guest
from nova_volmig.virt.libvirt import images

LOG = logging.getLogger(__name__)

TMP_STORAGE = 'volmig-dst-storage'
TMP_FORMAT = 'volmig-dst-format'

#: (domain uuid, domain id) -> the QMP commands that QEMU offers.
_OFFERED: cachetools.LRUCache = cachetools.LRUCache(maxsize=256)
_OFFERED_LOCK = threading.Lock()


class SwitchNotMade(Exception):
    """The switch failed before the guest read dst; nothing is left."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class RebaseSwitch:
    """The switch of one disk's overlay from src to dst."""

    def __init__(self, guest, disk: config.DiskState, overlay: str,
                 src: config.DiskSource, dst: config.DiskSource):
        self.guest = guest
        self.alias = disk.alias
        self.target = disk.target
        self.overlay = overlay
        self.src = src
        self.dst = dst
        self.monitor = blockdev.QemuMonitor(guest)

    # reading where it stands

    def _overlay_node(self, graph: blockdev.BlockGraph) -> blockdev.BlockNode:
        top = graph.device_node(self.alias)
        if top is None or graph.location(top).path != self.overlay:
            raise lv_exc.UnexpectedDiskChain(
                disk=self.target, domain=self.guest.uuid,
                actual=graph.location(top).uri if top else 'no node',
                expected='the overlay %s' % self.overlay)
        return top

    def backing(self) -> str | None:
        """'src' or 'dst': what the overlay's backing node really opens."""
        graph = self.monitor.block_graph()
        backing = graph.child(self._overlay_node(graph).node_name, 'backing')
        if backing is None:
            return None
        source = graph.location(backing)
        if self.src.same_location(source):
            return 'src'
        if self.dst.same_location(source):
            return 'dst'
        return None

    def src_node_names(self, graph: blockdev.BlockGraph | None = None
                       ) -> tuple[str, str]:
        """(format, storage) node names libvirt gave src."""
        graph = graph or self.monitor.block_graph()
        backing = graph.child(self._overlay_node(graph).node_name, 'backing')
        if backing is None or not self.src.same_location(
                graph.location(backing)):
            raise SwitchNotMade('the overlay is not backed by src')
        storage = graph.child(backing.node_name, 'file')
        if storage is None:
            raise SwitchNotMade('src format node %s has no file child'
                                % backing.node_name)
        return backing.node_name, storage.node_name

    # capability

    def check_capable(self) -> None:
        """QEMU must offer every command the switch uses.

        Asked once per running QEMU (the domain's id changes when it
        starts again): Cinder waits on each QMP call of complete.
        """
        key = (self.guest.uuid, self.guest.id)
        with _OFFERED_LOCK:
            offered = _OFFERED.get(key)
        if offered is None:
            try:
                offered = frozenset(self.monitor.query_commands())
            except lv_exc.QMPCommandFailed as e:
                raise SwitchNotMade(str(e))
            with _OFFERED_LOCK:
                _OFFERED[key] = offered
        missing = [c for c in blockdev.REBASE_COMMANDS if c not in offered]
        if missing:
            raise SwitchNotMade('QEMU lacks %s' % ', '.join(missing))

    def mark(self) -> None:
        """Say in the live metadata that libvirt's XML of the disk lies."""
        self.guest.mark_disk_rebased(self.target)

    # the switch

    def switch(self, names: tuple[str, str],
               on_switched: Callable[[], None] | None = None,
               graph: blockdev.BlockGraph | None = None
               ) -> config.DiskSource:
        """Steps 1-2; raises SwitchNotMade if the guest never read dst.

        ``on_switched`` is called once the guest reads dst, before src is
        closed (to record it). ``graph`` is QEMU's graph if just read.
        Step 3 is the finish's (:meth:`ensure_switched`): Cinder waits on
        every QMP call made here, and src is closed without it.

        Returns the disk's chain now: the overlay over dst.
        """
        graph = graph or self.monitor.block_graph()
        overlay = self._overlay_node(graph)
        try:
            self.monitor.blockdev_add(blockdev.storage_options(
                self.dst, TMP_STORAGE, graph.node(names[1]),
                read_only=True))
            self.monitor.blockdev_add(blockdev.format_options(
                self.dst, TMP_FORMAT, TMP_STORAGE, graph.node(names[0]),
                read_only=True))
            self.monitor.blockdev_reopen([blockdev.reopen_options(
                graph, overlay, TMP_FORMAT)])
        except lv_exc.QMPCommandFailed as e:
            if self.roll_back() != 'src':
                raise
            raise SwitchNotMade(str(e))
        LOG.info('Domain %s disk %s: overlay %s now backed by %s',
                 self.guest.uuid, self.target, self.overlay, self.dst.uri)
        if on_switched is not None:
            on_switched()
        # The graph as read before the switch: src's nodes are in it.
        self._close_src(names, graph, set(graph.nodes))
        return graph.location(overlay).with_backing(self.dst)

    def ensure_switched(self, names: tuple[str, str]) -> None:
        """Finish steps 2-3 from wherever QEMU's graph stands.

        The graph is read once: every later call follows from it.
        """
        format_name, storage_name = names
        graph = self.monitor.block_graph()
        overlay = self._overlay_node(graph)
        backing = graph.child(overlay.node_name, 'backing')
        if backing is None or not self.dst.same_location(
                graph.location(backing)):
            raise lv_exc.UnexpectedDiskChain(
                disk=self.target, domain=self.guest.uuid,
                actual=graph.location(backing).uri if backing
                else 'no backing',
                expected='the overlay backed by %s' % self.dst.uri)
        present = set(graph.nodes)
        if backing.node_name == TMP_FORMAT:
            self._close_src(names, graph, present)
            # Step 3: dst again, under libvirt's names.
            if storage_name not in present:
                self.monitor.blockdev_add(blockdev.storage_options(
                    self.dst, storage_name, graph.node(TMP_STORAGE),
                    read_only=False))
            if format_name not in present:
                self.monitor.blockdev_add(blockdev.format_options(
                    self.dst, format_name, storage_name,
                    graph.node(TMP_FORMAT), read_only=False))
            self.monitor.blockdev_reopen([blockdev.reopen_options(
                graph, overlay, format_name)])
        # Nothing uses the temporary nodes any more.
        for name in (TMP_FORMAT, TMP_STORAGE):
            if name in present:
                self.monitor.blockdev_del(name)

    def _close_src(self, names: tuple[str, str], graph: blockdev.BlockGraph,
                   present: set[str]) -> None:
        """Step 2 on an overlay backed by the temporary nodes.

        Nodes of src's names in ``present`` (as ``graph`` has them) are
        src's while they are there: dst gets them only once they are gone.
        Deleted names leave ``present``.
        """
        for name in names:
            if name in present and self.src.same_location(
                    graph.location(graph.node(name))):
                self.monitor.blockdev_del(name)
                present.discard(name)

    def roll_back(self) -> str | None:
        """A switch not made: drop temporary nodes no parent uses.

        While the overlay is still backed by src libvirt's XML is true:
        the disk is unmarked. Returns :meth:`backing`.
        """
        self._del_tmp_nodes()
        backing = self.backing()
        if backing == 'src':
            self.guest.unmark_disk_rebased(self.target)
        return backing

    def _del_tmp_nodes(self) -> None:
        graph = self.monitor.block_graph()
        users = {child for roles in graph.edges.values()
                 for child in roles.values()}
        for name in (TMP_FORMAT, TMP_STORAGE):
            if name in graph.nodes and name not in users:
                self.monitor.blockdev_del(name)
                graph = self.monitor.block_graph()
                users = {child for roles in graph.edges.values()
                         for child in roles.values()}


#: Saved before the switch, then once the guest reads dst (src not yet
#: closed); reconcile reads QEMU's graph to finish or roll back either.
STEP_REBASE_SWITCH = 'complete:rebase_switch'
STEP_REBASE_SWITCHED = 'complete:rebase_switched'
MODE_REBASE = 'rebase'


def _switch_of(guest, layout, disk: config.DiskState | None = None
               ) -> RebaseSwitch:
    return RebaseSwitch(guest, disk or guest.get_disk(layout.disk),
                        layout.start_overlay.path, layout.src, layout.dst)


def local_source(src: config.DiskSource) -> str | None:
    """Why src cannot be switched away from, or None for a network one.

    libvirt's security driver stats and relabels the path its XML names
    when it starts the commit: after a switch that is still src, which
    Cinder deletes once complete returns.
    """
    if src.kind == 'network':
        return None
    return ('src is a local %s (%s): libvirt would stat and relabel it, '
            'as its XML still names it, when the commit starts after '
            'Cinder deleted it' % (src.kind, src.uri))


def complete(guest, layout, migration,
             disk: config.DiskState | None = None
             ) -> config.DiskSource | None:
    """The synchronous part of a ``rebase`` complete: the switch.

    ``disk`` is the disk as the caller just read it (each read of a
    rebased disk costs QEMU's graph: Cinder waits on this call).

    Returns the disk's live chain once switched (the overlay over dst, as
    the switch made it: not read again). Returns None, having recorded
    why in driver_data['rebase_fallback'] and the log, when this QEMU
    cannot switch or a QMP call failed before the guest read dst: the
    caller then completes this migration the ``two_step`` way, and
    nothing is half-switched.
    """
    local = local_source(layout.src)
    if local:
        return _fall_back(guest, layout, migration, local)
    switch = _switch_of(guest, layout, disk)
    try:
        switch.check_capable()
        graph = switch.monitor.block_graph()
        names = switch.src_node_names(graph)
    except (SwitchNotMade, lv_exc.QMPCommandFailed) as e:
        return _fall_back(guest, layout, migration, str(e))
    migration.save_driver_data(complete_mode=MODE_REBASE,
                               src_nodes=list(names),
                               step=STEP_REBASE_SWITCH)
    try:
        switch.mark()
    except Exception as e:  # libvirtError or a lost connection
        return _fall_back(guest, layout, migration,
                          'cannot mark the disk in the live metadata: %s'
                          % e)
    try:
        return switch.switch(
            names, on_switched=lambda: migration.save_driver_data(
                step=STEP_REBASE_SWITCHED), graph=graph)
    except SwitchNotMade as e:
        return _fall_back(guest, layout, migration, e.reason)


def name_dst(guest, layout, migration,
             disk: config.DiskState | None = None) -> None:
    """Step 3 of the switch, the finish's first: dst under src's names.

    A no-op once done (a finish run again after a restart).
    """
    names = tuple((migration.driver_data or {}).get('src_nodes') or ())
    if len(names) != 2:
        raise lv_exc.VolumeMigrationStateError(
            attachment_id=migration.src_attachment_id, domain=guest.uuid,
            action='finish complete',
            reason='the node names src had are not recorded')
    _switch_of(guest, layout, disk).ensure_switched(names)


#: QEMU's own range for a mirror's default granularity (a target's
#: cluster size clamped to 4-64 KiB).
MIN_GRANULARITY = 4 * 1024
MAX_GRANULARITY = 64 * 1024


def copy_granularity(overlay: str) -> int:
    """The unit the copy into dst tracks and moves dirty data in.

    The overlay's allocation unit (a 4 KiB subcluster with the default
    ``extended_l2=on,cluster_size=128k``): the copy then moves what the
    guest wrote and nothing of dst around it. Without a granularity the
    mirror works in 64 KiB chunks (dst, raw, reports no cluster size) and
    reads the unwritten rest of each chunk from dst across the link.
    """
    unit = images.info(overlay).allocation_unit or MAX_GRANULARITY
    granularity = MIN_GRANULARITY
    while granularity < min(unit, MAX_GRANULARITY):
        granularity *= 2
    return granularity


def copy_into_dst(layout, bandwidth: int
                  ) -> Callable[[libvirt_guest.BlockDevice], None]:
    """The job of a switched disk's finish: the overlay mirrored onto dst.

    ``virDomainBlockCopy(SHALLOW | REUSE_EXT | TRANSIENT_JOB)`` onto dst,
    opened a second time by libvirt, rather than libvirt's active commit
    into the overlay's backing node (the same dst): the commit takes no
    granularity, and a copy's pivot makes libvirt's XML name dst.
    Shallow: only what the overlay holds moves; what it does not hold is
    dst's already.
    """
    granularity = copy_granularity(layout.start_overlay.path)
    return lambda device: device.copy(
        layout.dst.copy_target_xml(), shallow=True, reuse_ext=True,
        transient=True, bandwidth=bandwidth, granularity=granularity)


def settle_view(guest, layout) -> None:
    """Unmark the disk once libvirt's XML names what QEMU has: dst.

    After the pivot of :func:`copy_into_dst` the XML is true again.
    """
    xml = guest.get_xml_desc()
    if layout.disk not in config.rebased_targets(xml):
        return
    for disk in config.parse_disks(xml):
        if (disk.target == layout.disk and disk.source is not None
                and layout.dst.same_location(disk.source)
                and disk.source.backing is None and disk.mirror is None):
            guest.unmark_disk_rebased(layout.disk)
            LOG.info('Domain %s disk %s: libvirt names dst again',
                     guest.uuid, layout.disk)


def _fall_back(guest, layout, migration, reason: str) -> None:
    LOG.warning('Volume migration of %s on domain %s: cannot complete by '
                'live rebase (%s); completing it two_step instead',
                migration.src_attachment_id, guest.uuid, reason)
    migration.save_driver_data(complete_mode='two_step',
                               rebase_fallback=reason)


def recover(guest, layout, migration) -> str | None:
    """Finish or roll back a switch interrupted by a crash.

    Reads which node QEMU's overlay really has as backing: dst means the
    switch happened (finish closing src); src means it did not (drop
    temporary nodes; the migration stays started and complete can be
    retried). Returns 'dst', 'src' or None (the overlay is gone).
    """
    names = tuple((migration.driver_data or {}).get('src_nodes') or ())
    disk = guest.get_disk(layout.disk)
    if not layout.is_overlay(disk.source):
        return None
    switch = _switch_of(guest, layout)
    backing = switch.backing()
    if backing == 'dst' and len(names) == 2:
        LOG.info('Finishing the interrupted rebase switch of disk %s of '
                 'domain %s', layout.disk, guest.uuid)
        switch.mark()
        switch.ensure_switched(names)
    elif backing == 'src':
        LOG.info('Rolling back the interrupted rebase switch of disk %s '
                 'of domain %s: the overlay is still backed by src',
                 layout.disk, guest.uuid)
        switch.roll_back()
    return backing
