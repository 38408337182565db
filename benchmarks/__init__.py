"""Benchmark networks and peer-simulator scripts (not part of the installed package)."""
