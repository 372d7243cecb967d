"""``trifactor sweep``: many configurations measured at once on a Dask cluster, cached and resumable."""
