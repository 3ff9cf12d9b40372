"""Alerting service: rules on prices and indicators, firings and their notifications."""
