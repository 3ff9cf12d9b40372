"""Backtesting: strategies, the engine, statistics, optimisation and jobs (issue 9).

The pure core — ``bars``, ``indicators``, ``strategies``, ``engine``, ``metrics``,
``optimize``, ``declarative`` — imports numpy and nothing of grpc, nats or asyncpg.
"""
