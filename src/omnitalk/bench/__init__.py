"""Benchmarks that print medians and the machine they ran on."""
