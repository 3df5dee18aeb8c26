"""Failures of the libvirt driver, in the style of ``nova_volmig.exception``.

Each class names what failed (domain, disk, job, path) so that the message
recorded on a migration or an instance fault explains itself.
"""

from nova_volmig import exception
from nova_volmig.i18n import _


class LibvirtConnectionError(exception.VirtDriverError):
    msg_fmt = _('Cannot connect to libvirt at %(uri)s: %(reason)s')


class LibvirtCallFailed(exception.VirtDriverError):
    msg_fmt = _('libvirt %(call)s failed on domain %(domain)s: %(reason)s')


class DiskNotFound(exception.VirtDriverError):
    msg_fmt = _('Domain %(domain)s has no disk %(disk)s.')


class UnexpectedDiskChain(exception.VirtDriverError):
    msg_fmt = _('Disk %(disk)s of domain %(domain)s is on %(actual)s, '
                'expected %(expected)s.')


class BlockJobTimeout(exception.VirtDriverError):
    msg_fmt = _('%(job)s block job on disk %(disk)s of domain %(domain)s '
                'did not become ready within %(timeout)s s (%(detail)s); '
                'the job was aborted and the guest stays on its previous '
                'disk.')


class BlockJobFailed(exception.VirtDriverError):
    msg_fmt = _('%(job)s block job on disk %(disk)s of domain %(domain)s '
                'ended without becoming ready: %(reason)s')


class BlockJobPivotFailed(exception.VirtDriverError):
    msg_fmt = _('Pivot of the %(job)s block job on disk %(disk)s of domain '
                '%(domain)s failed: %(reason)s')


class BlockJobPivotTimeout(BlockJobPivotFailed):
    msg_fmt = _('Pivot of the %(job)s block job on disk %(disk)s of domain '
                '%(domain)s did not finish within %(timeout)s s '
                '(%(detail)s); the disk may be on either side of the '
                'switch until libvirt reports the job gone.')


class QemuImgError(exception.VirtDriverError):
    msg_fmt = _('qemu-img %(command)s of %(path)s failed: %(reason)s')


class ImageTooLarge(QemuImgError):
    """``qemu-img info`` hit its resource limit (a hostile image?)."""


class OverlayDirUnavailable(exception.VirtDriverError):
    msg_fmt = _('Overlay directory %(path)s for volume migrations is not '
                'usable: %(reason)s. Check [libvirt] '
                'volume_migration_overlay_dir.')


class OverlayNoSpace(exception.Conflict):
    """No room for an overlay: the host is full now, retry later (409)."""

    msg_fmt = _('No space left for the volume migration overlay %(path)s: '
                '%(reason)s')


class UnsupportedVolumeType(exception.VirtDriverError):
    msg_fmt = _('Volume driver type %(driver_volume_type)s is not '
                'supported by the libvirt driver (supported: '
                '%(supported)s).')


class InvalidConnectionInfo(exception.Invalid):
    msg_fmt = _('Invalid %(driver_volume_type)s connection_info: '
                '%(reason)s')


class VolumeMigrationStateError(exception.VirtDriverError):
    msg_fmt = _('Volume migration of attachment %(attachment_id)s on '
                'domain %(domain)s cannot %(action)s: %(reason)s')


class DeviceDetachTimeout(exception.Conflict):
    """The running guest kept the disk: the volume stays attached (409)."""

    msg_fmt = _('Domain %(domain)s did not release disk %(disk)s within '
                '%(timeout)s s (live unplug needs a guest OS that answers '
                'ACPI); the volume stays attached: stop the instance and '
                'detach it again.')


class QMPCommandFailed(exception.VirtDriverError):
    msg_fmt = _('QMP %(command)s failed on domain %(domain)s: %(reason)s')


class BlockNodeNotFound(exception.VirtDriverError):
    msg_fmt = _('QEMU has no block node %(node)s.')


class RebaseUnsupported(exception.VirtDriverError):
    msg_fmt = _('Domain %(domain)s cannot switch a backing node live: '
                '%(reason)s')
