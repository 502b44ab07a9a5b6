"""The release-approval pipeline: a release request from S3, three bearer-token services, a Jira decision."""
