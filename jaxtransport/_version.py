"""The package version (one place; ``jaxtransport.__version__``)."""

__version__ = "0.1.0"
