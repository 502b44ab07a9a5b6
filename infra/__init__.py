"""The stepworks Pulumi program's building blocks, workflows and the embedded sandbox."""
