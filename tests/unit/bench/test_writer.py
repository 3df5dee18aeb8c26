"""The C writer and the Python recomputation agree bit for bit."""

import os
import shutil
import signal
import struct
import subprocess
import tempfile

from tests import base
from volmig_bench import exception
from volmig_bench import fill
from volmig_bench.guest import builder
from volmig_bench.guest import expected
from volmig_bench.guest import protocol
from volmig_bench import host


class WriterTestCase(base.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        host.require('gcc')  # installs it on a fresh Debian host
        cls._dir = tempfile.mkdtemp(prefix='volmig-writer-')
        cls.writer = builder.compile_writer(
            os.path.join(cls._dir, 'volmig-writer'), static=False)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls._dir, ignore_errors=True)
        super().tearDownClass()

    def _base(self, size, seed=3):
        path = self.state_file('base-%d-%d.raw' % (size, seed))
        if not os.path.exists(path):
            fill.fill_volume(path, size, 0.6, seed)
        return path

    def _run(self, params, disk, **kwargs):
        argv = [self.writer] + params.argv() + ['--no-direct',
                                                '--no-power-button']
        argv[argv.index('--dev') + 1] = disk
        return subprocess.run(argv, capture_output=True, text=True,
                              **kwargs)

    def _check_agree(self, params, size, count):
        base_img = self._base(size)
        disk = self.state_file('disk.raw')
        expected.sparse_copy(base_img, disk)
        params = protocol.WriterParams(**dict(
            params.__dict__, count=count, rate=0))
        res = self._run(params, disk)
        self.assertEqual(0, res.returncode, res.stderr)
        log_path = self.state_file('writer.log')
        with open(log_path, 'w') as f:
            f.write(res.stdout)
        log = protocol.parse_file(log_path)
        self.assertEqual(count, log.acknowledged)
        self.assertEqual(count, log.reported_writes)
        self.assertEqual(protocol.format_mix(params.mix), log.header['mix'])
        self.assertEqual(str(size), log.header['size'])
        want = expected.expected_image(base_img, self.state_file('exp.raw'),
                                       params, count)
        self.assertEqual(want, expected.sha256_file(disk))
        total = sum(w.size for w in expected.schedule(
            params.seed, params.mix, size, count))
        self.assertEqual(total, log.done.bytes)

    def test_single_size(self):
        self._check_agree(protocol.WriterParams(seed=1), 16 << 20, 300)

    def test_size_mix(self):
        self._check_agree(protocol.WriterParams(
            seed=0xDEADBEEFCAFE,
            mix=protocol.parse_mix('4k:30,64k:60,1m:10')), 16 << 20, 400)

    def test_aligned_offsets(self):
        self._check_agree(protocol.WriterParams(
            seed=21, mix=protocol.parse_mix('4k:1,64k:3'),
            align=64 * 1024), 16 << 20, 300)
        log = protocol.parse_file(self.state_file('writer.log'))
        self.assertEqual(str(64 * 1024), log.header['align'])
        self.assertTrue(all(w.offset % (64 * 1024) == 0 for w in
                            expected.schedule(21, ((4096, 1), (65536, 3)),
                                              16 << 20, 300,
                                              align=64 * 1024)))

    def test_bad_alignment_refused(self):
        self.assertRaises(exception.InvalidParameter, protocol.WriterParams,
                          align=1000)
        argv = [self.writer, '--dev', '/nonexistent', '--align', '1000']
        res = subprocess.run(argv, capture_output=True, text=True)
        self.assertEqual(2, res.returncode)
        self.assertIn('--align', res.stderr)

    def test_large_seed_and_small_disk(self):
        # Offsets near the end and a seed with the top bit set.
        self._check_agree(protocol.WriterParams(
            seed=2 ** 64 - 5, mix=protocol.parse_mix('8k:1,1m:1')),
            1 << 20, 200)

    def test_signal_stops_with_exact_count(self):
        size = 8 << 20
        base_img = self._base(size)
        disk = self.state_file('disk.raw')
        expected.sparse_copy(base_img, disk)
        params = protocol.WriterParams(seed=9, rate=2 * 10 ** 6)
        argv = [self.writer] + params.argv() + ['--no-direct',
                                                '--no-power-button']
        argv[argv.index('--dev') + 1] = disk
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        first = proc.stdout.readline()
        self.assertTrue(first.startswith('H '), first)
        proc.stdout.readline()  # S
        proc.stdout.readline()  # first window
        proc.send_signal(signal.SIGTERM)
        out = first + ''.join(proc.stdout)
        self.assertEqual(0, proc.wait())
        with open(self.state_file('w.log'), 'w') as f:
            f.write(out)
        log = protocol.parse_file(self.state_file('w.log'))
        self.assertEqual('signal', log.done.reason)
        self.assertGreater(log.acknowledged, 0)
        want = expected.expected_image(base_img, self.state_file('exp.raw'),
                                       params, log.acknowledged)
        self.assertEqual(want, expected.sha256_file(disk))

    def test_lag_resets_schedule_instead_of_bursting(self):
        # A rate no disk keeps: every write is late, the schedule is reset
        # (G lines) and the writes are still exactly the seeded ones.
        self._check_agree(protocol.WriterParams(seed=4), 4 << 20, 20)
        disk = self.state_file('disk.raw')
        params = protocol.WriterParams(seed=4, rate=10 ** 12, count=20,
                                       max_lag_ms=0)
        res = self._run(params, disk)
        self.assertEqual(0, res.returncode, res.stderr)
        self.assertIn('\nG ', res.stdout)

    def test_signal_while_waiting_for_schedule(self):
        disk = self.state_file('slow.raw')
        with open(disk, 'wb') as f:
            f.truncate(4 << 20)
        # 1 byte/s: write 1 is due 65536 s after write 0.
        params = protocol.WriterParams(seed=1, rate=1)
        argv = [self.writer] + params.argv() + ['--no-direct',
                                                '--no-power-button']
        argv[argv.index('--dev') + 1] = disk
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()
        proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate()
        # Write 0 is due at once; the signal may land before or after it.
        self.assertRegex(out, r'D count=[01] .*reason=signal status=ok')

    def test_bad_arguments(self):
        disk = self.state_file('small.raw')
        with open(disk, 'wb') as f:
            f.truncate(64 * 1024)
        res = subprocess.run([self.writer, '--dev', disk, '--mix', '3000'],
                             capture_output=True, text=True)
        self.assertEqual(2, res.returncode)
        res = subprocess.run([self.writer, '--dev', disk, '--mix', '1m',
                              '--no-power-button'],
                             capture_output=True, text=True)
        self.assertEqual(3, res.returncode)
        self.assertIn('smaller than', res.stderr)


class ScheduleTestCase(base.TestCase):

    def test_offsets_aligned_and_inside(self):
        mix = protocol.parse_mix('4k:30,64k:60,1m:10')
        size = 8 << 20
        sizes = set()
        for w in expected.schedule(5, mix, size, 2000):
            self.assertEqual(0, w.offset % 4096)
            self.assertLessEqual(w.offset + w.size, size)
            sizes.add(w.size)
        self.assertEqual({4096, 65536, 1 << 20}, sizes)

    def test_schedule_resumes_at_start(self):
        mix = protocol.parse_mix('4k:1,64k:1')
        full = list(expected.schedule(5, mix, 1 << 20, 100))
        self.assertEqual(full[40:],
                         list(expected.schedule(5, mix, 1 << 20, 100, 40)))

    def test_sector_headers(self):
        w = expected.Write(seq=7, offset=8192, size=3 * 4096)
        data = expected.write_data(11, w)
        self.assertEqual(3 * 4096, len(data))
        for i in range(3):
            magic, seed, seq, off = struct.unpack_from('<4Q', data,
                                                       i * 4096)
            self.assertEqual(b'VOLMGW1\0', struct.pack('<Q', magic))
            self.assertEqual((11, 7, 8192 + i * 4096), (seed, seq, off))
        # Same payload in every sector, different per write.
        self.assertEqual(data[32:4096], data[4096 + 32:8192])
        other = expected.write_data(11, expected.Write(8, 8192, 4096))
        self.assertNotEqual(data[32:4096], other[32:4096])
