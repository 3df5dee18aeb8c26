"""Functional tests of the libvirt driver on real libvirt + QEMU."""
