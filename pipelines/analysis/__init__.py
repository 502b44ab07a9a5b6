"""The daily-analysis pipeline's pure statistics: a day's store summaries → metrics, trends, anomalies.

``metrics`` turns the day's snapshot (one store-day row per store, streamed) into the store and
product history rows and the company and product summaries; ``categories`` maps products to
categories by id prefix; ``trends`` reads 28 days of store rows; ``anomalies`` holds the rule that
decides what is unusual (a language model only explains its findings later, it never decides).
Standard library only: no pandas, numpy, boto3 or pulumi here.
"""
