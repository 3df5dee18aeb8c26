"""``--scenario scale``'s instruments: volume contents, HMP writes, load.

* :class:`VolumeModel`: a volume's base content (a seeded fill, so it is
  recomputed rather than kept: 32 volumes of 256 MiB would not fit in
  memory twice) plus every acknowledged write, in order; its sha256 is
  what the volume must hold.
* :func:`hmp_write`: one write through the live disk of a diskless
  domain, HMP ``qemu-io`` through libvirt (DESIGN 5); only when no block
  job runs on that domain.
* :class:`LoadSampler`: the host's load average and CPU use while a run
  goes on, because seven other engineers share these two cores.
* :func:`nova_phases`: where Nova spent Cinder's wait in start and
  complete, from its instance actions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
import threading
import time

from volmig_bench import deploy
from volmig_bench import exception

MiB = 1024 * 1024
#: base data comes in extents of this size
EXTENT = MiB
#: HMP writes: 64 KiB at 64 KiB-aligned offsets
WRITE_SIZE = 64 * 1024


@dataclasses.dataclass
class VolumeModel:
    """The expected content of one volume: seeded base + writes."""

    seed: int
    size: int
    fraction: float
    writes: list[tuple[int, int, int]] = dataclasses.field(
        default_factory=list)

    def extents(self) -> list[tuple[int, bytes]]:
        """``round(fraction * size / 1 MiB)`` extents of random data."""
        rnd = random.Random(self.seed)
        slots = self.size // EXTENT
        chosen = sorted(rnd.sample(range(slots),
                                   max(1, round(self.fraction * slots))))
        return [(slot * EXTENT, rnd.randbytes(EXTENT)) for slot in chosen]

    def fill(self, path: str) -> None:
        """Write the base into a new sparse file of ``size`` bytes."""
        with open(path, 'r+b' if os.path.exists(path) else 'wb') as f:
            f.truncate(self.size)
            for offset, data in self.extents():
                f.seek(offset)
                f.write(data)
            f.flush()
            os.fsync(f.fileno())

    def next_write(self) -> tuple[int, int, int]:
        """The next write's (offset, length, pattern), from the seed."""
        rnd = random.Random('%d-%d' % (self.seed, len(self.writes)))
        offset = rnd.randrange(self.size // WRITE_SIZE) * WRITE_SIZE
        return offset, WRITE_SIZE, rnd.randrange(1, 256)

    def acknowledge(self, write: tuple[int, int, int]) -> None:
        self.writes.append(write)

    def sha256(self) -> str:
        image = bytearray(self.size)
        for offset, data in self.extents():
            image[offset:offset + len(data)] = data
        for offset, length, pattern in self.writes:
            image[offset:offset + length] = bytes([pattern]) * length
        return hashlib.sha256(image).hexdigest()


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(4 * MiB), b''):
            digest.update(block)
    return digest.hexdigest()


def hmp_write(conn, instance_name: str, device_name: str,
              write: tuple[int, int, int]) -> None:
    """``qemu-io -d <disk> "write -P pattern off len"`` through HMP.

    ``libvirt_qemu.qemuMonitorCommand`` (serialised behind libvirt's
    jobs); the write lands on the live active layer as a guest's would.
    """
    import libvirt_qemu

    from nova_volmig.virt.libvirt import config

    offset, length, pattern = write
    cmd = 'qemu-io -d %s "write -P 0x%02x %d %d"' % (
        config.qdev_backend_path(device_name), pattern, offset, length)
    out = libvirt_qemu.qemuMonitorCommand(
        conn.lookupByName(instance_name), cmd,
        libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP)
    if 'error' in out.lower() or 'failed' in out.lower():
        raise RuntimeError('HMP write on %s failed: %s' % (instance_name,
                                                           out))


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from ``/proc/stat``."""
    with open('/proc/stat') as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


class LoadSampler:
    """The 1-minute load average every ``interval`` s, and CPU busy share.

    ``with LoadSampler() as load: ...`` then ``load.summary()``.
    """

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(self.interval)

    def __enter__(self) -> 'LoadSampler':
        self._cpu0 = _cpu_times()
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        busy, total = (b - a for a, b in zip(self._cpu0, _cpu_times()))
        self.cpu_busy = round(busy / total, 3) if total else None
        self.samples.append(os.getloadavg()[0])
        self.seconds = round(time.monotonic() - self._t0, 1)

    def summary(self) -> dict:
        s = self.samples
        return {'loadavg_1m': {'min': min(s), 'max': max(s),
                               'mean': round(sum(s) / len(s), 2)},
                'cpu_busy': self.cpu_busy,
                'seconds': self.seconds}


def nova_phases(nova, server_id: str, phases: dict) -> dict:
    """Where Cinder's waits in Nova's start and complete went (s).

    From the instance actions Nova recorded (the API starts the
    action after its checks and claims; the compute host's event
    spans its handler): ``api_s`` Cinder's call until the action,
    ``dispatch_s`` the action until the compute event began (RPC
    delivery, executor, instance lock), ``compute_s`` the event,
    ``reply_s`` the event's end until Cinder had its answer.
    """
    out = {}
    try:
        actions = nova.get(
            '/servers/%s/os-instance-actions'
            % server_id)['instanceActions']
    except exception.BenchError:
        return out
    for step in ('start', 'complete'):
        called = phases.get('nova_%s_called' % step)
        returned = phases.get('nova_%s_returned' % step)
        if called is None or returned is None:
            continue
        mine = [a for a in actions
                if a['action'] == 'volume_migration_%s' % step
                and called - 1 <= deploy.parse_time(a['start_time'])
                <= returned + 1]
        if not mine:
            continue
        action = max(mine, key=lambda a: a['start_time'])
        detail = nova.get('/servers/%s/os-instance-actions/%s' % (
            server_id, action['request_id']))['instanceAction']
        event = next((e for e in detail.get('events', [])
                      if e['event'] == 'compute_volume_migration_%s'
                      % step), None)
        t_action = deploy.parse_time(action['start_time'])
        record = {'api_s': round(t_action - called, 4)}
        if event and event.get('finish_time'):
            t_ev0 = deploy.parse_time(event['start_time'])
            t_ev1 = deploy.parse_time(event['finish_time'])
            record.update(dispatch_s=round(t_ev0 - t_action, 4),
                          compute_s=round(t_ev1 - t_ev0, 4),
                          reply_s=round(returned - t_ev1, 4))
        out[step] = record
    return out
