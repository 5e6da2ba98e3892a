"""Builders used only by tests and benchmarks: tiny models of the real classes, small sets."""
