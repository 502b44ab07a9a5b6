"""The ``incidents`` pipeline: PagerDuty incidents → PostgreSQL → validation report.

Pure modules (``window``, ``request``, ``records``, ``rules``) do no I/O; ``pagerduty`` speaks
HTTP through a session it is given, ``store`` and ``schema`` speak SQL through a connection
they are given, and ``handlers`` wires them to Lambda events and environment settings.
"""
