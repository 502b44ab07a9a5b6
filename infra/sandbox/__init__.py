"""Runs the Pulumi program against an in-process AWS emulator, PostgreSQL and loopback fakes."""
