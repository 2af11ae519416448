"""jobctl."""
