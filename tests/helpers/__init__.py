"""Builders used only by tests and benchmarks: tiny models of the real classes, stand-ins for trained ones, small sets."""
