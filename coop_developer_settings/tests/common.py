# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from datetime import datetime, timedelta

from odoo.tests import TransactionCase

# A fixed "now" for the tests that travel in time.
T0 = datetime(2026, 3, 2, 8, 0, 0)


class SaleCycleCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A shop of its own: the demo data's open cycle stays out of the way.
        cls.company = cls.env["res.company"].create({"name": "Test coop shop"})
        cls.Cycle = cls.env["coop.sale.cycle"]

    @classmethod
    def create_cycle(cls, opens_in_hours=24, lasts_hours=48, state=None, **vals):
        """A cycle of the test company, dated relative to T0."""
        date_open = T0 + timedelta(hours=opens_in_hours)
        cycle = cls.Cycle.create(
            {
                "name": vals.pop("name", "Test cycle"),
                "company_id": vals.pop("company_id", cls.company.id),
                "date_open": date_open,
                "date_close": date_open + timedelta(hours=lasts_hours),
                **vals,
            }
        )
        if state:
            # The states are reached through the real transitions.
            path = {
                "draft": [],
                "scheduled": ["action_schedule"],
                "open": ["action_open"],
                "closed": ["action_open", "action_close"],
                "cancelled": ["action_cancel"],
            }[state]
            for method in path:
                getattr(cycle, method)()
        return cycle

    def events(self, cycle, event_type):
        """The messages that recorded an event of the cycle, oldest first."""
        subtype = self.env.ref(
            {
                "sale_cycle.opened": "coop_developer_settings.mt_sale_cycle_opened",
                "sale_cycle.closed": "coop_developer_settings.mt_sale_cycle_closed",
            }[event_type]
        )
        return self.env["mail.message"].search(
            [
                ("model", "=", "coop.sale.cycle"),
                ("res_id", "=", cycle.id),
                ("subtype_id", "=", subtype.id),
            ],
            order="id",
        )
