"""The libvirt + QEMU compute driver of nova-volmig.

Instances are persistent libvirt domains without NIC: diskless SeaBIOS
guests, or direct kernel boot when the instance has an image. Volumes are
virtio disks built by the volume drivers (``file``, ``block``, ``nbd``).
Volume migration follows DESIGN 5 and lives in ``migration.py``; this
module maps the ``ComputeDriver`` contract onto it.
"""

from __future__ import annotations

import glob
import os
import shutil
import time

import libvirt
from oslo_config import cfg
from oslo_log import log as logging
import tenacity

from nova_volmig import exception
from nova_volmig.virt import driver
from nova_volmig.virt.libvirt import blockjob
from nova_volmig.virt.libvirt import config
from nova_volmig.virt.libvirt import exception as lv_exc
from nova_volmig.virt.libvirt import host as libvirt_host
from nova_volmig.virt.libvirt import volume
from nova_volmig.virt.libvirt import volume_migration

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

KVM_PVM_MODULE = '/sys/module/kvm_pvm'


def detect_virt_type(dev_kvm: str = '/dev/kvm',
                     pvm_module: str = KVM_PVM_MODULE) -> str:
    """``kvm`` where /dev/kvm is hardware KVM, else ``qemu`` (TCG).

    The software ``kvm_pvm`` flavour provides /dev/kvm too, but QEMU's
    ``-enable-kvm`` is not what it is for: it counts as absent.
    """
    if not os.path.exists(dev_kvm) or os.path.exists(pvm_module):
        return 'qemu'
    return 'kvm'


def volume_serial(bdm: dict) -> str | None:
    """The ``<serial>`` of a volume's disk: the volume id.

    ``connection_info['serial']`` as Nova sets it at attach time (kept
    across a swap), else the BDM's volume id.
    """
    return (bdm['connection_info'].get('serial')
            or bdm.get('volume_id'))


def virt_type() -> str:
    if CONF.libvirt.virt_type == 'auto':
        return detect_virt_type()
    return CONF.libvirt.virt_type


def across_libvirtd_restarts(finish, instance, migration) -> None:
    """Run an asynchronous finish again once libvirtd is back.

    A mutating call is never retried on its own (``Host.call``): whether
    it took effect is unknown. The finishes look at the disk first and go
    on from there (a leftover job is aborted and started again, a disk
    already on its target is only cleaned up), so the whole finish is
    run again instead, for up to ``RECONNECT_TIMEOUT`` seconds.
    """
    def _log(state: tenacity.RetryCallState) -> None:
        LOG.warning('Volume migration of %s: libvirtd went away during the '
                    'finish (%s); running it again once it is back',
                    migration.src_attachment_id, state.outcome.exception())

    tenacity.Retrying(
        retry=tenacity.retry_if_exception(libvirt_host.connection_lost),
        wait=tenacity.wait_exponential(multiplier=0.5, max=5),
        stop=tenacity.stop_after_delay(libvirt_host.RECONNECT_TIMEOUT),
        before_sleep=_log, reraise=True)(finish, instance, migration)


class LibvirtDriver(driver.ComputeDriver):

    capabilities = {
        'supports_live_volume_migration': True,
        'supports_swap_volume': True,
    }

    def __init__(self, host: libvirt_host.Host | None = None):
        self.host = host or libvirt_host.Host()
        self.migrator = volume_migration.LibvirtVolumeMigrator(self.host)

    # host

    def init_host(self, host: str) -> None:
        for path in (CONF.libvirt.instances_path,
                     CONF.libvirt.volume_migration_overlay_dir):
            os.makedirs(path, exist_ok=True)
        self.host.initialize()
        LOG.info('libvirt driver ready on %s (%s, domain type %s)', host,
                 self.host.uri, virt_type())

    def cleanup_host(self, host: str) -> None:
        self.host.close()

    # instances

    def _instance_dir(self, instance) -> str:
        return os.path.join(CONF.libvirt.instances_path, instance.uuid)

    def _kernel_boot(self, instance) -> config.DirectKernelBoot | None:
        if not instance.image_ref:
            return None
        images_path = os.path.normpath(CONF.libvirt.images_path)
        image_dir = os.path.join(images_path, instance.image_ref)
        # The API refuses separators; a record from before must not reach
        # a kernel elsewhere on the host either ("../x", "/boot").
        if os.path.dirname(os.path.normpath(image_dir)) != images_path:
            raise exception.InvalidInput(
                reason='image %r is not a name under [libvirt] images_path'
                       % instance.image_ref)
        kernel = os.path.join(image_dir, 'kernel')
        if not os.path.isfile(kernel):
            raise exception.InvalidInput(
                reason='image %s has no kernel at %s'
                       % (instance.image_ref, kernel))
        initrd = os.path.join(image_dir, 'initrd')
        cmdline_file = os.path.join(image_dir, 'cmdline')
        cmdline = None
        if os.path.isfile(cmdline_file):
            with open(cmdline_file) as f:
                cmdline = f.read().strip()
        return config.DirectKernelBoot(
            kernel=kernel,
            initrd=initrd if os.path.isfile(initrd) else None,
            cmdline=cmdline)

    def get_domain_xml(self, instance, block_device_info: list[dict]
                       ) -> str:
        instance_dir = self._instance_dir(instance)
        disks = tuple(
            volume.disk_source(bdm['connection_info']).disk_element(
                bdm['device_name'], serial=volume_serial(bdm))
            for bdm in sorted(block_device_info or [],
                              key=lambda b: b['device_name']))
        return config.DomainConfig(
            name=instance.name, uuid=instance.uuid, virt_type=virt_type(),
            memory_mb=instance.memory_mb or CONF.libvirt.instance_memory_mb,
            vcpus=instance.vcpus or 1,
            console_log=os.path.join(instance_dir, 'console.log'),
            virtio_console_log=os.path.join(instance_dir,
                                            'virtio-console.log'),
            disks=disks, kernel_boot=self._kernel_boot(instance)).to_xml()

    def _define(self, instance, block_device_info):
        os.makedirs(self._instance_dir(instance), exist_ok=True)
        xml = self.get_domain_xml(instance, block_device_info)
        try:
            return self.host.define_guest(xml)
        except libvirt.libvirtError as e:
            raise lv_exc.LibvirtCallFailed(call='defineXML',
                                           domain=instance.uuid, reason=e)

    def spawn(self, context, instance, block_device_info):
        guest = self._define(instance, block_device_info)
        self._launch(guest)

    def _launch(self, guest) -> None:
        try:
            guest.launch()
        except libvirt.libvirtError as e:
            raise lv_exc.LibvirtCallFailed(call='create', domain=guest.uuid,
                                           reason=e)

    def destroy(self, context, instance, block_device_info):
        try:
            guest = self.host.get_guest(instance)
        except exception.InstanceNotFound:
            guest = None
        if guest is not None:
            guest.poweroff()
            guest.undefine()
        shutil.rmtree(self._instance_dir(instance), ignore_errors=True)
        # Overlays of migrations the server had (start and complete).
        for path in glob.glob(os.path.join(
                glob.escape(CONF.libvirt.volume_migration_overlay_dir),
                '%s_*.qcow2' % glob.escape(instance.uuid))):
            LOG.info('Removing overlay %s of deleted instance %s', path,
                     instance.uuid)
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def power_on(self, context, instance, block_device_info):
        """Redefine the domain from the volumes given, then start it.

        As Nova's hard reboot, the definition is rebuilt from the database
        so that the domain boots on exactly the attached volumes.
        """
        try:
            guest = self.host.get_guest(instance)
            if guest.is_active():
                return
        except exception.InstanceNotFound:
            pass
        guest = self._define(instance, block_device_info)
        self._launch(guest)

    def power_off(self, context, instance):
        self.host.get_guest(instance).poweroff()

    def get_power_state(self, instance) -> int:
        return self.host.get_guest(instance).get_power_state()

    def list_instance_uuids(self) -> list[str]:
        conn = self.host.get_connection()
        return [d.UUIDString() for d in conn.listAllDomains()]

    # volumes

    def get_volume_connector(self, instance) -> dict:
        return {'host': CONF.host, 'ip': '127.0.0.1', 'initiator': None,
                'multipath': False, 'platform': 'x86_64',
                'os_type': 'linux'}

    def attach_volume(self, context, connection_info, instance,
                      device_name):
        xml = volume.get_volume_driver(connection_info).get_config(
            connection_info, device_name)
        guest = self.host.get_guest(instance)
        target = config.target_dev(device_name)
        if guest.has_disk(target, dump_inactive=True):
            raise exception.VolumeAttachmentConflict(
                volume_id=target, reason='device %s is in use' % device_name)
        try:
            guest.attach_device(xml, persistent=True,
                                live=guest.is_active())
        except libvirt.libvirtError as e:
            raise lv_exc.LibvirtCallFailed(call='attachDeviceFlags',
                                           domain=guest.uuid, reason=e)

    def detach_volume(self, context, connection_info, instance,
                      device_name):
        guest = self.host.get_guest(instance)
        target = config.target_dev(device_name)
        xml = volume.get_volume_driver(connection_info).get_config(
            connection_info, device_name)
        if guest.has_disk(target, dump_inactive=True):
            guest.detach_device(xml, persistent=True)
        if guest.is_active() and guest.has_disk(target):
            self._detach_live(guest, target, xml)

    def _detach_live(self, guest, target: str, xml: str) -> None:
        try:
            guest.detach_device(xml, live=True)
        except libvirt.libvirtError as e:
            raise lv_exc.LibvirtCallFailed(call='detachDeviceFlags',
                                           domain=guest.uuid, reason=e)
        deadline = time.monotonic() + CONF.libvirt.device_detach_timeout
        while guest.has_disk(target):
            if time.monotonic() > deadline:
                raise lv_exc.DeviceDetachTimeout(
                    disk=target, domain=guest.uuid,
                    timeout=CONF.libvirt.device_detach_timeout)
            time.sleep(0.2)

    # volume migration

    def volume_migration_start(self, context, instance, migration):
        self.migrator.start(instance, migration)

    def volume_migration_complete(self, context, instance, migration):
        self.migrator.complete(instance, migration)

    def volume_migration_complete_finish(self, context, instance,
                                         migration):
        across_libvirtd_restarts(self.migrator.complete_finish, instance,
                                 migration)

    def volume_migration_cancel(self, context, instance, migration):
        self.migrator.cancel(instance, migration)

    def volume_migration_cancel_finish(self, context, instance, migration):
        across_libvirtd_restarts(self.migrator.cancel_finish, instance,
                                 migration)

    def volume_migration_reconcile(self, context, instance, migration):
        return self.migrator.reconcile(instance, migration)

    # legacy swap

    def swap_volume(self, context, old_connection_info, new_connection_info,
                    instance, device_name, progress_cb):
        """Upstream's swap: full background copy onto new, then pivot.

        ``blockCopy(REUSE_EXT | TRANSIENT_JOB)`` without SHALLOW or
        SYNCHRONOUS_WRITES and without throttling, as upstream Nova: it
        is the baseline, and a job that does not converge times out
        (aborted: the guest stays on the old volume).
        """
        old = volume.disk_source(old_connection_info)
        new = volume.disk_source(new_connection_info)
        target = config.target_dev(device_name)
        guest = self.host.get_guest(instance)
        if not guest.is_active():
            raise exception.VolumeSwapRefused(
                volume_id=target,
                reason='instance %s is not running' % instance.uuid)
        disk = guest.get_disk(target)
        if not old.same_location(disk.source) or disk.mirror is not None:
            raise lv_exc.UnexpectedDiskChain(
                disk=target, domain=guest.uuid,
                actual=disk.source.describe() if disk.source else 'nothing',
                expected='%s with no block job' % old.uri)
        device = guest.get_block_device(target)
        label = 'swap volume copy'
        waiter = blockjob.ReadyWaiter(
            device, label, libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_COPY,
            timeout=CONF.libvirt.block_job_ready_timeout,
            progress_cb=progress_cb,
            progress_interval=CONF.compute.progress_update_interval)
        try:
            device.copy(new.copy_target_xml(), reuse_ext=True,
                        transient=True,
                        bandwidth=CONF.libvirt.volume_migration_bandwidth)
        except libvirt.libvirtError as e:
            raise lv_exc.LibvirtCallFailed(call='blockCopy',
                                           domain=guest.uuid, reason=e)
        waiter.wait()
        blockjob.pivot(device, label)
        if not new.same_location(guest.get_disk(target).source):
            raise lv_exc.UnexpectedDiskChain(
                disk=target, domain=guest.uuid,
                actual=guest.get_disk(target).source.describe(),
                expected=new.uri)
        # The serial is the guest's name of the disk: it stays the same.
        serial = (disk.serial or old_connection_info.get('serial')
                  or new_connection_info.get('serial'))
        guest.update_device(new.disk_xml(device_name, serial=serial),
                            persistent=True)
