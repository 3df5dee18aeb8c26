"""Functional tests that kill processes or restart libvirtd; run serially."""
