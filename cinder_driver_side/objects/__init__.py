"""Vocabulary of the Cinder side (upstream: ``cinder.objects``)."""
