"""Workarounds for third-party packages that misbehave on this stack, each narrow and tested."""
