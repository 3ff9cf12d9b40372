"""Alerts: rules over the market that fire when their condition turns true, and the
notifications of each firing, sent from a PostgreSQL outbox.

Pure cores: ``firing`` (one rule's state machine), ``rule_index`` (every rule of a symbol
per trade, at a cost that does not grow with the number of threshold rules),
``candle_builder`` (coarser candles from 1m klines), ``validation``, ``stale_feed`` and
``channels`` (the senders). Around them: ``rule_store`` and ``channel_store`` (PostgreSQL),
``rpc`` (AlertsService), ``notifications`` (ListNotifications), ``history`` (RuleHistory),
``warmup`` (rules fed stored data before their first live event), ``evaluator`` (the market
stream → firings in the ``outbox``), ``scheduler`` (expiry, stale feeds) and ``service``
(all of it in one process: ``quantflow serve alerts``).
"""
