"""The OpenStack compute API v2.1: router, controllers and views."""
