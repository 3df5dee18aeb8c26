"""Cinder v3 shaped REST API (microversions 3.0 to 3.72)."""
