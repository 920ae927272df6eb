"""Performance benchmarks of Pact Monitor (issue 6): `python -m benchmarks`, see `benchmarks/__main__.py`."""
