"""The ``jobctl`` command line: a thin Typer + rich layer over the SDK (see ``app.py``)."""
