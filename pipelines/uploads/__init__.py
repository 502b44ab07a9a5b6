"""The uploads pipeline's pure logic: an uploaded sales file → per (store, business date) summaries.

``format`` documents the file, ``parse`` streams its records, ``validate`` checks each one,
``aggregate`` sums the accepted ones per store-day (``fast`` is its one-pass way for well-formed
records, handing ``validate`` every other one), ``contributions`` keeps every store-day the
sum of the latest version of each upload that touched it, ``generate`` writes sample files.
``items`` maps summaries to DynamoDB items (pure). The adapters ``objects`` (S3) and ``store``
(DynamoDB, the write plan) import boto3; ``request`` checks the event and ``handlers`` is the
Lambda entry point. Nothing here imports pulumi.
"""
