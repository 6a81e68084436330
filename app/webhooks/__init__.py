"""Outbound webhooks: vendors' endpoints, the event outbox, signed deliveries and their log.

`events.emit()` writes an event and one delivery per subscribed endpoint in the caller's
transaction (the outbox); `jobs.webhooks_out.deliver` sends a delivery, signed per Standard
Webhooks (`signing`), through the SSRF guard (`network`); the sweep re-queues what is due.
"""
