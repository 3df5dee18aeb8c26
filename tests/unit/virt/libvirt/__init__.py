"""Unit tests of the libvirt driver (libvirt faked)."""
