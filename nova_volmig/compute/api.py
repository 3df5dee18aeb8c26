"""Compute API: state checks, locks and compare-and-swaps before RPC.

Every operation that must exclude others claims the instance's
``task_state`` with a compare-and-swap (``UPDATE ... WHERE task_state IS
NULL``); of N concurrent callers exactly one wins and the rest answer 409.
The claim is released by the compute manager when the operation ends, or
here when the RPC to the compute host could not be made.
"""

from __future__ import annotations

import functools
from typing import Callable

from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_utils import uuidutils

from nova_volmig.compute import flavors
from nova_volmig.compute import power_state
from nova_volmig.compute import rpcapi as compute_rpcapi
from nova_volmig.compute import task_states
from nova_volmig.compute import utils as compute_utils
from nova_volmig.compute import vm_states
from nova_volmig.db import api as db
from nova_volmig.db import models
from nova_volmig import exception
from nova_volmig.i18n import _
from nova_volmig.objects import fields
from nova_volmig.objects import volume_migration as vm_obj
from nova_volmig.volume import cinder

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

Status = fields.VolumeMigrationStatus
VolumeMigration = vm_obj.VolumeMigration

COMPUTE_BINARY = 'nova-volmig-compute'

# Instance actions (os-instance-actions) of the volume migration API.
ACTION_START = 'volume_migration_start'
ACTION_COMPLETE = 'volume_migration_complete'
ACTION_CANCEL = 'volume_migration_cancel'


# A volume migration starts while the instance has none of these.
_MIGRATION_TASK_STATES = (None,) + task_states.VOLUME_MIGRATION_STATES


def _claim_task_state(context, instance: models.Instance, task_state: str,
                      method: str, vm_state: tuple[str, ...],
                      from_states: tuple = (None,)) -> models.Instance:
    """CAS task_state ``from_states`` -> task_state, if unlocked.

    Raises the 409 that names what stood in the way.
    """
    expected = {'task_state': from_states, 'vm_state': vm_state,
                'locked': False}
    try:
        return db.instance_update(context, instance.uuid,
                                  {'task_state': task_state}, expected)
    except db.UnexpectedValues:
        current = db.instance_get(context, instance.uuid)
        if current.locked:
            raise exception.InstanceIsLocked(instance_uuid=instance.uuid)
        if current.task_state not in from_states:
            raise exception.InstanceBusy(instance_uuid=instance.uuid,
                                         task_state=current.task_state)
        raise exception.InstanceInvalidState(
            method=method, instance_uuid=instance.uuid, attr='vm_state',
            state=current.vm_state)


def _release_task_state(context, instance_uuid: str, task_state: str
                        ) -> None:
    try:
        db.instance_update(context, instance_uuid, {'task_state': None},
                           {'task_state': task_state})
    except (db.UnexpectedValues, exception.NotFound):
        LOG.warning('Task state of instance %s was no longer %s',
                    instance_uuid, task_state)


def _rpc_errors(host_of: Callable):
    """Turn 'the compute host did not answer' into a 409, not a hang."""

    def decorator(f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            try:
                return f(*args, **kwargs)
            except messaging.MessagingTimeout as e:
                raise exception.ComputeServiceUnavailable(
                    host=host_of(*args, **kwargs),
                    reason=_('no answer within the RPC timeout (%s)') % e)
            except messaging.MessageDeliveryFailure as e:
                raise exception.ComputeServiceUnavailable(
                    host=host_of(*args, **kwargs), reason=str(e))
        return wrapper
    return decorator


class API:
    """The compute API the REST controllers call."""

    def __init__(self, volume_api: cinder.API | None = None,
                 compute_rpcapi: compute_rpcapi.ComputeAPI | None = None):
        self.volume_api = volume_api or cinder.API()
        self._compute_rpcapi = compute_rpcapi

    @property
    def compute_rpcapi(self) -> compute_rpcapi.ComputeAPI:
        if self._compute_rpcapi is None:
            self._compute_rpcapi = compute_rpcapi.ComputeAPI()
        return self._compute_rpcapi

    # Hosts

    def _pick_host(self, context, availability_zone: str | None) -> str:
        services = [s for s in db.service_get_all(context, COMPUTE_BINARY)
                    if not s.disabled and db.service_is_up(s)]
        if availability_zone and ':' in availability_zone:
            # Upstream's admin-only "zone:host" form targets a host.
            host = availability_zone.split(':', 1)[1]
            if not context.is_admin:
                raise exception.Forbidden(
                    _('Only an admin may choose the compute host.'))
            if not any(s.host == host for s in services):
                raise exception.ComputeServiceUnavailable(
                    host=host, reason=_('no such compute service is up'))
            return host
        if not services:
            raise exception.ComputeServiceUnavailable(
                host='*', reason=_('no compute service is up'))
        load = {s.host: 0 for s in services}
        for inst in db.instance_get_all(context.elevated(),
                                        all_tenants=True):
            if inst.host in load:
                load[inst.host] += 1
        return min(load, key=lambda h: (load[h], h))

    def _check_host_up(self, context, instance: models.Instance) -> None:
        try:
            service = db.service_get(context, instance.host, COMPUTE_BINARY)
        except exception.ComputeHostNotFound:
            raise exception.ComputeServiceUnavailable(
                host=instance.host, reason=_('unknown compute host'))
        if not db.service_is_up(service):
            raise exception.ComputeServiceUnavailable(
                host=instance.host,
                reason=_('no heartbeat for more than %ds')
                % CONF.compute.service_down_time)

    def _host_supports_live_migration(self, context, host: str) -> bool:
        try:
            service = db.service_get(context, host, COMPUTE_BINARY)
        except exception.ComputeHostNotFound:
            return False
        return service.supports_live_volume_migration

    # Servers

    def create(self, context, *, name: str, flavor_ref: str | None = None,
               image_ref: str | None = None,
               availability_zone: str | None = None) -> models.Instance:
        flavor = flavors.get(flavor_ref)
        host = self._pick_host(context, availability_zone)
        instance = db.instance_create(context, {
            'uuid': uuidutils.generate_uuid(),
            'display_name': name,
            'project_id': context.project_id,
            'user_id': context.user_id,
            'host': host,
            'availability_zone': (availability_zone or
                                  CONF.default_availability_zone
                                  ).split(':', 1)[0] or
            CONF.default_availability_zone,
            'vm_state': vm_states.BUILDING,
            'power_state': power_state.NOSTATE,
            'task_state': task_states.SPAWNING,
            'memory_mb': flavor['ram'],
            'vcpus': flavor['vcpus'],
            'flavor_ref': flavor['id'],
            'image_ref': image_ref,
        })
        db.action_start(context, instance.uuid, 'create')
        self.compute_rpcapi.build_and_run_instance(context, instance.uuid,
                                                   host)
        return instance

    def get(self, context, instance_id: str) -> models.Instance:
        if not uuidutils.is_uuid_like(instance_id):
            raise exception.InstanceNotFound(instance_id=instance_id)
        return db.instance_get(context, instance_id)

    def get_all(self, context, *, all_tenants: bool = False,
                project_id: str | None = None) -> list[models.Instance]:
        return db.instance_get_all(context, all_tenants=all_tenants,
                                   project_id=project_id)

    def _simple_action(self, context, instance, *, task_state: str,
                       vm_state: tuple[str, ...], action: str,
                       method: str, rpc: Callable) -> None:
        self._check_host_up(context, instance)
        _claim_task_state(context, instance, task_state, method, vm_state)
        db.action_start(context, instance.uuid, action)
        try:
            rpc(context, instance.uuid, instance.host)
        except Exception:
            _release_task_state(context, instance.uuid, task_state)
            raise

    def delete(self, context, instance: models.Instance) -> None:
        self._simple_action(
            context, instance, task_state=task_states.DELETING,
            vm_state=(vm_states.ACTIVE, vm_states.STOPPED, vm_states.ERROR),
            action='delete', method='delete',
            rpc=self.compute_rpcapi.terminate_instance)

    def start(self, context, instance: models.Instance) -> None:
        self._simple_action(
            context, instance, task_state=task_states.POWERING_ON,
            vm_state=(vm_states.STOPPED,), action='start', method='start',
            rpc=self.compute_rpcapi.start_instance)

    def stop(self, context, instance: models.Instance) -> None:
        self._simple_action(
            context, instance, task_state=task_states.POWERING_OFF,
            vm_state=(vm_states.ACTIVE, vm_states.ERROR), action='stop',
            method='stop', rpc=self.compute_rpcapi.stop_instance)

    # Volume attachments

    def get_attachments(self, context, instance: models.Instance
                        ) -> list[models.BlockDeviceMapping]:
        return db.bdm_get_all_by_instance(context, instance.uuid)

    def get_attachment(self, context, instance: models.Instance,
                       volume_id: str) -> models.BlockDeviceMapping:
        return db.bdm_get_by_volume(context, instance.uuid, volume_id)

    @staticmethod
    def _next_device_name(bdms: list[models.BlockDeviceMapping],
                          requested: str | None) -> str:
        used = {b.device_name for b in bdms}
        if requested:
            if requested in used:
                raise exception.InvalidInput(
                    reason=_('device %s is already in use') % requested)
            return requested
        for letter in 'bcdefghijklmnopqrstuvwxyz':
            name = '/dev/vd%s' % letter
            if name not in used:
                return name
        raise exception.InvalidInput(reason=_('no free device name left'))

    @_rpc_errors(lambda self, context, instance, *a, **kw: instance.host)
    def attach_volume(self, context, instance: models.Instance,
                      volume_id: str, device: str | None = None
                      ) -> models.BlockDeviceMapping:
        self._check_host_up(context, instance)
        volume = self.volume_api.get(context, volume_id)
        if volume.get('multiattach'):
            # Safe migration of a volume other hosts write is not possible
            # (DESIGN 1); the prototype refuses multiattach outright.
            raise exception.MultiattachNotSupported(volume_id=volume_id)
        try:
            db.bdm_get_by_volume(context, instance.uuid, volume_id)
        except exception.VolumeBDMNotFound:
            pass
        else:
            raise exception.VolumeAttachmentConflict(
                volume_id=volume_id,
                reason=_('it is already attached to this instance'))
        _claim_task_state(context, instance, task_states.ATTACHING_VOLUME,
                          'attach a volume to',
                          (vm_states.ACTIVE, vm_states.STOPPED))
        try:
            db.action_start(context, instance.uuid, 'attach_volume')
            device = self._next_device_name(
                db.bdm_get_all_by_instance(context, instance.uuid), device)
            attachment = self.volume_api.attachment_create(
                context, volume_id, instance.uuid)
            bdm = db.bdm_create(context, {
                'instance_uuid': instance.uuid,
                'volume_id': volume_id,
                'attachment_id': attachment['id'],
                'device_name': device,
                'multiattach': bool(volume.get('multiattach')),
                'status': 'attaching',
            })
        except Exception:
            _release_task_state(context, instance.uuid,
                                task_states.ATTACHING_VOLUME)
            raise
        # No release here on failure: the manager rolls back and releases
        # the claim itself (after an RPC timeout it may still attach).
        self.compute_rpcapi.attach_volume(context, instance.uuid,
                                          instance.host, bdm.id)
        return db.bdm_get_by_id(context, bdm.id)

    @_rpc_errors(lambda self, context, instance, *a, **kw: instance.host)
    def detach_volume(self, context, instance: models.Instance,
                      volume_id: str) -> None:
        """Check, claim the instance, then cast: the REST answer is 202.

        What can be refused is refused here, synchronously (404 for a volume
        the instance does not have, 409 for a busy, locked or migrating
        instance or a compute host that is down); the detach itself runs on
        the compute host and ends as the ``detach_volume`` instance action.
        """
        self._check_host_up(context, instance)
        bdm = db.bdm_get_by_volume(context, instance.uuid, volume_id)
        _claim_task_state(context, instance, task_states.DETACHING_VOLUME,
                          'detach a volume from',
                          (vm_states.ACTIVE, vm_states.STOPPED))
        try:
            db.action_start(context, instance.uuid, 'detach_volume')
            self.compute_rpcapi.detach_volume(context, instance.uuid,
                                              instance.host, bdm.id)
        except Exception:
            # The cast never left: nothing will release the claim.
            _release_task_state(context, instance.uuid,
                                task_states.DETACHING_VOLUME)
            raise

    def swap_volume(self, context, instance: models.Instance,
                    old_volume_id: str, new_volume_id: str) -> None:
        """Legacy swap: only as part of a Cinder-driven migration."""
        bdm = db.bdm_get_by_volume(context, instance.uuid, old_volume_id)
        if bdm.multiattach:
            raise exception.MultiattachNotSupported(volume_id=old_volume_id)
        old_volume = self.volume_api.get(context, old_volume_id)
        new_volume = self.volume_api.get(context, new_volume_id)
        # Upstream made swap Cinder-only (nova bug 2112187): only the
        # migration Cinder is running now, to that very new volume.
        refusal = cinder.swap_refusal(old_volume, new_volume)
        if refusal:
            raise exception.VolumeSwapRefused(volume_id=old_volume_id,
                                              reason=refusal)
        if new_volume.get('attachments'):
            raise exception.VolumeSwapRefused(
                volume_id=new_volume_id,
                reason=_('the new volume is already attached'))
        self._simple_action(
            context, instance, task_state=task_states.SWAPPING_VOLUME,
            vm_state=(vm_states.ACTIVE,), action='swap_volume',
            method='swap a volume of',
            rpc=lambda ctxt, uuid, host: self.compute_rpcapi.swap_volume(
                ctxt, uuid, host, old_volume_id, new_volume_id))

    # Volume migrations (DESIGN 3 and 4)

    def _bdm_for_attachment(self, context, attachment_id: str
                            ) -> tuple[models.BlockDeviceMapping,
                                       models.Instance]:
        bdm = db.bdm_get_by_attachment(context, attachment_id)
        try:
            instance = db.instance_get(context, bdm.instance_uuid)
        except exception.InstanceNotFound:
            # Another project's instance: the attachment is not found.
            raise exception.AttachmentNotFound(attachment_id=attachment_id)
        return bdm, instance

    def volume_migration_get(self, context, src_attachment_id: str
                             ) -> VolumeMigration:
        migration = VolumeMigration.get_latest(context, src_attachment_id)
        try:
            db.instance_get(context, migration.instance_uuid)
        except exception.InstanceNotFound:
            raise exception.VolumeMigrationNotFound(
                attachment_id=src_attachment_id)
        return migration

    def volume_migration_list(self, context, *,
                              instance_uuid: str | None = None,
                              status: str | None = None
                              ) -> list[VolumeMigration]:
        project_id = None if context.is_admin else context.project_id
        return VolumeMigration.list(context, instance_uuid=instance_uuid,
                                    status=status, project_id=project_id)

    def volume_migration_start(self, context, src_attachment_id: str
                               ) -> VolumeMigration:
        bdm, instance = self._bdm_for_attachment(context, src_attachment_id)
        if bdm.multiattach:
            raise exception.MultiattachNotSupported(volume_id=bdm.volume_id)
        try:
            latest = VolumeMigration.get_latest(context, src_attachment_id)
        except exception.VolumeMigrationNotFound:
            latest = None
        if latest and latest.active:
            raise exception.VolumeMigrationInProgress(
                attachment_id=src_attachment_id, status=latest.status)
        if instance.locked:
            raise exception.InstanceIsLocked(instance_uuid=instance.uuid)
        if instance.task_state not in _MIGRATION_TASK_STATES:
            raise exception.InstanceBusy(instance_uuid=instance.uuid,
                                         task_state=instance.task_state)
        if (instance.vm_state == vm_states.ACTIVE and
                not self._host_supports_live_migration(context,
                                                       instance.host)):
            raise exception.VolumeMigrationUnsupported(
                instance_uuid=instance.uuid,
                reason=_('its hypervisor has no live storage migration; '
                         'stop the instance first'))
        self._check_host_up(context, instance)
        # Other volumes of the instance may be migrating (their task
        # states allow this one); of N concurrent starts on one attachment
        # exactly one INSERT passes (one active record per attachment).
        instance = _claim_task_state(
            context, instance, task_states.VOLUME_MIGRATING,
            'start a volume migration of',
            (vm_states.ACTIVE, vm_states.STOPPED),
            from_states=_MIGRATION_TASK_STATES)
        try:
            migration = VolumeMigration.create(context, bdm, instance.host)
        except Exception:
            compute_utils.settle_volume_migration_task_state(context,
                                                             instance.uuid)
            raise
        # A migration of another volume that ended between the claim and
        # the INSERT may have released the task state: claim it again now
        # that this record counts, or give up if another action took it.
        try:
            instance = _claim_task_state(
                context, instance, task_states.VOLUME_MIGRATING,
                'start a volume migration of',
                (vm_states.ACTIVE, vm_states.STOPPED),
                from_states=_MIGRATION_TASK_STATES)
        except exception.NovaVolmigException as e:
            migration.abandon_start(compute_utils.error_text(e))
            compute_utils.settle_volume_migration_task_state(context,
                                                             instance.uuid)
            raise
        db.action_start(context, instance.uuid, ACTION_START)
        try:
            self.compute_rpcapi.volume_migration_start(
                context, instance.uuid, instance.host, migration.id)
        except (messaging.MessagingTimeout,
                messaging.MessageDeliveryFailure) as e:
            if self._abandon_start(context, instance, migration, e):
                # The host saved running before its answer was lost: the
                # start happened, and a 409 would make the caller drop
                # dst while the guest writes into the start overlay.
                LOG.warning('Volume migration %s: no answer from %s, but '
                            'the record is running; start succeeded',
                            migration.id, instance.host)
                return migration
            raise exception.ComputeServiceUnavailable(
                host=instance.host,
                reason=_('volume migration start was not confirmed within '
                         '%ds') % CONF.compute.volume_migration_start_timeout)
        return migration.refresh()

    def _abandon_start(self, context, instance, migration, error) -> bool:
        """The compute host did not answer: make the record truthful.

        If the host later runs the start, it finds the record in error
        and undoes the redirection (the RPC carries a deadline as well).
        Returns True when the record was already ``running``: the host
        did the start and only its answer was lost.
        """
        try:
            migration.abandon_start(
                _('compute host %(host)s did not confirm start: '
                  '%(err)s') % {'host': instance.host, 'err': error})
        except exception.VolumeMigrationInvalidState:
            # abandon_start loaded the status it found.
            return migration.status == Status.RUNNING
        compute_utils.settle_volume_migration_task_state(context,
                                                         instance.uuid)
        db.action_finish(context, instance.uuid, message='Error')
        return False

    def _running_migration(self, context, src_attachment_id: str,
                           action: str) -> tuple[VolumeMigration,
                                                 models.Instance]:
        migration = self.volume_migration_get(context, src_attachment_id)
        if migration.status != Status.RUNNING:
            raise exception.VolumeMigrationInvalidState(
                action=action, attachment_id=src_attachment_id,
                status=migration.status, expected=Status.RUNNING)
        instance = db.instance_get(context, migration.instance_uuid)
        return migration, instance

    @staticmethod
    def _leave_running(context, instance, instance_action: str) -> None:
        """After the record left ``running``: the task state follows.

        It sums up every active migration of the instance (several of its
        volumes may migrate at once).

        The record's compare-and-swap came first: of a concurrent
        complete and cancel exactly one passes.
        """
        compute_utils.settle_volume_migration_task_state(context,
                                                         instance.uuid)
        db.action_start(context, instance.uuid, instance_action)

    def volume_migration_complete(self, context, src_attachment_id: str,
                                  dst_attachment_id: str) -> None:
        migration, instance = self._running_migration(
            context, src_attachment_id, 'complete')
        if dst_attachment_id == src_attachment_id:
            raise exception.InvalidAttachment(
                attachment_id=dst_attachment_id,
                reason=_('dst must differ from src'))
        try:
            dst = self.volume_api.attachment_get(context, dst_attachment_id)
        except exception.AttachmentNotFound:
            raise exception.InvalidAttachment(
                attachment_id=dst_attachment_id,
                reason=_('Cinder does not know it'))
        if dst.get('instance') != instance.uuid:
            raise exception.InvalidAttachment(
                attachment_id=dst_attachment_id,
                reason=_('it is not for instance %s') % instance.uuid)
        self._check_host_up(context, instance)
        # Handed on: the compute host need not ask Cinder again while
        # Cinder waits.
        migration.begin_complete(dst_attachment_id,
                                 dst.get('connection_info') or None)
        self._leave_running(context, instance, ACTION_COMPLETE)
        try:
            self.compute_rpcapi.volume_migration_complete(
                context, instance.uuid, instance.host, migration.id)
        except (messaging.MessagingTimeout,
                messaging.MessageDeliveryFailure) as e:
            self._abandon_complete(context, instance, migration, e)

    def _abandon_complete(self, context, instance, migration, error):
        """The compute host did not answer complete in time.

        If it never took the request (no claim), nothing was switched:
        the record goes back to ``running`` (call complete again or
        cancel). If it did, it is switching now: the record stays
        ``completing`` and tells the outcome later.
        """
        timeout = CONF.compute.volume_migration_complete_timeout
        try:
            migration.complete_not_taken(
                _('compute host %(host)s did not take complete within '
                  '%(timeout)ds (%(err)s); nothing was changed')
                % {'host': instance.host, 'timeout': timeout, 'err': error})
        except (exception.VolumeMigrationInvalidState, db.UnexpectedValues):
            raise exception.ComputeServiceUnavailable(
                host=instance.host,
                reason=_('volume migration complete is still running '
                         'there after %ds; GET the migration for its '
                         'outcome') % timeout)
        db.action_finish(context, instance.uuid, message='Error')
        raise exception.ComputeServiceUnavailable(
            host=instance.host,
            reason=_('volume migration complete was not taken within %ds; '
                     'nothing was changed and the migration is running: '
                     'call complete again or cancel') % timeout)

    def volume_migration_cancel(self, context, src_attachment_id: str
                                ) -> None:
        migration, instance = self._running_migration(
            context, src_attachment_id, 'cancel')
        self._check_host_up(context, instance)
        migration.begin_cancel()
        self._leave_running(context, instance, ACTION_CANCEL)
        self.compute_rpcapi.volume_migration_cancel(
            context, instance.uuid, instance.host, migration.id)

    # Instance actions

    def get_instance_actions(self, context, instance: models.Instance
                             ) -> list[models.InstanceAction]:
        return db.actions_get(context, instance.uuid)

    def get_instance_action(self, context, instance: models.Instance,
                            request_id: str):
        return db.action_get_by_request_id(context, instance.uuid,
                                           request_id)
