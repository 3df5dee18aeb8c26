"""Nova-side objects: a record and the state changes it allows.

In the spirit of ``nova.objects``: callers change a record through the
methods of its object, never with hand-built dicts of column values.
"""
