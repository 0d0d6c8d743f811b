"""Secrets at rest: encryption with keys held outside the database.

Plain Python (never imports odoo): ``keyring`` reads, creates and extends
the keys; ``sealing`` encrypts and decrypts with them. The models call down
into this package (models/coop_secret_vault.py). Tested on its own
(tests/test_secret_crypto.py).
"""
