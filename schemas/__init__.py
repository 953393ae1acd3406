"""JSON Schemas of the inputs csops reads and of the CRDs it generates, shipped as package data."""
