"""crmpay: a command-line toolkit for billing operators."""

__version__ = "0.1.0"
