"""nova-volmig-manage: database schema management."""

import argparse
import sys

from nova_volmig import cmd  # noqa: F401  (threading backend first)
from nova_volmig import config
from nova_volmig.db import api as db
from nova_volmig.db import migration


def main(argv=None) -> int:
    argv = list(argv or sys.argv)
    parser = argparse.ArgumentParser(prog='nova-volmig-manage')
    parser.add_argument('--config-file', action='append', default=[])
    sub = parser.add_subparsers(dest='command', required=True)
    db_parser = sub.add_parser('db', help='database schema')
    db_sub = db_parser.add_subparsers(dest='db_command', required=True)
    db_sub.add_parser('sync', help='upgrade the schema to the latest')
    db_sub.add_parser('version', help='print the schema revision')
    args = parser.parse_args(argv[1:])
    oslo_args = [argv[0]]
    for path in args.config_file:
        oslo_args += ['--config-file', path]
    config.parse_args(oslo_args)
    db.configure()
    if args.db_command == 'sync':
        migration.db_sync()
    print(migration.db_version())
    return 0


if __name__ == '__main__':
    sys.exit(main())
