"""Benchmarks (pytest-benchmark): a package, so that its conftest and modules never shadow the tests' own."""
