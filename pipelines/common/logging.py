"""Structured JSON logging (Powertools Logger), one logger per pipeline service."""

from __future__ import annotations

from aws_lambda_powertools import Logger


def get_logger(service: str) -> Logger:
    """A Powertools JSON logger for ``service``; the level comes from POWERTOOLS_LOG_LEVEL."""
    return Logger(service=service)
