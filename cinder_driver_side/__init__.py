"""cinder-volmig: the Cinder companion that drives Nova's volume migration.

A Cinder-shaped volume service (REST API v3 up to microversion 3.72, a
volume manager and file-backed "arrays") that migrates attached volumes
through Nova's start / cancel / complete API (DESIGN section 7).
"""
