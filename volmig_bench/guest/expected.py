"""Recompute, without the guest, exactly what the guest writer wrote.

The writer's writes follow from (seed, mix, disk size, count) alone; see the
PRNG description at the top of ``writer.c``, which this module mirrors with
numpy (uint64 arithmetic wraps modulo 2**64 as in C). The expected final
image is the base image with the first ``count`` writes applied in order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
from typing import Iterator

import numpy as np

from cinder_driver_side.volume import copy_engines
from volmig_bench import exception
from volmig_bench.guest import protocol

GAMMA = np.uint64(0x9E3779B97F4A7C15)
K1 = np.uint64(0xD1B54A32D192ED03)
K2 = np.uint64(0xABC98388FB8FAC03)
MAGIC = np.uint64(0x3157474D4C4F56)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)
SECTOR = protocol.SECTOR
WORDS = SECTOR // 8
_CHUNK = 65536


def _mix64(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * M1
    z = (z ^ (z >> np.uint64(27))) * M2
    return z ^ (z >> np.uint64(31))


def _draws(seed: int, first: int, count: int) -> np.ndarray:
    j = np.arange(first + 1, first + count + 1, dtype=np.uint64)
    return _mix64(np.uint64(seed) + j * GAMMA)


@dataclasses.dataclass(frozen=True)
class Write:
    seq: int
    offset: int
    size: int


def schedule_arrays(seed: int, mix: protocol.Mix, disk_size: int,
                    count: int, start: int = 0, align: int = SECTOR
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, sizes) of writes ``start .. count-1``, as uint64 arrays."""
    disk_size -= disk_size % SECTOR
    sizes = np.array([s for s, _ in mix], dtype=np.uint64)
    cum = np.cumsum(np.array([w for _, w in mix], dtype=np.uint64))
    if int(sizes.max()) > disk_size:
        raise exception.InvalidParameter(
            name='disk size', value=disk_size,
            reason='smaller than the largest write of the mix')
    n = max(count - start, 0)
    with np.errstate(over='ignore'):
        d = _draws(seed, 2 * start, 2 * n)
        pick = np.searchsorted(cum, d[0::2] % cum[-1], side='right')
        size = sizes[pick]
        nslots = (np.uint64(disk_size) - size) // np.uint64(align) + \
            np.uint64(1)
        offset = (d[1::2] % nslots) * np.uint64(align)
    return offset, size


def schedule(seed: int, mix: protocol.Mix, disk_size: int, count: int,
             start: int = 0, align: int = SECTOR) -> Iterator[Write]:
    """Writes ``start .. count-1`` of the writer, in order."""
    for first in range(start, max(count, start + 1), _CHUNK):
        n = min(_CHUNK, count - first)
        offset, size = schedule_arrays(seed, mix, disk_size, first + n,
                                       first, align)
        for i in range(n):
            yield Write(first + i, int(offset[i]), int(size[i]))


def write_data(seed: int, write: Write) -> bytes:
    """The bytes of one write."""
    with np.errstate(over='ignore'):
        key = (np.uint64(seed) ^ (np.uint64(write.seq) * K1)
               ^ (np.uint64(write.offset) * K2))
        words = np.arange(1, WORDS + 1, dtype=np.uint64)
        pattern = _mix64(key + words * GAMMA)
        sectors = write.size // SECTOR
        buf = np.tile(pattern, (sectors, 1))
        buf[:, 0] = MAGIC
        buf[:, 1] = np.uint64(seed)
        buf[:, 2] = np.uint64(write.seq)
        buf[:, 3] = (np.uint64(write.offset)
                     + np.arange(sectors, dtype=np.uint64) * np.uint64(SECTOR))
    return buf.astype('<u8').tobytes()


def apply_writes(path: str, seed: int, mix: protocol.Mix, count: int,
                 start: int = 0, align: int = SECTOR) -> int:
    """Apply writes ``start..count-1`` to the image at ``path``; bytes."""
    disk_size = os.path.getsize(path)
    total = 0
    fd = os.open(path, os.O_WRONLY)
    try:
        for write in schedule(seed, mix, disk_size, count, start, align):
            os.pwrite(fd, write_data(seed, write), write.offset)
            total += write.size
    finally:
        os.close(fd)
    return total


def sha256_file(path: str, chunk: int = 4 << 20) -> str:
    """sha256 of a file's (or block device's) full contents."""
    digest = hashlib.sha256()
    with open(path, 'rb', buffering=0) as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sparse_copy(src: str, dst: str) -> None:
    """Copy keeping holes (reflink or copy_file_range where possible)."""
    # A fresh dst: the copy writes src's data extents only.
    open(dst, 'wb').close()
    copy_engines.NativeCopy().copy(src, dst, os.path.getsize(src))
    shutil.copystat(src, dst)


def expected_image(base: str, out: str, params: protocol.WriterParams,
                   count: int) -> str:
    """Write the expected final image to ``out``; return its sha256.

    ``base`` is the volume as it was before the guest wrote to it.
    """
    sparse_copy(base, out)
    apply_writes(out, params.seed, params.mix, count, align=params.align)
    return sha256_file(out)
