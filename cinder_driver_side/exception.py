"""Exceptions of the Cinder side.

One base class with a message template, as in Cinder and os-brick:
``msg_fmt`` is formatted with the keyword arguments, ``code`` is the HTTP
status the REST API answers with.
"""

from __future__ import annotations

from oslo_log import log as logging

LOG = logging.getLogger(__name__)


class CinderException(Exception):
    msg_fmt = 'An unknown exception occurred.'
    code = 500

    def __init__(self, message: str | None = None, **kwargs):
        self.kwargs = kwargs
        if not message:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError):
                LOG.exception('Exception in string format operation, '
                              'kwargs: %s', kwargs)
                message = self.msg_fmt
        self.msg = message
        super().__init__(message)

    def format_message(self) -> str:
        return self.args[0]


# 400
class Invalid(CinderException):
    msg_fmt = 'Unacceptable parameters.'
    code = 400


class InvalidInput(Invalid):
    msg_fmt = 'Invalid input received: %(reason)s'


class ValidationError(Invalid):
    msg_fmt = '%(detail)s'


class InvalidVolume(Invalid):
    msg_fmt = 'Invalid volume: %(reason)s'


class InvalidSnapshot(Invalid):
    msg_fmt = 'Invalid snapshot: %(reason)s'


class InvalidVolumeType(Invalid):
    msg_fmt = 'Invalid volume type: %(reason)s'


class InvalidHost(Invalid):
    msg_fmt = 'Invalid host: %(reason)s'


class InvalidAttachment(Invalid):
    msg_fmt = 'Invalid attachment: %(reason)s'


class MultiattachMigrationRefused(InvalidVolume):
    msg_fmt = ('Invalid volume: volume %(volume_id)s is multiattach and '
               'attached: its data cannot be migrated safely while '
               'several hosts may write to it. Detach it, or migrate a '
               'volume that is not multiattach.')


# 403
class NotAuthorized(CinderException):
    msg_fmt = 'Not authorized.'
    code = 403


class PolicyNotAuthorized(NotAuthorized):
    msg_fmt = "Policy doesn't allow %(action)s to be performed."


# 404
class NotFound(CinderException):
    msg_fmt = 'Resource could not be found.'
    code = 404


class VolumeNotFound(NotFound):
    msg_fmt = 'Volume %(volume_id)s could not be found.'


class VolumeTypeNotFound(NotFound):
    msg_fmt = 'Volume type %(volume_type_id)s could not be found.'


class VolumeTypeNotFoundByName(VolumeTypeNotFound):
    msg_fmt = 'Volume type with name %(volume_type_name)s could not be found.'


class VolumeAttachmentNotFound(NotFound):
    msg_fmt = 'Volume attachment %(filter)s could not be found.'


class SnapshotNotFound(NotFound):
    msg_fmt = 'Snapshot %(snapshot_id)s could not be found.'


class MigrationNotFound(NotFound):
    msg_fmt = 'No migration found for volume %(volume_id)s.'


class VersionNotFoundForAPIMethod(NotFound):
    msg_fmt = 'API version %(version)s is not supported on this method.'


class BackendNotFound(NotFound):
    msg_fmt = 'Backend %(host)s could not be found.'


# 406
class InvalidAPIVersion(CinderException):
    msg_fmt = ('Version %(req_ver)s is not supported by the API. Minimum is '
               '%(min_ver)s and maximum is %(max_ver)s.')
    code = 406


# 409
class Conflict(CinderException):
    msg_fmt = 'Conflict: %(reason)s'
    code = 409


class VolumeBusy(Conflict):
    msg_fmt = 'Volume %(volume_id)s is busy: %(reason)s'


class MigrationCancelTooLate(Conflict):
    msg_fmt = ('Migration %(migration_id)s of volume %(volume_id)s can no '
               'longer be cancelled: %(reason)s')


# 5xx
class VolumeBackendAPIException(CinderException):
    msg_fmt = 'Bad or unexpected response from the storage volume backend: ' \
              '%(data)s'


class CopyFailed(CinderException):
    msg_fmt = 'Copy of %(src)s to %(dst)s failed: %(reason)s'


class CopyAborted(CopyFailed):
    msg_fmt = 'Copy of %(src)s to %(dst)s aborted: %(reason)s'


class CopyStalled(CinderException):
    msg_fmt = ('copy stuck: no progress for %(seconds)d s at %(done)d of '
               '%(total)d bytes (migration_stall_timeout)')


class CopyVerificationFailed(CopyFailed):
    msg_fmt = ('Copy of %(src)s to %(dst)s does not match: sha256 '
               '%(src_digest)s != %(dst_digest)s')


class NBDExportError(VolumeBackendAPIException):
    msg_fmt = 'NBD export of %(path)s failed: %(reason)s'


class NovaConnectionFailed(CinderException):
    msg_fmt = 'Connection to Nova failed: %(reason)s'
    code = 503


class NovaAPIError(CinderException):
    """Nova answered with an error; ``status`` and Nova's own message."""

    msg_fmt = 'Nova answered %(status)s to %(method)s %(url)s: %(reason)s'
    code = 502

    @property
    def status(self) -> int | None:
        return self.kwargs.get('status')


class MigrationFailed(CinderException):
    msg_fmt = 'Migration of volume %(volume_id)s failed: %(reason)s'


class VolumeInUse(VolumeBusy):
    """Something on the array's host still uses a volume Cinder thinks free.

    ``holders`` names each process and how it uses the volume (open file,
    NBD client); ``action`` is what was refused.
    """

    msg_fmt = ('Volume %(volume_id)s is busy: it is still in use although '
               'Cinder has no attachment for it: %(holders)s. It was not '
               '%(action)s and no data was deleted; detach it from its '
               'guest first (e.g. Nova\'s DELETE os-volume_attachments).')
