"""Code both services, the bench and the tests share (the oslo of this repo).

Nothing here imports from nova_volmig, cinder_driver_side or volmig_bench.
"""
