"""Give stestr the tests' durations on a clean clone.

stestr spreads the tests over its workers by the durations it recorded in
earlier runs (``.stestr/times.dbm``); a clean clone has none, so it deals
them out blindly, and on 2 workers one ran 5 minutes longer than the
other. ``tests/test-times.json`` holds the durations of a full run:

    python tools/test_times.py load   # before ``stestr run`` (make test)
    python tools/test_times.py save   # after a full run, to refresh it

``load`` never overwrites a duration this checkout measured itself.
"""

from __future__ import annotations

import argparse
from dbm import dumb
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPOSITORY = os.path.join(ROOT, '.stestr')
TIMES = os.path.join(REPOSITORY, 'times.dbm')
SAVED = os.path.join(ROOT, 'tests', 'test-times.json')


def load(saved: str = SAVED, repository: str = REPOSITORY) -> int:
    """Add the saved durations stestr does not know; how many."""
    if not os.path.isdir(repository):
        subprocess.run([sys.executable, '-m', 'stestr', 'init'], cwd=ROOT,
                       check=True, capture_output=True)
    with open(saved) as f:
        durations = json.load(f)
    db = dumb.open(os.path.join(repository, 'times.dbm'), 'c')
    try:
        new = {test: str(seconds) for test, seconds in durations.items()
               if test not in db}
        for test, seconds in new.items():
            db[test] = seconds
    finally:
        db.close()
    return len(new)


def save(saved: str = SAVED, repository: str = REPOSITORY) -> int:
    """Write the durations stestr recorded; how many."""
    db = dumb.open(os.path.join(repository, 'times.dbm'), 'r')
    try:
        durations = {key.decode() if isinstance(key, bytes) else key:
                     round(float(db[key]), 1) for key in db.keys()}
    finally:
        db.close()
    with open(saved, 'w') as f:
        json.dump(durations, f, indent=0, sort_keys=True)
        f.write('\n')
    return len(durations)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('action', choices=('load', 'save'))
    args = parser.parse_args(argv)
    count = (load if args.action == 'load' else save)()
    print('test_times: %s %d durations' % (args.action, count))
    return 0


if __name__ == '__main__':
    sys.exit(main())
