"""Guest builder pieces that need no apt: modules, initramfs, cache keys."""

import gzip
import os
import subprocess
from unittest import mock

from tests import base
from volmig_bench import exception
from volmig_bench.guest import builder
from volmig_bench import host


def _fake_module(root, rel, depends):
    """A real ELF object with a .modinfo section, named like a module."""
    os.makedirs(root, exist_ok=True)
    src = os.path.join(root, 'm.c')
    with open(src, 'w') as f:
        f.write('__attribute__((section(".modinfo"), used)) '
                'static const char info[] = "license=GPL\\0depends=%s\\0'
                'name=x";\n' % depends)
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    subprocess.run(['gcc', '-c', '-o', path, src], check=True)
    return path


class ModulesTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.root = self.state_file('modules')
        _fake_module(self.root, 'kernel/virtio/virtio_ring.ko', '')
        _fake_module(self.root, 'kernel/virtio/virtio.ko', 'virtio_ring')
        _fake_module(self.root, 'kernel/virtio/virtio_pci.ko',
                     'virtio_ring,virtio')
        _fake_module(self.root, 'kernel/block/virtio_blk.ko',
                     'virtio,virtio_ring')
        _fake_module(self.root, 'kernel/input/evdev.ko', '')

    def test_depends_read_from_modinfo(self):
        self.assertEqual(['virtio_ring', 'virtio'], builder.module_depends(
            os.path.join(self.root, 'kernel/virtio/virtio_pci.ko')))
        self.assertEqual([], builder.module_depends(
            os.path.join(self.root, 'kernel/input/evdev.ko')))

    def test_load_order_puts_dependencies_first_once(self):
        order = builder.module_load_order(
            self.root, ('virtio_blk', 'virtio_pci', 'evdev'))
        self.assertEqual(['kernel/virtio/virtio_ring.ko',
                          'kernel/virtio/virtio.ko',
                          'kernel/block/virtio_blk.ko',
                          'kernel/virtio/virtio_pci.ko',
                          'kernel/input/evdev.ko'], order)

    def test_missing_module(self):
        exc = self.assertRaises(exception.GuestBuildFailed,
                                builder.module_load_order, self.root,
                                ('virtio_console',))
        self.assertIn('virtio_console', str(exc))

    def test_compressed_modules_refused(self):
        open(os.path.join(self.root, 'kernel', 'x.ko.xz'), 'w').close()
        self.assertRaises(exception.GuestBuildFailed,
                          builder.module_load_order, self.root, ('evdev',))

    def test_not_elf(self):
        path = self.state_file('junk.ko')
        with open(path, 'wb') as f:
            f.write(b'not an elf file at all' * 10)
        self.assertRaises(exception.GuestBuildFailed,
                          builder.module_depends, path)


class InitramfsTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        host.require('cpio')  # installs it on a fresh Debian host

    def _tree(self, root):
        os.makedirs(os.path.join(root, 'bin'))
        with open(os.path.join(root, 'init'), 'w') as f:
            f.write('#!/bin/sh\n')
        os.symlink('busybox', os.path.join(root, 'bin', 'sh'))

    def test_newc_archive_is_reproducible(self):
        for name in ('a', 'b'):
            root = self.state_file(name)
            self._tree(root)
            for dirpath, dirnames, filenames in os.walk(root):
                for n in dirnames + filenames:
                    os.utime(os.path.join(dirpath, n), (0, 0),
                             follow_symlinks=False)
            builder._newc_cpio_gz(root, self.state_file(name + '.gz'))
        with open(self.state_file('a.gz'), 'rb') as a, \
                open(self.state_file('b.gz'), 'rb') as b:
            data = a.read()
            self.assertEqual(data, b.read())
        archive = gzip.decompress(data)
        self.assertTrue(archive.startswith(b'070701'))  # newc magic
        listing = subprocess.run(['cpio', '-t', '--quiet'], input=archive,
                                 capture_output=True).stdout.decode()
        self.assertEqual(['bin', 'bin/sh', 'init'], listing.split())


class BuildTestCase(base.TestCase):
    """build() around a fake artifact cache: idempotence and cmdline."""

    def _fake_artifacts(self, cache_dir):
        out = os.path.join(cache_dir, 'build-x')
        os.makedirs(out, exist_ok=True)
        for name in ('kernel', 'initrd'):
            with open(os.path.join(out, name), 'wb') as f:
                f.write(name.encode())
        return out, {'kernel_package': 'linux-image-6.1.0-x', 'modules': []}

    def test_idempotent_and_params_in_cmdline(self):
        from volmig_bench.guest import protocol

        cache = self.state_file('cache')
        with mock.patch.object(builder, '_build_artifacts',
                               side_effect=self._fake_artifacts), \
                mock.patch.object(host, 'require'), \
                mock.patch.object(host, 'require_static_libc'):
            params = protocol.WriterParams(seed=5, rate=40 * 10 ** 6)
            image = builder.build(self.state_file('img'), params,
                                  cache_dir=cache)
            cmdline = image.cmdline
            self.assertIn('volmig.rate=40000000', cmdline)
            self.assertIn('console=ttyS0', cmdline)
            mtime = os.stat(image.kernel).st_mtime_ns
            again = builder.build(self.state_file('img'), params,
                                  cache_dir=cache)
            self.assertEqual(mtime, os.stat(again.kernel).st_mtime_ns)
            other = builder.build(self.state_file('img'),
                                  protocol.WriterParams(seed=6),
                                  cache_dir=cache)
            self.assertIn('volmig.seed=6', other.cmdline)
        self.assertEqual(
            params, protocol.WriterParams.from_kernel_args(cmdline))

    def test_kernel_package_resolution(self):
        out = ('linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n')
        with mock.patch.object(builder, '_execute', return_value=(out, '')):
            self.assertEqual('linux-image-6.1.0-56-amd64',
                             builder.resolve_kernel_package())
        with mock.patch.object(builder, '_execute', return_value=('', '')):
            self.assertRaises(exception.GuestBuildFailed,
                              builder.resolve_kernel_package)
