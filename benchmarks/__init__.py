"""Benchmarks of jobctl against the reference server and the tools people use instead.

Run ``python -m benchmarks`` (see ``benchmarks/__main__.py`` and docs/benchmarks.md).
"""
