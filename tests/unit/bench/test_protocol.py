"""Writer parameters and the writer's line protocol."""

import os

from tests import base
from volmig_bench import exception
from volmig_bench.guest import protocol


class ParseTestCase(base.TestCase):

    def test_sizes_are_binary(self):
        self.assertEqual(65536, protocol.parse_size('64k'))
        self.assertEqual(1 << 20, protocol.parse_size('1M'))
        self.assertEqual(16 << 30, protocol.parse_size('16GiB'))
        self.assertRaises(exception.InvalidParameter, protocol.parse_size,
                          'lots')

    def test_rates_are_decimal(self):
        self.assertEqual(20 * 10 ** 6, protocol.parse_rate('20M'))
        self.assertEqual(40 * 10 ** 6, protocol.parse_rate('40MB/s'))
        self.assertEqual(0, protocol.parse_rate('0'))
        self.assertEqual(1234, protocol.parse_rate(1234))
        self.assertRaises(exception.InvalidParameter, protocol.parse_rate,
                          'fast')

    def test_mix(self):
        self.assertEqual(((65536, 1),), protocol.parse_mix('64k'))
        self.assertEqual(((4096, 30), (65536, 60), (1 << 20, 10)),
                         protocol.parse_mix('4k:30,64k:60,1m:10'))
        self.assertEqual('4096:30,65536:60',
                         protocol.format_mix(((4096, 30), (65536, 60))))

    def test_mix_rejects_unaligned_and_bad_weights(self):
        for spec in ('3000', '64k:0', '64k:x', '', '4k,' * 17 + '4k'):
            self.assertRaises(exception.InvalidParameter,
                              protocol.parse_mix, spec)


class WriterParamsTestCase(base.TestCase):

    def test_kernel_args_round_trip(self):
        params = protocol.WriterParams(
            seed=42, rate=40 * 10 ** 6,
            mix=protocol.parse_mix('4k:30,64k:60,1m:10'),
            device='serial:vol-1', duration=12.5, count=7, window_ms=50)
        words = params.kernel_args()
        self.assertIn('volmig.rate=40000000', words)
        self.assertIn('volmig.window-ms=50', words)
        back = protocol.WriterParams.from_kernel_args(
            'console=ttyS0 quiet ' + words)
        self.assertEqual(params, back)

    def test_argv_pairs(self):
        argv = protocol.WriterParams().argv()
        self.assertEqual(0, len(argv) % 2)
        self.assertTrue(all(a.startswith('--') for a in argv[::2]))

    def test_invalid(self):
        self.assertRaises(exception.InvalidParameter,
                          protocol.WriterParams, seed=-1)
        self.assertRaises(exception.InvalidParameter,
                          protocol.WriterParams, device='vdb; rm -rf /')
        self.assertRaises(exception.InvalidParameter,
                          protocol.WriterParams, window_ms=0)


LOG_TEXT = (
    'H volmig-writer 1 dev=/dev/vda size=67108864 seed=1 rate=20000000 '
    'mix=65536:1 window_us=100000 uptime_ms=2180\r\n'
    'S t0_us=2193933\r\n'
    'L 0 3 3505 525 469\r\n'
    'G 3 1500000\n'
    'L 17 2 400 410\n'
    'D count=5 bytes=327680 fsync_us=2093 reason=power-button status=ok\n')


class WriterLogTestCase(base.TestCase):

    def _write(self, text, mode='w'):
        path = self.state_file('virtio-console.log')
        with open(path, mode) as f:
            f.write(text)
        return path

    def test_parse_file(self):
        log = protocol.parse_file(self._write(LOG_TEXT))
        self.assertEqual('/dev/vda', log.header['dev'])
        self.assertEqual(100000, log.window_us)
        self.assertEqual(2193933, log.t0_us)
        self.assertEqual([0, 17], [w.index for w in log.windows])
        self.assertEqual([3505, 525, 469], log.windows[0].latencies_us)
        self.assertEqual([(3, 1500000)], log.lags)
        self.assertEqual(5, log.reported_writes)
        self.assertEqual(5, log.acknowledged)
        self.assertEqual('power-button', log.done.reason)
        self.assertTrue(log.done.ok)

    def test_acknowledged_needs_done(self):
        log = protocol.parse_file(self._write(LOG_TEXT.rsplit('D', 1)[0]))
        self.assertIsNone(log.done)
        self.assertRaises(exception.WriterLogError,
                          lambda: log.acknowledged)

    def test_count_mismatch_is_an_error(self):
        self.assertRaises(exception.WriterLogError,
                          protocol.parse_file, self._write('L 0 3 1 2\n'))

    def test_reader_tails_partial_lines(self):
        times = iter([10.0, 11.0, 12.0])
        path = self._write('')
        reader = protocol.WriterLogReader(path, clock=lambda: next(times))
        half = LOG_TEXT.index('G 3') + 3  # mid-line
        self._write(LOG_TEXT[:half], 'a')
        log = reader.poll()
        self.assertEqual(1, len(log.windows))
        self.assertEqual(10.0, log.windows[0].arrived)
        self.assertEqual(10.0, log.started_at)
        self._write(LOG_TEXT[half:], 'a')
        log = reader.poll()
        self.assertEqual(11.0, log.windows[1].arrived)
        self.assertIsNotNone(log.done)

    def test_reader_without_file(self):
        reader = protocol.WriterLogReader(self.state_file('nope'))
        self.assertIsNone(reader.poll().t0_us)

    def test_wait_for_raises_on_writer_error(self):
        path = self._write('E seq=4 errno=5\n')
        reader = protocol.WriterLogReader(path)
        self.assertRaises(exception.WriterLogError, reader.wait_for,
                          lambda log: log.done is not None, 5)

    def test_other_lines_kept_apart(self):
        log = protocol.WriterLog()
        log.feed('volmig-guest: booted in 2 s')
        self.assertEqual(['volmig-guest: booted in 2 s'], log.other)
        self.assertFalse(os.path.exists(self.state_file('x')))


LOG_V2 = (
    'H volmig-writer 2 dev=/dev/vdb size=67108864 seed=1 rate=20000000 '
    'mix=65536:1 window_us=100000 align=4096 uptime_ms=2180 '
    'sync_every=1\n'
    'S t0_us=2193933\n'
    'A 0 0 off=4096 len=65536\n'
    'A 1 2 off=8192 len=65536\n'
    'L 0 3 3505 525 469\n')


class AckLineTestCase(base.TestCase):
    """Version 2: A lines acknowledge contiguous ranges of writes."""

    def test_acks_accumulate(self):
        log = protocol.WriterLog()
        self.assertEqual(0, log.acked)
        self.assertIsNone(log.last_ack)
        for line in LOG_V2.splitlines():
            log.feed(line, arrived=5.0)
        self.assertEqual(2, log.version)
        self.assertEqual('1', log.header['sync_every'])
        self.assertEqual(3, log.acked)
        self.assertEqual(2, log.ack_lines)
        self.assertEqual(protocol.Ack(1, 2, 8192, 65536, 5.0), log.last_ack)
        self.assertEqual(3, log.reported_writes)

    def test_version_1_header(self):
        log = protocol.parse_file(self._write(LOG_TEXT))
        self.assertEqual(1, log.version)
        self.assertEqual(0, log.acked)

    def test_gap_or_overlap_is_an_error(self):
        for bad in ('A 1 2 off=0 len=4096', 'A 0 0 off=0 len=4096\n'
                    'A 0 1 off=0 len=4096', 'A 0 -1 off=0 len=4096',
                    'A 0 1 off=0', 'A 0'):
            self.assertRaises(exception.WriterLogError,
                              protocol.parse_file, self._write(bad + '\n'))

    def test_tailed_mid_run(self):
        path = self._write(LOG_V2[:LOG_V2.index('A 1')])
        reader = protocol.WriterLogReader(path, clock=lambda: 1.0)
        self.assertEqual(1, reader.poll().acked)
        self._write(LOG_V2[LOG_V2.index('A 1'):], 'a')
        self.assertEqual(3, reader.poll().acked)

    def test_sync_every_parameter(self):
        params = protocol.WriterParams(sync_every=8)
        self.assertIn('volmig.sync-every=8', params.kernel_args())
        self.assertEqual(params, protocol.WriterParams.from_kernel_args(
            params.kernel_args()))
        self.assertEqual(1, protocol.WriterParams().sync_every)
        for bad in (-1, protocol.MAX_SYNC_EVERY + 1):
            self.assertRaises(exception.InvalidParameter,
                              protocol.WriterParams, sync_every=bad)

    def _write(self, text, mode='w'):
        path = self.state_file('virtio-console.log')
        with open(path, mode) as f:
            f.write(text)
        return path
