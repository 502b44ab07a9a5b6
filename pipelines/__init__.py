"""Business logic of the stepworks pipelines, and the thin Lambda handlers in front of it."""
