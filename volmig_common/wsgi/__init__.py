"""HTTP plumbing both REST services share: server, middleware, bodies.

Each service keeps a thin module of its own that supplies what differs:
its fault body format, its option group and names, its messages.
"""
