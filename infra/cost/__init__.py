"""``python -m infra cost``: what one execution of each pipeline costs, measured in the sandbox and priced.

- ``prices``: the list prices, one dated table per region, each price with its source.
- ``schedule``: runs per month of an EventBridge Scheduler expression (``cron(…)``, ``rate(…)``).
- ``usage``: what the sandbox metered in a scenario's window, attributed to pipelines.
- ``pricing``: usage times prices — the itemized cost of a run as Standard and as Express, whether the
  pipeline qualifies for Express, and the stack's fixed monthly costs.

Pure modules except ``usage.measure`` (which reads a running sandbox); ``infra/sandbox/metering.py``
does the counting.
"""
