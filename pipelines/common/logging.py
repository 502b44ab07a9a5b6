"""Structured JSON logging (Powertools Logger), one logger per pipeline service."""

from __future__ import annotations

import functools
import logging
import sys

from aws_lambda_powertools import Logger


class _CurrentStdout:
    """Writes to whatever ``sys.stdout`` is at write time.

    In Lambda that is the function's log stream; the sandbox swaps ``sys.stdout`` per invocation
    to capture each function's logs into its own log group.
    """

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@functools.cache
def get_logger(service: str) -> Logger:
    """The Powertools JSON logger of ``service``; the level comes from POWERTOOLS_LOG_LEVEL.

    One per service, shared by its modules (a pipeline's intake and its handlers): a second
    Powertools Logger of the same service finds the logging logger already set up and is left
    without its formatter.
    """
    return Logger(service=service, logger_handler=logging.StreamHandler(_CurrentStdout()))
