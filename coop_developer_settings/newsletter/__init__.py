"""Newsletter tools (Brevo, Mailchimp) reached without middleware: plain
Python, no Odoo.

``provider`` holds what both clients share (the contact the sync hands
over, the errors, the guarded transport); ``brevo`` and ``mailchimp`` speak
each provider's API. The models call down into this package; it never
imports them. Tested on its own against local fakes (tests/unit/).
"""
