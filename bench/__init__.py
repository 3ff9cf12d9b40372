"""Benchmarks: QuantFlow's hot paths beside what a user would otherwise hand-roll."""
