"""Teardown of what a run leaves outside its ExitStack's reach.

The domains, NBD daemons and deployment of a run are stopped by the run
itself (:func:`volmig_bench.environment.start_deployment` registers these
functions on its stack); :func:`cleanup_stale_runs` does the same for
runs killed with SIGKILL (``volmig-bench cleanup``), by the pids they
recorded. Processes are handled through psutil.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil

import psutil

from volmig_bench import cleanup


def stop_leftover_exports(aio_state: str) -> None:
    """qemu-storage-daemons the deployment started and left behind.

    By the pids Cinder recorded, each checked to still be a
    qemu-storage-daemon (the pid may have been reused).
    """
    for path in glob.glob(os.path.join(aio_state, 'cinder', 'nbd', '*',
                                       '*.json')):
        with contextlib.suppress(OSError, ValueError, KeyError,
                                 psutil.Error):
            with open(path) as f:
                proc = psutil.Process(json.load(f)['pid'])
            argv = proc.cmdline()
            if argv and os.path.basename(argv[0]) == 'qemu-storage-daemon':
                proc.terminate()


def stop_aio_of(aio_state: str) -> None:
    """SIGTERM the nova-volmig-aio that serves ``aio_state``, if any.

    Then wait until it is reaped, not only exited (a zombie still has
    its pid: :meth:`psutil.Process.wait` polls for it to go), and
    SIGKILL it after a minute.
    """
    with contextlib.suppress(OSError, ValueError, KeyError, psutil.Error):
        with open(os.path.join(aio_state, 'aio.json')) as f:
            proc = psutil.Process(json.load(f)['pid'])
        if aio_state not in proc.cmdline():
            return  # the pid was reused by something else
        proc.terminate()
        try:
            proc.wait(60)
        except psutil.TimeoutExpired:
            proc.kill()


def cleanup_stale_runs(state_path: str) -> list[str]:
    """Tear down what runs killed with SIGKILL left under the state path.

    Their deployment (by the pid it recorded), its domains, its NBD
    daemons and the run directory; namespaces and XFS pools have their
    own cleanup (:func:`link.cleanup_stale`, :func:`xfs_pool.cleanup_stale`),
    which should run after this.
    """
    removed = []
    for run_dir in sorted(glob.glob(os.path.join(
            os.path.abspath(state_path), 'bench', 'run-*-*'))):
        pid = run_dir.rsplit('-', 1)[1]
        if not pid.isdigit() or cleanup.pid_alive(int(pid)):
            continue
        aio_state = os.path.join(run_dir, 'aio')
        stop_aio_of(aio_state)
        uuids = [os.path.basename(p) for p in glob.glob(
            os.path.join(aio_state, 'instances', '*'))]
        cleanup.destroy_leftover_domains(uuids)
        stop_leftover_exports(aio_state)
        shutil.rmtree(run_dir, ignore_errors=True)
        removed.append(run_dir)
    return removed


def save_aio_log(aio, out_dir: str) -> None:
    """Keep the deployment's log beside the results (``aio.log``)."""
    with contextlib.suppress(OSError):
        shutil.copy(aio.log_path, os.path.join(out_dir, 'aio.log'))
