"""pytest-benchmark suites: wscodec (both backends) against the reference codecs (see conftest)."""
