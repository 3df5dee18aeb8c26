"""Console scripts of the Cinder side."""
