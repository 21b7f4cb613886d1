"""Build, slim, verify and publish small TensorFlow Lite inference stacks."""

__version__ = "0.1.0"
