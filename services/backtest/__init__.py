"""Backtesting: strategies, the engine, statistics, optimisation and jobs (issue 9)."""
