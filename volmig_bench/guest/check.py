"""Boot the guest, let it write, stop it, prove every write by checksum.

What the bench relies on, measured on this host: boot time under TCG, the
steady write rate the writer keeps, its latency, and that the volume ends
up exactly as :mod:`volmig_bench.guest.expected` recomputes it. The
volume is also checked block by block against the writer's acknowledged
log (:mod:`volmig_bench.guest.verify`) halfway through the run, while the
guest writes, and at the end.
"""

from __future__ import annotations

import dataclasses
import os
import time

from volmig_bench import exception
from volmig_bench import fill
from volmig_bench.guest import builder
from volmig_bench.guest import domain
from volmig_bench.guest import expected
from volmig_bench.guest import protocol
from volmig_bench.guest import verify
from volmig_bench import stats


@dataclasses.dataclass
class CheckResult:
    #: host seconds from domain creation to the writer's first line
    boot_s: float
    #: the guest kernel's own uptime when the writer started
    guest_uptime_s: float
    seconds: float
    writes: int
    target_rate: int
    achieved_rate: float
    latency: dict
    lags: int
    expected_sha256: str
    actual_sha256: str
    #: the disk the writer opened (the H line's dev)
    device: str = ''
    #: the volume against the log read halfway, the guest still writing
    mid_run: verify.Verdict | None = None
    #: the volume against the whole log, the writer stopped
    final: verify.Verdict | None = None

    @property
    def checksum_ok(self) -> bool:
        return self.expected_sha256 == self.actual_sha256

    def as_dict(self) -> dict:
        out = dict(dataclasses.asdict(self), checksum_ok=self.checksum_ok)
        for key in ('mid_run', 'final'):
            verdict = getattr(self, key)
            out[key] = verdict.as_dict() if verdict is not None else None
        return out


def check_guest(work_dir: str, params: protocol.WriterParams,
                size: int = 64 << 20, seconds: float = 5.0,
                memory_mb: int = 128, cache_dir: str | None = None,
                fraction: float = 0.6, serial: str | None = None,
                decoys: int = 0) -> CheckResult:
    """Build, boot, write for ``seconds``, stop, verify; all in work_dir.

    ``serial`` and ``decoys``: see :func:`domain.domain_xml` (decoy disks
    are as large as the volume, filled with zeros).
    """
    os.makedirs(work_dir, exist_ok=True)
    image = builder.build(os.path.join(work_dir, 'image'), params,
                          cache_dir=cache_dir)
    base = os.path.join(work_dir, 'base.raw')
    disk = os.path.join(work_dir, 'disk.raw')
    filled = fill.fill_volume(base, size, fraction, seed=params.seed)
    expected.sparse_copy(base, disk)
    decoy_paths = []
    for i in range(decoys):
        decoy_paths.append(os.path.join(work_dir, 'decoy%d.raw' % i))
        with open(decoy_paths[-1], 'wb') as f:
            f.truncate(size)
    mid_run = None
    with domain.running_guest(image, disk, work_dir, memory_mb=memory_mb,
                              serial=serial, decoys=tuple(decoy_paths)
                              ) as run:
        try:
            boot_s = run.wait_started()
            time.sleep(seconds / 2)
            if params.sync_every:
                # The log first: the volume can only be newer than it.
                log = run.reader.poll()
                mid_run = verify.verify_log(disk, base, params, log)
            time.sleep(seconds / 2)
            log = run.stop()
        except exception.BenchError as exc:
            raise exception.BenchError('%s; guest console:\n%s'
                                       % (exc, run.console()[-2000:]))
    if not log.done.ok:
        raise exception.WriterLogError(path=run.reader.path,
                                       reason='writer failed: %s'
                                       % log.errors)
    timeline = stats.LatencyTimeline(log, stats.ClockMap.from_log(log))
    actual = expected.sha256_file(disk)
    want = expected.expected_image(base, os.path.join(work_dir,
                                                      'expected.raw'),
                                   params, log.acknowledged)
    final = (verify.verify_log(disk, base, params, log)
             if params.sync_every else None)
    rate = stats.achieved_rate(log, params, filled.size)
    return CheckResult(boot_s=round(boot_s, 3),
                       guest_uptime_s=float(log.header.get('uptime_ms', 0))
                       / 1000, seconds=seconds,
                       writes=log.acknowledged, target_rate=params.rate,
                       achieved_rate=round(rate),
                       latency=stats.summarize(timeline.latency_us)
                       .as_dict(),
                       lags=len(log.lags), expected_sha256=want,
                       actual_sha256=actual,
                       device=log.header.get('dev', ''), mid_run=mid_run,
                       final=final)
