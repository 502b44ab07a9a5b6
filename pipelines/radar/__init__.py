"""The radar pipeline: org registry → per-org Cloudflare Radar data → JSON and flattened CSV in S3."""
