"""Clients of the compute service."""
