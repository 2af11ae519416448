"""Tests of the reference server (mock_server) and jobctl.testing."""
