"""Webhook delivery, signing and URL safety: plain Python, no Odoo.

The models call down into this package; it never imports them. Each module
is tested on its own (tests/test_webhook_*.py).
"""
