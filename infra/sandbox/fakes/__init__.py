"""Loopback fakes of the third-party HTTP APIs, following their documented contracts."""
