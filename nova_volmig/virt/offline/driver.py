"""A hypervisor driver without live storage migration.

It stands for the hypervisors of the proposal's first implementation
(DESIGN 5): a volume can only be migrated while the instance is shut off.
Instances are records in a JSON file under the state path (power state and
the connection_info of each disk), so they survive service restarts like a
hypervisor's own definitions would; no guest runs.
"""

from __future__ import annotations

import json
import os
import threading

from oslo_config import cfg
from oslo_log import log as logging

from nova_volmig.compute import power_state
from nova_volmig import exception
from nova_volmig.i18n import _
from nova_volmig.virt import driver

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


class OfflineDriver(driver.ComputeDriver):
    capabilities = {'supports_live_volume_migration': False,
                    'supports_swap_volume': False}

    def __init__(self):
        self._lock = threading.Lock()
        self._path: str | None = None

    # Persistence

    def init_host(self, host: str) -> None:
        directory = os.path.join(CONF.state_path, 'offline-hypervisor')
        os.makedirs(directory, exist_ok=True)
        self._path = os.path.join(directory, '%s.json' % host)

    def _load(self) -> dict:
        if self._path is None:
            self.init_host(CONF.host)
        try:
            with open(self._path) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def _save(self, data: dict) -> None:
        tmp = self._path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._path)

    def _update(self, instance, fn) -> dict:
        with self._lock:
            data = self._load()
            record = data.get(instance.uuid)
            if record is None:
                raise exception.InstanceNotFound(instance_id=instance.uuid)
            fn(record)
            self._save(data)
            return record

    def _get(self, instance) -> dict:
        with self._lock:
            record = self._load().get(instance.uuid)
        if record is None:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        return record

    # Instances

    def spawn(self, context, instance, block_device_info):
        with self._lock:
            data = self._load()
            data[instance.uuid] = {
                'name': instance.name,
                'power_state': power_state.RUNNING,
                'disks': {b['device_name']: b['connection_info']
                          for b in block_device_info}}
            self._save(data)

    def destroy(self, context, instance, block_device_info):
        with self._lock:
            data = self._load()
            data.pop(instance.uuid, None)
            self._save(data)

    def power_on(self, context, instance, block_device_info):
        def _on(record):
            record['power_state'] = power_state.RUNNING
        self._update(instance, _on)

    def power_off(self, context, instance):
        def _off(record):
            record['power_state'] = power_state.SHUTDOWN
        self._update(instance, _off)

    def get_power_state(self, instance) -> int:
        return self._get(instance)['power_state']

    def get_disks(self, instance) -> dict[str, dict]:
        """device name -> connection_info the instance would boot with."""
        return self._get(instance)['disks']

    # Volumes

    def get_volume_connector(self, instance) -> dict:
        return {'host': CONF.host, 'ip': '127.0.0.1', 'initiator': None,
                'platform': 'x86_64', 'os_type': 'linux',
                'multipath': False}

    def attach_volume(self, context, connection_info, instance,
                      device_name):
        def _attach(record):
            record['disks'][device_name] = connection_info
        self._update(instance, _attach)

    def detach_volume(self, context, connection_info, instance,
                      device_name):
        def _detach(record):
            record['disks'].pop(device_name, None)
        self._update(instance, _detach)

    # Volume migration: only while shut off

    def _require_shut_off(self, instance) -> None:
        if self.get_power_state(instance) == power_state.RUNNING:
            raise exception.VolumeMigrationUnsupported(
                instance_uuid=instance.uuid,
                reason=_('it is running and this hypervisor has no live '
                         'storage migration; stop it first'))

    def volume_migration_start(self, context, instance, migration):
        # Nothing writes to a shut-off instance's disks; the manager's
        # task_state keeps it from being started until complete or cancel.
        self._require_shut_off(instance)

    def volume_migration_complete(self, context, instance, migration):
        self._require_shut_off(instance)

        def _repoint(record):
            record['disks'][migration.device_name] = \
                migration.dst_connection_info
        self._update(instance, _repoint)

    def volume_migration_cancel_finish(self, context, instance, migration):
        """Nothing was redirected: src is untouched."""

    def volume_migration_reconcile(self, context, instance, migration):
        disk = self.get_disks(instance).get(migration.device_name)
        if (migration.dst_connection_info is not None
                and disk == migration.dst_connection_info):
            return driver.ReconcileState.ON_DST
        return driver.ReconcileState.ON_SRC
