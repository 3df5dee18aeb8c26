"""What a fault case checks, with the writer's acknowledged log.

* :func:`src_at_start` - src holds every write acknowledged before start
  (``verify_log``) and its sha256, compared once the migration settled;
* :func:`guest_disk` - the disk the guest runs on once the migration
  settled: a raw volume file (no overlay left under it) holding every
  write acknowledged so far (the log read first, so that the volume can
  only be newer);
* :func:`stop_and_verify` - the same once the writer stopped (its D line
  bounds what may have been in flight);
* :func:`leaks` - overlays, and volume files no Cinder volume owns;
* :func:`passed` - the row's verdict.
"""

from __future__ import annotations

import copy
import glob
import json
import os
import subprocess
import xml.etree.ElementTree as ET

from cinder_driver_side.volume import nbd
from volmig_bench import deploy
from volmig_bench import exception
from volmig_bench.guest import expected
from volmig_bench.guest import monitor as monitor_mod
from volmig_bench.guest import protocol
from volmig_bench.guest import verify

STOP_TIMEOUT = 120.0


def frozen_log(monitor: monitor_mod.WriterMonitor) -> protocol.WriterLog:
    """A copy of the log as read so far, that the thread will not change.

    ``verify_log`` reads the header, the last A line and the D line.
    """
    log = monitor.snapshot()
    with monitor._lock:
        return copy.copy(log)


def _verdict(volume: str, run, log: protocol.WriterLog) -> dict:
    verdict = verify.verify_log(volume, run.base, run.params, log)
    out = verdict.as_dict()
    out.pop('examples') if verdict.passed else None
    return out


def src_at_start(run, log: protocol.WriterLog) -> dict:
    """src against the log read before the guest could leave it."""
    out = _verdict(run.src_link, run, log)
    out['sha256'] = expected.sha256_file(run.src_link)
    return out


def _domain_disk(server_id: str, device: str) -> tuple[str, str, bool]:
    """(source, format, has a backing chain) of ``device``, as QEMU has it.

    QEMU's ``query-block``, not libvirt's XML: after a complete by rebase
    the XML still names src (DESIGN 5), while QEMU reads dst. The source
    is a path, or ``nbd://HOST:PORT/EXPORT`` for a network disk
    (:func:`_export_file` finds the file behind it).
    """
    import libvirt
    import libvirt_qemu

    conn = libvirt.open('qemu:///system')
    try:
        dom = conn.lookupByUUIDString(server_id)
        root = ET.fromstring(dom.XMLDesc(0))
        alias = None
        for disk in root.findall('./devices/disk'):
            target = disk.find('target')
            if target is not None and target.get('dev') == device:
                alias = disk.find('alias').get('name')
        if alias is None:
            raise exception.BenchError('no disk %s in domain %s'
                                       % (device, server_id))
        blocks = json.loads(libvirt_qemu.qemuMonitorCommand(
            dom, json.dumps({'execute': 'query-block'}), 0))['return']
    finally:
        conn.close()
    for block in blocks:
        if '/%s/' % alias in block.get('qdev', '') and block.get(
                'inserted'):
            image = block['inserted']['image']
            return (image['filename'], image['format'],
                    'backing-image' in image)
    raise exception.BenchError('QEMU has no disk %s (%s) in domain %s'
                               % (device, alias, server_id))


def _export_file(env, uri: str) -> str:
    """The volume file an array exports as ``uri`` (its export record)."""
    if uri.startswith('json:'):
        # QEMU's name for a node it cannot put in a URI
        spec = json.loads(uri[len('json:'):])
        while spec.get('driver') != 'nbd' and 'file' in spec:
            spec = spec['file']
        port, name = int(spec['server']['port']), spec['export']
    else:
        _, _, rest = uri.partition('://')
        address, _, name = rest.partition('/')
        port = int(address.rpartition(':')[2])
    for record in glob.glob(env.path('cinder', 'nbd', '*', '*.json')):
        export = nbd.load_export(record)
        if export is not None and (export.port, export.name) == (port,
                                                                 name):
            return export.path
    raise exception.BenchError('no array exports %s' % uri)


def guest_disk(run) -> dict:
    """The disk the guest writes to now, against the log read first."""
    log = frozen_log(run.monitor)
    source, fmt, chained = _domain_disk(run.server['id'], run.device)
    path = (_export_file(run.env, source)
            if source.startswith(('nbd:', 'nbd+', 'json:')) else source)
    volume = run.cloud.volume(run.volume['id'])
    out = {'path': path, 'format': fmt, 'chained': chained,
           'on': 'src' if os.path.exists(path) and os.path.samefile(
               path, run.src_link) else 'dst',
           'volume_file': run.env.volume_file(volume)}
    if path != source:
        out['source'] = source
    run.disk_path, run.disk_format = path, fmt
    if fmt != 'raw' or chained:
        out['on'] = 'overlay'
        out['error'] = 'the guest still runs on %s %s' % (fmt, path)
    flat = _as_raw(run, path, fmt)
    try:
        out.update(_verdict(flat, run, log))
    finally:
        if flat != path:
            os.unlink(flat)
    return out


def _as_raw(run, path: str, fmt: str) -> str:
    """``path`` itself when raw, else its chain flattened into a raw file.

    ``qemu-img convert -U``: what the guest reads through the chain.
    """
    if fmt == 'raw':
        return path
    flat = os.path.join(run.work_dir, '%s-flat.raw' % run.tag)
    subprocess.run(['qemu-img', 'convert', '-U', '-f', fmt, '-O', 'raw',
                    path, flat], check=True, capture_output=True)
    return flat


def stop_and_verify(run) -> dict:
    """Power button, the writer's D line, the disk against the whole log."""
    import libvirt

    conn = libvirt.open('qemu:///system')
    try:
        dom = conn.lookupByUUIDString(run.server['id'])
        dom.shutdownFlags(libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN)
        run.monitor.wait_for(lambda log: log.done is not None,
                             STOP_TIMEOUT, 'the writer stopping')
        deploy.wait_for(lambda: not dom.isActive(), STOP_TIMEOUT,
                        'the guest powering off')
    finally:
        conn.close()
    log = run.monitor.stop()
    flat = _as_raw(run, run.disk_path, run.disk_format)
    try:
        out = _verdict(flat, run, log)
    finally:
        if flat != run.disk_path:
            os.unlink(flat)
    out['checked'] = run.disk_format
    out['writer_ok'] = bool(log.done.ok) and not log.errors
    out['acknowledged'] = log.acked
    return out


def leaks(run) -> dict:
    """Overlays left behind and volume files no Cinder volume owns."""
    volumes = run.cloud.cinder.get('/volumes/detail')['volumes']
    owned = {'volume-%s' % (v.get('os-vol-mig-status-attr:name_id')
                            or v['id']) for v in volumes}
    files = volume_files(run.env)
    overlays = (os.listdir(run.env.overlay_dir)
                if os.path.isdir(run.env.overlay_dir) else [])
    # This case's only: a failed case before it may have left its own.
    return {'overlays': sorted(o for o in overlays
                               if o.startswith(run.server['id'])),
            'orphan_volume_files': sorted(
                f for f in files if os.path.basename(f) not in owned
                and f not in run.files_before)}


def run_leaks(root: str, rows: list[dict]) -> dict:
    """What the whole run left on the host once it was torn down.

    Domains of the run's servers (libvirt), processes still naming the
    run's directory (an array's NBD export, a service), and loop devices
    over the run's pool images.
    """
    import libvirt

    servers = {r['server'] for r in rows if r.get('server')}
    conn = libvirt.open('qemu:///system')
    try:
        domains = sorted(d.UUIDString() for d in conn.listAllDomains()
                         if d.UUIDString() in servers)
    finally:
        conn.close()
    processes = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                argv = f.read().decode(errors='replace').split('\0')
        except OSError:
            continue
        if any(root in arg for arg in argv):
            processes.append('%s %s' % (pid, os.path.basename(argv[0])))
    loops = subprocess.run(['losetup', '--list', '--noheadings',
                            '--output', 'NAME,BACK-FILE'],
                           capture_output=True, text=True).stdout
    return {'domains': domains, 'processes': sorted(processes),
            'loop_devices': sorted(line.split()[0]
                                   for line in loops.splitlines()
                                   if root in line)}


def volume_files(env) -> set[str]:
    """Every volume file in the deployment's pools now."""
    files = glob.glob(env.pool_path('*', '*', 'volume-*'))
    if env.small_pool:
        files += glob.glob(os.path.join(env.small_pool, 'volume-*'))
    return set(files)


def passed(row: dict) -> bool:
    """No acknowledged write lost anywhere, src frozen, nothing leaked."""
    if row.get('error') or str(row.get('outcome', '')).startswith('stuck'):
        return False
    for key in ('after_migration', 'final'):
        got = row.get(key) or {}
        if got.get('error') or got.get('verdict') != 'ok':
            return False
    start = row.get('src_at_start')
    if start is not None:
        if start.get('error') or start.get('verdict') != 'ok':
            return False
        ended_on_dst = (row.get('after_migration') or {}).get('on') == 'dst'
        if ended_on_dst and not start.get('unchanged'):
            return False
    leaked = row.get('leaks') or {}
    return not any(leaked.values())
