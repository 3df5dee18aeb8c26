"""A backend ("array"): pools of raw volume files, and their exports.

An array owns one or more pools, each a directory; a volume is the sparse
raw file ``<pool dir>/volume-<name id>``. It hands volumes to compute
hosts as ``file`` connections (the path) or ``nbd`` connections served by
qemu-storage-daemon (cinder_driver_side.volume.nbd).
"""

from __future__ import annotations

import errno
import os

from oslo_config import cfg
from oslo_log import log as logging

from cinder_driver_side.conf import backend as backend_conf
from cinder_driver_side import exception
from cinder_driver_side.volume import copy_engines
from cinder_driver_side.volume import holders
from cinder_driver_side.volume import nbd
from cinder_driver_side.volume import utils

LOG = logging.getLogger(__name__)


class Array:
    """One enabled backend group of the configuration."""

    def __init__(self, conf: cfg.ConfigOpts, name: str):
        self.name = name
        self.host = conf.host
        self.volume_backend_name = (
            backend_conf.get(conf, name, 'volume_backend_name') or name)
        pools = backend_conf.get(conf, name, 'pools') or {}
        if not pools:
            raise exception.InvalidInput(
                reason='backend %s has no pools (pools = name:/dir,...)'
                % name)
        self.pools: dict[str, str] = {}
        for pool, path in pools.items():
            if not os.path.isabs(path):
                raise exception.InvalidInput(
                    reason='pool %s of backend %s: %r is not an absolute '
                           'path' % (pool, name, path))
            os.makedirs(path, exist_ok=True)
            self.pools[pool] = path
        self.protocol = backend_conf.get(conf, name, 'export_protocol')
        bandwidth = backend_conf.get(conf, name, 'copy_bandwidth')
        self.copy_bandwidth = (conf.migration_copy_bandwidth
                               if bandwidth is None else bandwidth)
        throughput = backend_conf.get(conf, name, 'array_copy_throughput')
        #: the array's copy engine, shared by its native copies
        self.copy_rate = (copy_engines.SharedRate(throughput)
                          if throughput else None)
        self.stall_timeout: int = backend_conf.get(
            conf, name, 'migration_stall_timeout')
        self.exporter: nbd.NBDExporter | None = None
        if self.protocol == 'nbd':
            self.exporter = nbd.NBDExporter(
                state_dir=os.path.join(conf.state_path, 'nbd', name),
                listen_address=backend_conf.get(conf, name,
                                                'nbd_listen_address'),
                connect_address=backend_conf.get(conf, name,
                                                 'nbd_connect_address'),
                port_range=backend_conf.get(conf, name, 'nbd_port_range'),
                netns=backend_conf.get(conf, name, 'nbd_netns'),
                throttle_bytes_sec=backend_conf.get(
                    conf, name, 'nbd_throttle_bytes_sec'))

    def location(self, pool: str) -> utils.Location:
        return utils.Location(self.host, self.name, pool)

    def pool_hosts(self) -> list[str]:
        return [str(self.location(pool)) for pool in self.pools]

    def _pool_dir(self, pool: str) -> str:
        try:
            return self.pools[pool]
        except KeyError:
            raise exception.InvalidHost(
                reason='backend %s has no pool %s' % (self.name, pool))

    def volume_path(self, pool: str, backend_name: str) -> str:
        return os.path.join(self._pool_dir(pool), backend_name)

    def check_volume_size(self, pool: str, size_bytes: int) -> None:
        """Refuse (400) a size the pool's file system cannot hold.

        Checked before a volume row exists, so that an accepted size never
        ends as a volume in ``error`` (ftruncate's EFBIG).
        """
        limit = utils.max_file_size(self._pool_dir(pool))
        if size_bytes > limit:
            raise exception.InvalidInput(
                reason='size %d bytes exceeds the largest volume pool %s '
                       'can hold (%d bytes)'
                % (size_bytes, self.location(pool), limit))

    def create_volume(self, pool: str, backend_name: str,
                      size_bytes: int) -> str:
        """Create an empty sparse volume file; never overwrite one."""
        path = self.volume_path(pool, backend_name)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise exception.VolumeBackendAPIException(
                data='%s already exists' % path)
        try:
            os.ftruncate(fd, size_bytes)
            os.fsync(fd)
        finally:
            os.close(fd)
        LOG.info('Created volume file %s (%d bytes)', path, size_bytes)
        return path

    def delete_volume(self, pool: str, backend_name: str) -> None:
        """Stop any export and remove the file; a missing one is fine."""
        self.terminate_connection(backend_name)
        path = self.volume_path(pool, backend_name)
        try:
            os.unlink(path)
            LOG.info('Deleted volume file %s', path)
        except FileNotFoundError:
            LOG.debug('Volume file %s was already gone', path)

    def link_volume(self, pool: str, backend_name: str,
                    new_backend_name: str) -> bool:
        """Give the data a second name (crash-safe rename, first half).

        Returns False when the new name is taken (keep the old one).
        """
        try:
            os.link(self.volume_path(pool, backend_name),
                    self.volume_path(pool, new_backend_name))
        except OSError as e:
            if e.errno in (errno.EEXIST, errno.EPERM, errno.EOPNOTSUPP):
                return False
            raise
        return True

    def unlink_name(self, pool: str, backend_name: str) -> None:
        try:
            os.unlink(self.volume_path(pool, backend_name))
        except FileNotFoundError:
            pass

    def initialize_connection(self, pool: str, backend_name: str,
                              connector: dict | None) -> dict:
        """connection_info for a compute host (file or nbd)."""
        path = self.volume_path(pool, backend_name)
        if not os.path.exists(path):
            raise exception.VolumeBackendAPIException(
                data='volume file %s is missing' % path)
        if self.exporter is None:
            return {'driver_volume_type': 'file',
                    'data': {'device_path': path, 'format': 'raw'}}
        export = self.exporter.ensure_export(backend_name, path)
        return {'driver_volume_type': 'nbd',
                'data': {'host': export.host, 'port': export.port,
                         'export': backend_name, 'format': 'raw'}}

    def terminate_connection(self, backend_name: str) -> None:
        """Stop serving the volume (its last attachment went)."""
        if self.exporter is not None:
            self.exporter.remove_export(backend_name)

    def export_clients(self, backend_name: str) -> list[holders.Holder]:
        """Clients connected to the volume's NBD export, if it runs."""
        export = (self.exporter.get_export(backend_name)
                  if self.exporter is not None else None)
        if export is None:
            return []
        return [holders.Holder(export.pid, nbd.QSD,
                               'serves NBD export %s to client %s'
                               % (backend_name, client))
                for client in holders.tcp_clients(export.pid)]

    def volume_in_use(self, pool: str, backend_name: str
                      ) -> list[holders.Holder]:
        """Who still uses the volume on this host, whatever Cinder says.

        The clients of its NBD export, and every process with its file
        open except the export's own daemon (stopped before any delete;
        it is its clients that matter).
        """
        in_use = self.export_clients(backend_name)
        export = (self.exporter.get_export(backend_name)
                  if self.exporter is not None else None)
        exclude = frozenset([export.pid]) if export else frozenset()
        in_use += holders.file_holders(
            self.volume_path(pool, backend_name), exclude)
        return in_use

    def adopt_exports(self, wanted: dict[str, str]) -> None:
        if self.exporter is not None:
            self.exporter.adopt(wanted)

    def stop(self) -> None:
        if self.exporter is not None:
            self.exporter.stop_all()

    def pool_stats(self) -> list[dict]:
        stats = []
        for pool, path in self.pools.items():
            st = os.statvfs(path)
            stats.append({
                'name': str(self.location(pool)),
                'capabilities': {
                    'pool_name': pool,
                    'volume_backend_name': self.volume_backend_name,
                    'storage_protocol': self.protocol,
                    'total_capacity_gb': round(
                        st.f_blocks * st.f_frsize / utils.GiB, 2),
                    'free_capacity_gb': round(
                        st.f_bavail * st.f_frsize / utils.GiB, 2),
                    'multiattach': True,
                }})
        return stats
