"""omnitalk: real-time spoken conversation with language models."""

__version__ = "0.1.0"
