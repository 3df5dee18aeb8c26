"""Exceptions of the benchmark: one base with message templates."""

from __future__ import annotations


class BenchError(Exception):
    """Base exception; ``msg_fmt`` is formatted with the kwargs given."""

    msg_fmt = 'Benchmark failure.'

    def __init__(self, message: str | None = None, **kwargs):
        self.kwargs = kwargs
        if not message:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError):
                message = '%s (%r)' % (self.msg_fmt, kwargs)
        super().__init__(message)


class InvalidParameter(BenchError):
    msg_fmt = 'Invalid %(name)s %(value)r: %(reason)s'


class CommandUnavailable(BenchError):
    msg_fmt = '%(what)s is not available here: %(reason)s'


class GuestBuildFailed(BenchError):
    msg_fmt = 'Building the guest image failed: %(reason)s'


class WriterLogError(BenchError):
    msg_fmt = 'Guest writer log %(path)s: %(reason)s'


class LinkError(BenchError):
    msg_fmt = 'Shaped link %(name)s: %(reason)s'


class NamespaceUnavailable(LinkError):
    msg_fmt = ('Network namespaces cannot be made here (%(reason)s); '
               'shape the exports with a throttle group instead.')


class LoopDeviceUnavailable(BenchError):
    msg_fmt = ('Loop devices cannot be had here (%(reason)s); the XFS '
               'reflink pool is skipped.')


class PoolError(BenchError):
    msg_fmt = 'XFS pool %(path)s: %(reason)s'


class ChecksumMismatch(BenchError):
    msg_fmt = ('Data integrity check failed for %(what)s: expected '
               'sha256 %(expected)s, found %(actual)s.')


class DeploymentError(BenchError):
    msg_fmt = 'Deployment: %(reason)s'


class APIError(DeploymentError):
    msg_fmt = '%(method)s %(path)s answered %(status)s: %(body)s'


class MigrationFailed(BenchError):
    msg_fmt = 'Migration %(what)s failed: %(reason)s'
