"""The compiled backend, built from the Cython sources in ``cython/``."""
