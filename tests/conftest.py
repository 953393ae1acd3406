"""Shared pytest configuration for the csops test suite."""

pytest_plugins = ["csops.controlplane.pytest_plugin"]
