"""The version of jobctl (read by hatchling and by ``jobctl --version``)."""

__version__ = "0.1.0"


def version_text() -> str:
    """What ``jobctl --version`` prints (the early answer and the parser's are the same)."""
    return f"jobctl {__version__}\n"
