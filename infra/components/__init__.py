"""Generic building blocks: they know nothing about any one pipeline."""
