"""Pipelines: end-to-end inference (`generate`) and benchmarks."""
