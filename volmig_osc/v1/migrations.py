"""``openstack server volume migration list|show``, ``volume migration show``.

* ``server volume migration list [--server S] [--status ST]``: Nova's
  volume migrations (compute 2.105, ``GET /os-volume-migrations``).
* ``server volume migration show SRC_ATTACHMENT [--wait]``: the latest
  migration of a source attachment; ``--wait`` polls until it is
  ``completed``, ``cancelled`` or ``error``.
* ``volume migration show VOLUME [--wait]``: Cinder's latest migration of
  a volume with its progress (volume 3.72); ``--wait`` polls until the
  volume's ``migration_status`` is ``success`` or ``error``.
"""

from __future__ import annotations

import time

from osc_lib.command import command
from osc_lib import exceptions

from volmig_osc import client as client_mod

SERVER_COLUMNS = ('src_attachment_id', 'dst_attachment_id', 'instance_uuid',
                  'volume_id', 'status', 'progress', 'complete_mode',
                  'rebase_fallback', 'created_at', 'updated_at', 'error')
LIST_COLUMNS = ('src_attachment_id', 'instance_uuid', 'volume_id', 'status',
                'progress')
VOLUME_COLUMNS = ('id', 'volume_id', 'new_volume_id', 'kind', 'status',
                  'migration_status', 'progress', 'bytes_copied',
                  'bytes_total', 'rate', 'eta', 'bandwidth',
                  'queue_position', 'copy_method', 'source_host', 'dest_host',
                  'instance_uuid', 'src_attachment_id', 'dst_attachment_id',
                  'created_at', 'updated_at', 'finished_at', 'error')


def _add_wait(parser) -> None:
    parser.add_argument('--wait', action='store_true',
                        help='Wait until the migration has ended.')
    parser.add_argument('--wait-timeout', type=float, default=600.0,
                        metavar='<seconds>',
                        help='How long --wait waits (default 600).')


def _wait(fetch, done, timeout: float, interval: float = 1.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        record = fetch()
        if done(record):
            return record
        if time.monotonic() > deadline:
            raise exceptions.CommandError(
                'migration still %s after %ss' % (record.get('status'),
                                                  timeout))
        time.sleep(interval)


def _row(record: dict, columns: tuple[str, ...]) -> tuple:
    return tuple(record.get(c) for c in columns)


class ListServerVolumeMigration(command.Lister):
    """List volume migrations of servers (compute 2.105)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--server', metavar='<server>',
                            help='Only this server\'s (name or ID).')
        parser.add_argument('--status', metavar='<status>',
                            help='Only migrations in this status.')
        return parser

    def take_action(self, parsed_args):
        client: client_mod.Client = self.app.client_manager.volume_migration
        server_id = None
        if parsed_args.server:
            server_id = self.app.client_manager.sdk_connection.compute \
                .find_server(parsed_args.server, ignore_missing=False).id
        records = client.server_migrations(server_id, parsed_args.status)
        return LIST_COLUMNS, (_row(r, LIST_COLUMNS) for r in records)


class ShowServerVolumeMigration(command.ShowOne):
    """Show the latest volume migration of a source attachment."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('src_attachment_id',
                            metavar='<src-attachment-id>',
                            help='Cinder attachment ID of the source '
                                 'volume.')
        _add_wait(parser)
        return parser

    def take_action(self, parsed_args):
        client: client_mod.Client = self.app.client_manager.volume_migration

        def fetch():
            return client.server_migration(parsed_args.src_attachment_id)

        if parsed_args.wait:
            record = _wait(fetch, lambda r: r['status'] in
                           client_mod.NOVA_TERMINAL,
                           parsed_args.wait_timeout)
        else:
            record = fetch()
        return SERVER_COLUMNS, _row(record, SERVER_COLUMNS)


class ShowVolumeMigration(command.ShowOne):
    """Show Cinder's latest migration of a volume, with its progress."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('volume', metavar='<volume>',
                            help='Volume (name or ID).')
        _add_wait(parser)
        return parser

    def act(self, client: client_mod.Client, volume_id: str) -> None:
        """What the command does before it shows the record."""

    def take_action(self, parsed_args):
        client: client_mod.Client = self.app.client_manager.volume_migration
        volume_id = self.app.client_manager.sdk_connection.block_storage \
            .find_volume(parsed_args.volume, ignore_missing=False).id
        self.act(client, volume_id)

        def fetch():
            return client.volume_migration(volume_id)

        if parsed_args.wait:
            record = _wait(fetch, lambda r: r['migration_status'] in
                           client_mod.CINDER_TERMINAL,
                           parsed_args.wait_timeout)
        else:
            record = fetch()
        return VOLUME_COLUMNS, _row(record, VOLUME_COLUMNS)


class CancelVolumeMigration(ShowVolumeMigration):
    """Cancel the running or queued migration of a volume (Cinder 3.72).

    The volume stays where it was, with every write; its
    ``migration_status`` ends ``cancelled``. Refused (409) once Nova's
    complete may have switched the guest.
    """

    def act(self, client: client_mod.Client, volume_id: str) -> None:
        client.cancel_volume_migration(volume_id)
