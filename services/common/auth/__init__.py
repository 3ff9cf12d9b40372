"""Users, passwords, access tokens, API keys and rate buckets: the pure parts of auth.

The HTTP side (reading the ``Authorization`` header, the GraphQL mutations) is
``graph/auth.py``; the tables are in ``store.py``.
"""
