"""In-memory driver for unit tests of the manager and the API.

It keeps the bytes of each "volume" nowhere: it records what a real driver
would have done (the instance's disk sources and overlays) so tests can
assert the sequence, and lets tests inject a failure at any method.
"""

from __future__ import annotations

import threading

from nova_volmig.compute import power_state
from nova_volmig import exception
from nova_volmig.virt import driver


class FakeDriver(driver.ComputeDriver):
    capabilities = {'supports_live_volume_migration': True,
                    'supports_swap_volume': True}

    def __init__(self):
        self.instances: dict[str, dict] = {}
        self.calls: list[tuple[str, str]] = []
        #: method name -> exception to raise once
        self.fail: dict[str, BaseException] = {}
        #: method name -> threading.Event the method waits for
        self.block: dict[str, threading.Event] = {}
        self.lock = threading.Lock()

    def _call(self, name: str, instance) -> None:
        with self.lock:
            self.calls.append((name, instance.uuid))
        gate = self.block.get(name)
        if gate is not None:
            gate.wait(30)
        error = self.fail.pop(name, None)
        if error is not None:
            raise error

    def _inst(self, instance) -> dict:
        try:
            return self.instances[instance.uuid]
        except KeyError:
            raise exception.InstanceNotFound(instance_id=instance.uuid)

    def spawn(self, context, instance, block_device_info):
        self._call('spawn', instance)
        self.instances[instance.uuid] = {
            'power': power_state.RUNNING,
            'disks': {b['device_name']: b['connection_info']
                      for b in block_device_info},
            'overlay': {}}

    def destroy(self, context, instance, block_device_info):
        self._call('destroy', instance)
        self.instances.pop(instance.uuid, None)

    def power_on(self, context, instance, block_device_info):
        self._call('power_on', instance)
        self._inst(instance)['power'] = power_state.RUNNING

    def power_off(self, context, instance):
        self._call('power_off', instance)
        self._inst(instance)['power'] = power_state.SHUTDOWN

    def get_power_state(self, instance):
        return self._inst(instance)['power']

    def get_volume_connector(self, instance):
        return {'host': 'fake-host', 'ip': '127.0.0.1',
                'platform': 'x86_64', 'os_type': 'linux',
                'multipath': False}

    def attach_volume(self, context, connection_info, instance,
                      device_name):
        self._call('attach_volume', instance)
        self._inst(instance)['disks'][device_name] = connection_info

    def detach_volume(self, context, connection_info, instance,
                      device_name):
        self._call('detach_volume', instance)
        self._inst(instance)['disks'].pop(device_name, None)

    def _running(self, instance) -> bool:
        return self._inst(instance)['power'] == power_state.RUNNING

    def volume_migration_start(self, context, instance, migration):
        self._call('volume_migration_start', instance)
        if self._running(instance):
            self._inst(instance)['overlay'][migration.device_name] = 'start'
            migration.save_driver_data(overlay='start')

    def volume_migration_complete(self, context, instance, migration):
        self._call('volume_migration_complete', instance)
        inst = self._inst(instance)
        inst['disks'][migration.device_name] = migration.dst_connection_info
        if inst['overlay'].get(migration.device_name):
            inst['overlay'][migration.device_name] = 'complete'
        migration.save_driver_data(switched=True)

    def volume_migration_complete_finish(self, context, instance, migration):
        self._call('volume_migration_complete_finish', instance)
        migration.set_progress(100)
        self._inst(instance)['overlay'].pop(migration.device_name, None)

    def volume_migration_cancel_finish(self, context, instance, migration):
        self._call('volume_migration_cancel_finish', instance)
        self._inst(instance)['overlay'].pop(migration.device_name, None)

    def volume_migration_reconcile(self, context, instance, migration):
        self._call('volume_migration_reconcile', instance)
        overlay = self._inst(instance)['overlay'].get(migration.device_name)
        if migration.driver_data.get('switched'):
            return (driver.ReconcileState.SWITCHED_TO_DST if overlay
                    else driver.ReconcileState.ON_DST)
        if overlay:
            return driver.ReconcileState.OVERLAY_ON_SRC
        return driver.ReconcileState.ON_SRC

    def swap_volume(self, context, old_connection_info, new_connection_info,
                    instance, device_name, progress_cb):
        self._call('swap_volume', instance)
        for pct in (0, 50, 100):
            progress_cb(pct)
        self._inst(instance)['disks'][device_name] = new_connection_info
