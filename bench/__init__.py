"""Benchmarks that print figures (see bench/README.md); not part of the service."""
