"""Alerts: rules over the market that fire when their condition turns true.

The pure cores so far (no bus, database or delivery worker yet): ``firing`` (one rule's
firing state machine: false→true, ONCE/RECURRING, cooldown, re-arm level, expiry,
redelivered events), ``rule_index`` (every rule of a symbol evaluated per trade at a cost that
does not grow with the number of simple threshold rules) and ``channels`` (the notification
senders: Telegram, Discord, email, webhooks).
"""
