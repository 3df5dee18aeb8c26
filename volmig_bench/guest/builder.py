"""Build the tiny guest: a Debian kernel, a busybox initramfs, the writer.

Everything comes from Debian packages fetched with ``apt-get download``
(``linux-image-amd64`` resolved to its real ``linux-image-6.1...``
package, and ``busybox-static``), unpacked with ``dpkg-deb -x``; the writer
is compiled with ``gcc -static``. The result is an image directory that the
libvirt driver boots by direct kernel boot::

    <dest>/kernel    the Debian vmlinuz
    <dest>/initrd    gzip'd newc cpio: /init, busybox, virtio modules,
                     /bin/volmig-writer
    <dest>/cmdline   kernel command line, writer parameters included
    <dest>/manifest.json

Builds are cached under ``cache_dir`` keyed by the package versions and the
sources, so a second build costs a copy; a ``dest`` already holding the same
manifest is left untouched.
"""

from __future__ import annotations

import dataclasses
import glob
import gzip
import hashlib
import json
import os
import re
import shutil
import struct
import tempfile

from oslo_concurrency import processutils

from volmig_bench import exception
from volmig_bench.guest import protocol
from volmig_bench import host

BUILDER_VERSION = 2
KERNEL_META_PACKAGE = 'linux-image-amd64'
BUSYBOX_PACKAGE = 'busybox-static'
#: What the guest needs from the kernel's modules: the virtio PCI bus, its
#: disks and console, and the ACPI power button seen through evdev (the
#: host's way of telling the writer to stop). Dependencies are added from
#: each module's own .modinfo.
GUEST_MODULES = ('virtio_pci', 'virtio_blk', 'virtio_console', 'button',
                 'evdev')
# no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer
# check can fail and panic ("IO-APIC + timer doesn't work"), seen in the
# fault scenario with two runs sharing two cores.
BASE_CMDLINE = ('console=ttyS0 quiet loglevel=3 mitigations=off edd=off '
                'no_timer_check')
_HERE = os.path.dirname(os.path.abspath(__file__))
WRITER_SOURCE = os.path.join(_HERE, 'writer.c')
INIT_SCRIPT = os.path.join(_HERE, 'init.sh')


def default_cache_dir() -> str:
    base = os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache')
    return os.path.join(base, 'nova-volmig', 'guest')


@dataclasses.dataclass(frozen=True)
class GuestImage:
    """A built image directory."""

    path: str
    manifest: dict

    @property
    def kernel(self) -> str:
        return os.path.join(self.path, 'kernel')

    @property
    def initrd(self) -> str:
        return os.path.join(self.path, 'initrd')

    @property
    def cmdline(self) -> str:
        with open(os.path.join(self.path, 'cmdline')) as f:
            return f.read().strip()


def _execute(*cmd, **kwargs):
    try:
        return processutils.execute(*cmd, **kwargs)
    except processutils.ProcessExecutionError as exc:
        raise exception.GuestBuildFailed(
            reason='%s: %s' % (' '.join(cmd), (exc.stderr or exc.stdout
                                               or str(exc)).strip()))
    except OSError as exc:
        raise exception.CommandUnavailable(what=cmd[0], reason=exc)


def resolve_kernel_package() -> str:
    """The real kernel package ``linux-image-amd64`` depends on."""
    out, _ = _execute('apt-cache', 'depends', KERNEL_META_PACKAGE)
    for line in out.splitlines():
        m = re.match(r'\s*Depends:\s*(linux-image-\d\S*)', line)
        if m:
            return m.group(1)
    raise exception.GuestBuildFailed(
        reason='apt-cache knows no kernel behind %s (was apt-get update '
               'run?)' % KERNEL_META_PACKAGE)


def download(packages: list[str], debs_dir: str) -> dict[str, str]:
    """``apt-get download`` what is missing; package name -> .deb path."""
    os.makedirs(debs_dir, exist_ok=True)

    def find(pkg: str) -> str | None:
        hits = sorted(glob.glob(os.path.join(debs_dir, pkg + '_*.deb')))
        return hits[-1] if hits else None

    missing = [p for p in packages if not find(p)]
    if missing:
        # Root downloads into a root-owned directory: no _apt sandbox.
        _execute('apt-get', '-o', 'APT::Sandbox::User=root', 'download',
                 *missing, cwd=debs_dir)
    found = {p: find(p) for p in packages}
    for pkg, path in found.items():
        if not path:
            raise exception.GuestBuildFailed(
                reason='apt-get download left no %s package' % pkg)
    return found


def _elf_section(path: str, wanted: str) -> bytes:
    """The bytes of one section of a little-endian ELF64 file."""
    with open(path, 'rb') as f:
        data = f.read()
    if data[:5] != b'\x7fELF\x02' or data[5] != 1:
        raise exception.GuestBuildFailed(reason='%s is not ELF64 LE' % path)
    shoff, = struct.unpack_from('<Q', data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', data, 0x3A)

    def header(i):
        # name, type, flags, addr, offset, size
        return struct.unpack_from('<IIQQQQ', data, shoff + i * shentsize)

    strtab = header(shstrndx)
    names = data[strtab[4]:strtab[4] + strtab[5]]
    for i in range(shnum):
        name_off, _, _, _, off, size = header(i)
        name = names[name_off:names.index(b'\0', name_off)].decode()
        if name == wanted:
            return data[off:off + size]
    return b''


def module_depends(ko_path: str) -> list[str]:
    """The ``depends=`` of a kernel module, from its .modinfo section."""
    for entry in _elf_section(ko_path, '.modinfo').split(b'\0'):
        if entry.startswith(b'depends='):
            value = entry[len(b'depends='):].decode()
            return [d for d in value.split(',') if d]
    return []


def module_load_order(modules_root: str, wanted: tuple[str, ...]
                      ) -> list[str]:
    """Module paths (relative to ``modules_root``), dependencies first."""
    index = {}
    for path in glob.glob(os.path.join(modules_root, '**', '*.ko*'),
                          recursive=True):
        if path.endswith(('.ko.xz', '.ko.zst', '.ko.gz')):
            raise exception.GuestBuildFailed(
                reason='compressed module %s: busybox insmod cannot load '
                       'it; decompress first' % path)
        name = os.path.basename(path)[:-3].replace('-', '_')
        index[name] = path
    order: list[str] = []

    def visit(name: str, stack: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in stack:
            raise exception.GuestBuildFailed(
                reason='module dependency cycle: %s' % ' -> '.join(stack))
        if name not in index:
            raise exception.GuestBuildFailed(
                reason='kernel has no module %s (built in?)' % name)
        for dep in module_depends(index[name]):
            visit(dep.replace('-', '_'), stack + (name,))
        order.append(name)

    for name in wanted:
        visit(name, ())
    return [os.path.relpath(index[n], modules_root) for n in order]


def compile_writer(out: str, static: bool = True) -> str:
    """``gcc [-static] -O2`` the writer into ``out``."""
    argv = ['gcc', '-O2', '-Wall', '-Wextra', '-Werror', '-o', out,
            WRITER_SOURCE]
    if static:
        argv.insert(1, '-static')
    _execute(*argv)
    return out


def _newc_cpio_gz(root: str, out: str) -> None:
    """A reproducible gzip'd newc archive of ``root``."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in dirnames + sorted(filenames):
            entries.append(os.path.relpath(os.path.join(dirpath, name),
                                           root))
    listing = ''.join(e + '\n' for e in sorted(entries))
    archive, _ = _execute('cpio', '--quiet', '-o', '-H', 'newc',
                          '--reproducible', '-R', '0:0',
                          process_input=listing.encode(), cwd=root,
                          binary=True)
    with open(out, 'wb') as raw:
        with gzip.GzipFile(filename='', fileobj=raw, mode='wb', mtime=0,
                           compresslevel=6) as gz:
            gz.write(archive)


def _sha256(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.file_digest(f, 'sha256').hexdigest()


def _build_artifacts(cache_dir: str) -> tuple[str, dict]:
    """Kernel and initrd in the cache; (their directory, their manifest)."""
    kernel_pkg = resolve_kernel_package()
    debs = download([kernel_pkg, BUSYBOX_PACKAGE],
                    os.path.join(cache_dir, 'debs'))
    key_src = json.dumps({
        'builder': BUILDER_VERSION,
        'debs': sorted(os.path.basename(p) for p in debs.values()),
        'writer': _sha256(WRITER_SOURCE),
        'init': _sha256(INIT_SCRIPT),
        'modules': GUEST_MODULES,
    }, sort_keys=True)
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    out_dir = os.path.join(cache_dir, 'build-' + key)
    manifest_path = os.path.join(out_dir, 'artifacts.json')
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            return out_dir, json.load(f)

    with tempfile.TemporaryDirectory(dir=cache_dir) as work:
        kroot = os.path.join(work, 'kernel-pkg')
        _execute('dpkg-deb', '-x', debs[kernel_pkg], kroot)
        vmlinuz = glob.glob(os.path.join(kroot, 'boot', 'vmlinuz-*'))
        module_dirs = glob.glob(os.path.join(kroot, 'lib', 'modules', '*'))
        if len(vmlinuz) != 1 or len(module_dirs) != 1:
            raise exception.GuestBuildFailed(
                reason='%s holds %d kernels and %d module trees'
                % (kernel_pkg, len(vmlinuz), len(module_dirs)))
        kernel_release = os.path.basename(module_dirs[0])
        modules = module_load_order(module_dirs[0], GUEST_MODULES)

        bbroot = os.path.join(work, 'busybox-pkg')
        _execute('dpkg-deb', '-x', debs[BUSYBOX_PACKAGE], bbroot)

        root = os.path.join(work, 'initramfs')
        for d in ('bin', 'etc', 'dev', 'proc', 'sys', 'tmp',
                  'lib/modules'):
            os.makedirs(os.path.join(root, d))
        shutil.copy2(os.path.join(bbroot, 'bin', 'busybox'),
                     os.path.join(root, 'bin', 'busybox'))
        os.symlink('busybox', os.path.join(root, 'bin', 'sh'))
        shutil.copy(INIT_SCRIPT, os.path.join(root, 'init'))
        os.chmod(os.path.join(root, 'init'), 0o755)
        compile_writer(os.path.join(root, 'bin', 'volmig-writer'))
        for rel in modules:
            dst = os.path.join(root, 'lib', 'modules', rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy(os.path.join(module_dirs[0], rel), dst)
        with open(os.path.join(root, 'etc', 'volmig-modules'), 'w') as f:
            f.write(''.join(rel + '\n' for rel in modules))
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                os.utime(os.path.join(dirpath, name), (0, 0),
                         follow_symlinks=False)

        staging = os.path.join(work, 'out')
        os.makedirs(staging)
        shutil.copy(vmlinuz[0], os.path.join(staging, 'kernel'))
        _newc_cpio_gz(root, os.path.join(staging, 'initrd'))
        manifest = {
            'builder_version': BUILDER_VERSION,
            'kernel_package': os.path.basename(debs[kernel_pkg]),
            'kernel_release': kernel_release,
            'busybox_package': os.path.basename(debs[BUSYBOX_PACKAGE]),
            'modules': modules,
            'writer_source_sha256': _sha256(WRITER_SOURCE),
            'kernel_sha256': _sha256(os.path.join(staging, 'kernel')),
            'initrd_sha256': _sha256(os.path.join(staging, 'initrd')),
        }
        with open(os.path.join(staging, 'artifacts.json'), 'w') as f:
            json.dump(manifest, f, indent=2, sort_keys=True)
        shutil.rmtree(out_dir, ignore_errors=True)
        os.rename(staging, out_dir)
    return out_dir, manifest


def build(dest: str, params: protocol.WriterParams | None = None,
          cache_dir: str | None = None, extra_cmdline: str = ''
          ) -> GuestImage:
    """Build (or reuse) the guest image in ``dest``; idempotent."""
    params = params or protocol.WriterParams()
    host.require('apt-get', 'apt-cache', 'dpkg-deb', 'cpio')
    host.require_static_libc()
    cache_dir = os.path.abspath(cache_dir or default_cache_dir())
    os.makedirs(cache_dir, exist_ok=True)
    artifacts_dir, artifacts = _build_artifacts(cache_dir)
    cmdline = ' '.join(filter(None, [BASE_CMDLINE, extra_cmdline,
                                     params.kernel_args()]))
    manifest = dict(artifacts, cmdline=cmdline,
                    writer=dataclasses.asdict(params))
    manifest_path = os.path.join(dest, 'manifest.json')
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            if json.load(f) == json.loads(json.dumps(manifest)):
                return GuestImage(os.path.abspath(dest), manifest)
    os.makedirs(dest, exist_ok=True)
    for name in ('kernel', 'initrd'):
        tmp = os.path.join(dest, '.%s.tmp' % name)
        shutil.copy(os.path.join(artifacts_dir, name), tmp)
        os.replace(tmp, os.path.join(dest, name))
    with open(os.path.join(dest, 'cmdline'), 'w') as f:
        f.write(cmdline + '\n')
    with open(manifest_path + '.tmp', 'w') as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
    os.replace(manifest_path + '.tmp', manifest_path)
    return GuestImage(os.path.abspath(dest), manifest)
