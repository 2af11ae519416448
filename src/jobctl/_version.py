"""The version of jobctl (read by hatchling and by ``jobctl --version``)."""

__version__ = "0.1.0"
