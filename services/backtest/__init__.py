"""Backtests: strategies, the simulation engine, statistics and parameter search.

The pure core — ``bars``, ``indicators``, ``strategies``, ``engine``, ``metrics``,
``optimize`` — imports numpy and nothing of grpc, nats or asyncpg.
"""
