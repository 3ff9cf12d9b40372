"""Notification channels: one sender per kind (Telegram, Discord, email, webhook), each
turning its service's answers into an :class:`~services.alerts.channels.outcome.Outcome`
by that service's own rules.

Pure parts, testable without servers: ``outcome`` (what a send came to), ``message`` (the
text and webhook JSON of a firing), ``signature`` (webhook HMAC), ``retry_policy``
(exponential backoff with jitter and a cap), ``rate_limit`` (per-target spacing, a global
rate and pauses a service asked for). Senders: ``telegram``, ``discord``, ``email``,
``webhook``; ``senders`` picks one by kind.
"""
