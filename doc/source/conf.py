"""Sphinx configuration of the nova-volmig documentation."""

project = 'nova-volmig'
copyright = '2026, nova-volmig developers'
extensions = []
exclude_patterns = ['_build']
html_theme = 'alabaster'
master_doc = 'index'
