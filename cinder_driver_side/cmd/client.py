"""volmig: migrate a volume and watch it, for people.

    volmig pools [--detail]
    volmig migrate VOLUME --host HOST@BACKEND#POOL [--force-host-copy]
                          [--lock-volume] [--bandwidth BYTES/S] [--wait]
    volmig retype VOLUME TYPE --migration-policy on-demand [--wait]
    volmig show VOLUME
    volmig cancel VOLUME [--wait]

``volmig pools`` lists the pools ``--host`` may name in this deployment
(``aio@array1#pool2`` in nova-volmig-aio, ``cinder1@array1#pool2`` in the
distributed one).

Talks to the volume REST API (noauth2 by default) at microversion 3.72
and draws ``migration_progress`` as a progress bar, with the rate and
ETA Cinder computes (``migration_rate``, ``migration_eta``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from keystoneauth1 import exceptions as ks_exc
from oslo_utils import strutils
from rich import console as rich_console
from rich import progress as rich_progress
from rich import table as rich_table

from cinder_driver_side.objects import fields
from volmig_common import clients

MICROVERSION = clients.VOLUME_MICROVERSION
MIG = fields.VolumeMigrationStatus


class ClientError(Exception):
    pass


class VolumeAPI:
    """The volume API through a keystoneauth Adapter (volmig_common)."""

    def __init__(self, endpoint: str, token: str, roles: str | None,
                 timeout: float = 30.0):
        self.endpoint = endpoint.rstrip('/')
        self.adapter = clients.volume_adapter(
            clients.token_session(token, roles), endpoint, MICROVERSION)
        self.timeout = timeout

    def _call(self, method: str, path: str, body=None):
        try:
            response = self.adapter.request(path, method, json=body,
                                            timeout=self.timeout)
        except ks_exc.ClientException as e:
            raise ClientError('cannot reach %s: %s' % (self.endpoint, e))
        if response.status_code >= 400:
            try:
                fault = next(iter(response.json().values()))
                message = fault.get('message', response.text)
            except (ValueError, StopIteration, AttributeError):
                message = response.text
            raise ClientError('%s (HTTP %d)' % (message,
                                                response.status_code))
        return response.json() if response.content else None

    def volume(self, volume_id: str) -> dict:
        return self._call('GET', '/volumes/%s' % volume_id)['volume']

    def migration(self, volume_id: str) -> dict:
        return self._call('GET', '/volumes/%s/migration'
                          % volume_id)['migration']

    def action(self, volume_id: str, name: str, args: dict) -> None:
        self._call('POST', '/volumes/%s/action' % volume_id, {name: args})

    def pools(self) -> list[dict]:
        """Cinder's ``GET /scheduler-stats/get_pools?detail=true``."""
        return self._call('GET', '/scheduler-stats/get_pools?detail=true'
                          )['pools']


def _bytes(value) -> str:
    """``123.4 MiB`` for a byte count; ``?`` when unknown."""
    if value is None:
        return '?'
    value = float(value)
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if value < 1024 or unit == 'GiB':
            return ('%d %s' % (value, unit) if unit == 'B'
                    else '%.1f %s' % (value, unit))
        value /= 1024
    return '?'


def rate_text(volume: dict) -> str:
    """``done/total, rate, ETA, limit`` of a migrating volume (3.72)."""
    if volume.get('migration_bytes_total') is None:
        return ''
    text = '%s/%s' % (_bytes(volume.get('migration_bytes_done')),
                      _bytes(volume['migration_bytes_total']))
    rate = volume.get('migration_rate')
    text += ' at %s/s' % _bytes(rate) if rate is not None else ''
    eta = volume.get('migration_eta')
    text += ', ETA %d s' % eta if eta is not None else ''
    if volume.get('migration_bandwidth'):
        text += ' (limit %s/s)' % _bytes(volume['migration_bandwidth'])
    return text


def parse_bandwidth(text: str) -> int:
    """Bytes/s from ``33554432``, ``32MiB`` or ``32M`` (IEC units)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        return int(strutils.string_to_bytes(
            text if text.endswith('B') else text + 'iB',
            unit_system='IEC', return_int=True))
    except (ValueError, TypeError):
        raise argparse.ArgumentTypeError('not a byte rate: %r' % text)


def bar_state(volume: dict) -> tuple[int | None, str]:
    """(percent or None to leave the bar, description) for one poll.

    A migration that ended ``success`` reads 100 % even when no poll saw it
    ``migrating`` (a quick migration); other ends keep the last percent.
    """
    status = volume.get('migration_status')
    percent = volume.get('migration_progress')
    if status == MIG.MIGRATING and percent is not None:
        return int(percent), MIG.MIGRATING
    if status in (MIG.COMPLETING, MIG.SUCCESS):
        return 100, status
    if status == MIG.QUEUED and volume.get('migration_queue_position'):
        return None, 'queued (#%s)' % volume['migration_queue_position']
    return None, status or 'waiting'


def watch(api: VolumeAPI, volume_id: str, console, interval: float = 0.5
          ) -> int:
    """Progress bar until the migration ends; 0 on success."""
    columns = (rich_progress.TextColumn('{task.description}'),
               rich_progress.BarColumn(),
               rich_progress.TaskProgressColumn(),
               rich_progress.TextColumn('{task.fields[rate]}'),
               rich_progress.TimeElapsedColumn())
    with rich_progress.Progress(*columns, console=console) as bar:
        task = bar.add_task(MIG.STARTING, total=100, rate='')
        while True:
            volume = api.volume(volume_id)
            status = volume.get('migration_status')
            if 'migration_status' not in volume:
                raise ClientError('migration_status is admin-only: use an '
                                  'admin token')
            percent, description = bar_state(volume)
            if percent is None:
                bar.update(task, description=description)
            else:
                # Keep the last rate seen once the copy is over.
                rate = rate_text(volume)
                bar.update(task, completed=percent, description=description,
                           **({'rate': rate} if rate else {}))
            if status not in MIG.ACTIVE:
                break
            time.sleep(interval)
    record = api.migration(volume_id)
    if status == MIG.SUCCESS:
        console.print('[green]%s migrated to %s[/green]'
                      % (volume_id, record['dest_host']))
        return 0
    console.print('[red]migration of %s ended %s: %s[/red]'
                  % (volume_id, status, record.get('error')))
    return 1


def pools(api: VolumeAPI, console, detail: bool = False) -> int:
    """The pools of the deployment: what ``migrate --host`` may name."""
    found = api.pools()
    if not detail:
        for pool in found:
            console.print(pool['name'], highlight=False, soft_wrap=True)
        return 0
    table = rich_table.Table(title='pools')
    for column in ('name', 'backend', 'protocol', 'total GiB', 'free GiB'):
        table.add_column(column)
    for pool in found:
        caps = pool.get('capabilities', {})
        table.add_row(pool['name'], str(caps.get('volume_backend_name')),
                      str(caps.get('storage_protocol')),
                      str(caps.get('total_capacity_gb')),
                      str(caps.get('free_capacity_gb')))
    console.print(table)
    return 0


def show(api: VolumeAPI, volume_id: str, console) -> int:
    volume = api.volume(volume_id)
    table = rich_table.Table(title='volume %s' % volume_id)
    table.add_column('field')
    table.add_column('value')
    for key in ('status', 'os-vol-host-attr:host', 'migration_status',
                'migration_progress', 'migration_queue_position',
                'os-vol-mig-status-attr:name_id',
                'volume_type', 'size', 'size_bytes'):
        if key in volume:
            table.add_row(key, str(volume[key]))
    if volume.get('migration_bytes_total') is not None:
        eta = volume.get('migration_eta')
        for key, value in (
                ('bytes', '%s of %s' % (
                    _bytes(volume.get('migration_bytes_done')),
                    _bytes(volume['migration_bytes_total']))),
                ('rate', '%s/s' % _bytes(volume.get('migration_rate'))),
                ('ETA', '?' if eta is None else '%d s' % eta),
                ('bandwidth limit',
                 '%s/s' % _bytes(volume['migration_bandwidth'])
                 if volume.get('migration_bandwidth') else 'none')):
            table.add_row(key, value)
    console.print(table)
    try:
        record = api.migration(volume_id)
    except ClientError:
        console.print('no migration recorded')
        return 0
    table = rich_table.Table(title='latest migration %s' % record['id'])
    table.add_column('field')
    table.add_column('value')
    for key, value in record.items():
        if key != 'id':
            table.add_row(key, str(value))
    console.print(table)
    return 0


def cancel(api: VolumeAPI, volume_id: str, console, wait: bool = False,
           interval: float = 0.5) -> int:
    """os-migrate_volume_cancel; 0 once requested (or ``cancelled``)."""
    api.action(volume_id, 'os-migrate_volume_cancel', {})
    console.print('cancel of the migration of %s requested' % volume_id)
    if not wait:
        return 0
    while True:
        status = api.volume(volume_id).get('migration_status')
        if status not in MIG.ACTIVE:
            break
        time.sleep(interval)
    if status == MIG.CANCELLED:
        console.print('[green]migration of %s cancelled[/green]'
                      % volume_id)
        return 0
    console.print('[red]migration of %s ended %s[/red]'
                  % (volume_id, status))
    return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='volmig', description=__doc__,
                                     formatter_class=argparse.
                                     RawDescriptionHelpFormatter)
    parser.add_argument('--os-endpoint', default=os.environ.get(
        'OS_VOLUME_ENDPOINT', 'http://127.0.0.1:8776/v3'),
        help='volume v3 endpoint (env OS_VOLUME_ENDPOINT)')
    parser.add_argument('--os-token', default=os.environ.get(
        'OS_TOKEN', 'admin:admin'),
        help='noauth2 "<user>:<project>" or a keystone token')
    parser.add_argument('--os-roles', default=os.environ.get('OS_ROLES'),
                        help='X-Roles sent with a noauth2 token')
    sub = parser.add_subparsers(dest='command', required=True)
    pls = sub.add_parser('pools', help='list the pools --host may name')
    pls.add_argument('--detail', action='store_true',
                     help='a table with backend, protocol and capacity')
    mig = sub.add_parser('migrate', help='migrate a volume to a pool')
    mig.add_argument('volume')
    mig.add_argument('--host', required=True,
                     help='destination host@backend#pool (see: volmig '
                          'pools)')
    mig.add_argument('--force-host-copy', action='store_true')
    mig.add_argument('--lock-volume', action='store_true')
    mig.add_argument('--bandwidth', type=parse_bandwidth,
                     help='limit the copy to this many bytes/s (32MiB, '
                          '32M or 33554432; 0 = unlimited); default: the '
                          'backends\' copy_bandwidth')
    mig.add_argument('--wait', action='store_true',
                     help='show progress until the migration ends')
    ret = sub.add_parser('retype', help='change type, migrating on demand')
    ret.add_argument('volume')
    ret.add_argument('type')
    ret.add_argument('--migration-policy', default='never',
                     choices=['never', 'on-demand'])
    ret.add_argument('--wait', action='store_true')
    can = sub.add_parser('cancel', help='cancel a queued or running '
                                        'migration (os-migrate_volume_cancel)')
    can.add_argument('volume')
    can.add_argument('--wait', action='store_true',
                     help='wait until the migration has ended')
    sh = sub.add_parser('show', help='show a volume and its migration')
    sh.add_argument('volume')
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    console = rich_console.Console()
    api = VolumeAPI(args.os_endpoint, args.os_token, args.os_roles)
    try:
        if args.command == 'show':
            return show(api, args.volume, console)
        if args.command == 'pools':
            return pools(api, console, args.detail)
        if args.command == 'cancel':
            return cancel(api, args.volume, console, args.wait)
        if args.command == 'migrate':
            body = {'host': args.host,
                    'force_host_copy': args.force_host_copy,
                    'lock_volume': args.lock_volume}
            if args.bandwidth is not None:
                body['bandwidth'] = args.bandwidth
            api.action(args.volume, 'os-migrate_volume', body)
        else:
            api.action(args.volume, 'os-retype', {
                'new_type': args.type,
                'migration_policy': args.migration_policy})
        console.print('migration of %s requested' % args.volume)
        if args.wait:
            return watch(api, args.volume, console)
        return 0
    except ClientError as e:
        console.print('[red]error:[/red] %s' % e)
        return 2


if __name__ == '__main__':
    sys.exit(main())
