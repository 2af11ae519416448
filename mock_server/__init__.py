"""The jobctl reference server."""
