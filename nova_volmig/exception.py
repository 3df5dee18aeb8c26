"""Exceptions of the Nova side.

One base class with a message template, as in Nova and os-brick: subclasses
set ``msg_fmt`` (formatted with the keyword arguments given) and ``code``
(the HTTP status the REST API answers with when the exception reaches it).
"""

from oslo_log import log as logging

from nova_volmig.i18n import _

LOG = logging.getLogger(__name__)


class NovaVolmigException(Exception):
    """Base exception; ``msg_fmt`` is formatted with the kwargs given."""

    msg_fmt = _('An unknown exception occurred.')
    code = 500
    safe = False

    def __init__(self, message: str | None = None, **kwargs):
        self.kwargs = kwargs
        self.kwargs.setdefault('code', self.code)
        if not message:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError):
                # A missing kwarg must not hide the real error.
                LOG.exception('Exception in string format operation, '
                              'kwargs: %s', kwargs)
                message = self.msg_fmt
        self.message = message
        super().__init__(message)

    def format_message(self) -> str:
        return self.args[0]


# 400
class Invalid(NovaVolmigException):
    msg_fmt = _('Bad request: %(reason)s')
    code = 400


class ValidationError(Invalid):
    msg_fmt = _('%(detail)s')


class InvalidInput(Invalid):
    msg_fmt = _('Invalid input received: %(reason)s')


class InvalidAttachment(Invalid):
    msg_fmt = _('Attachment %(attachment_id)s cannot be used: %(reason)s')


class RequestBodyTooLarge(Invalid):
    msg_fmt = _('Request body is %(size)d bytes, more than the %(limit)d '
                'allowed.')


# 403
class Forbidden(NovaVolmigException):
    msg_fmt = _('Forbidden')
    code = 403


class PolicyNotAuthorized(Forbidden):
    msg_fmt = _("Policy doesn't allow %(action)s to be performed.")


# 404
class NotFound(NovaVolmigException):
    msg_fmt = _('Resource could not be found.')
    code = 404


class InstanceNotFound(NotFound):
    msg_fmt = _('Instance %(instance_id)s could not be found.')


class VolumeBDMNotFound(NotFound):
    msg_fmt = _('Volume %(volume_id)s is not attached to instance '
                '%(instance_uuid)s.')


class AttachmentNotFound(NotFound):
    msg_fmt = _('Volume attachment %(attachment_id)s could not be found.')


class VolumeMigrationNotFound(NotFound):
    msg_fmt = _('No volume migration found for attachment '
                '%(attachment_id)s.')


class InstanceActionNotFound(NotFound):
    msg_fmt = _('Action for request_id %(request_id)s on instance '
                '%(instance_uuid)s not found.')


class VolumeNotFound(NotFound):
    msg_fmt = _('Volume %(volume_id)s could not be found.')


class ComputeHostNotFound(NotFound):
    msg_fmt = _('Compute host %(host)s could not be found.')


class VersionNotFoundForAPIMethod(NotFound):
    msg_fmt = _('API version %(version)s is not supported on this method.')


# 409
class Conflict(NovaVolmigException):
    msg_fmt = _('Conflict: %(reason)s')
    code = 409


class InstanceInvalidState(Conflict):
    msg_fmt = _('Cannot %(method)s instance %(instance_uuid)s while it is '
                'in %(attr)s %(state)s.')


class InstanceIsLocked(Conflict):
    msg_fmt = _('Instance %(instance_uuid)s is locked.')


class InstanceBusy(Conflict):
    msg_fmt = _('Instance %(instance_uuid)s is busy: task_state is '
                '%(task_state)s.')


class MultiattachNotSupported(Conflict):
    msg_fmt = _('Volume %(volume_id)s is multiattach: its data cannot be '
                'migrated safely while other hosts may write to it.')


class VolumeMigrationInProgress(Conflict):
    msg_fmt = _('A volume migration of attachment %(attachment_id)s is '
                'already %(status)s.')


class VolumeMigrationInvalidState(Conflict):
    msg_fmt = _('Cannot %(action)s the volume migration of attachment '
                '%(attachment_id)s: its status is %(status)s, not '
                '%(expected)s.')


class VolumeMigrationUnsupported(Conflict):
    msg_fmt = _('Instance %(instance_uuid)s cannot migrate a volume now: '
                '%(reason)s')


class ComputeServiceUnavailable(Conflict):
    msg_fmt = _('Compute service of host %(host)s is unavailable: '
                '%(reason)s')


class VolumeAttachmentConflict(Conflict):
    msg_fmt = _('Volume %(volume_id)s cannot be attached: %(reason)s')


class VolumeSwapRefused(Conflict):
    msg_fmt = _('Volume %(volume_id)s cannot be swapped: %(reason)s')


# 413 / 5xx
class VolumeMigrationFailed(NovaVolmigException):
    # Only admins and services reach the volume-migration API: they need
    # the reason, not a generic 500.
    safe = True
    msg_fmt = _('Volume migration of attachment %(attachment_id)s failed: '
                '%(reason)s')


class CinderConnectionFailed(NovaVolmigException):
    msg_fmt = _('Connection to Cinder failed: %(reason)s')
    code = 503


class CinderAPIError(NovaVolmigException):
    msg_fmt = _('Cinder answered %(status)s to %(method)s %(url)s: '
                '%(reason)s')
    code = 502


class VirtDriverError(NovaVolmigException):
    """Base of hypervisor driver failures.

    Their messages name the domain, disk, job or path and hold no secret:
    the API shows them, as operators and Cinder need them.
    """

    safe = True
    msg_fmt = _('Hypervisor driver error: %(reason)s')


class InternalError(NovaVolmigException):
    msg_fmt = '%(err)s'


# Cinder's refusals (issue 16 item 10): the caller gets Cinder's status and
# Cinder's message, as upstream's translate_cinder_exception, not a 502.
class CinderRefused(CinderAPIError):
    """Cinder refused a request (4xx); the message is Cinder's own."""

    safe = True
    msg_fmt = _('%(reason)s')


class CinderBadRequest(CinderRefused, Invalid):
    code = 400


class CinderForbidden(CinderRefused, Forbidden):
    code = 403


class CinderConflict(CinderRefused, Conflict):
    code = 409
