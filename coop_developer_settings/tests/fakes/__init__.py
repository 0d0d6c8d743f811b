# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Local fakes of the newsletter tools' APIs (Brevo, Mailchimp), shared by
the addon's tests and the out-of-process ones (tests/, where this directory
is on the path as ``fakes``, like receiver.py)."""
