"""nue-ns benchmarks (issue 7): `python -m bench` runs them all, `python -m bench NAME` one."""
