"""The greeting pipeline: validate a message, format a record, insert it into DynamoDB."""
