"""Benchmarks; each compares gomodproxy with a baseline measured in the same run."""
