"""The pure-Python backend: the reference the compiled backend is tested against."""
