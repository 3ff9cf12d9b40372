"""Alerts: rules over the market that fire when their condition turns true.

The pure evaluation core so far (no bus, database or delivery): ``firing`` (one rule's
firing state machine: false→true, ONCE/RECURRING, cooldown, re-arm level, expiry,
redelivered events) and ``rule_index`` (every rule of a symbol evaluated per trade at a
cost that does not grow with the number of simple threshold rules).
"""
