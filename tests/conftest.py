"""Shared pytest configuration for the csops test suite."""

pytest_plugins = ["controlplane.pytest_plugin"]
