"""The shoemodel test suite; `tests.helpers` holds the builders tests and benchmarks share."""
