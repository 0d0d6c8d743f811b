# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class SaleOrder(models.Model):
    _name = "sale.order"
    _inherit = ["sale.order", "coop.buyer.source"]

    sale_cycle_id = fields.Many2one(
        "coop.sale.cycle",
        string="Sale cycle",
        index="btree_not_null",
        copy=False,
        check_company=True,
        tracking=True,
        help="The sale cycle this order belongs to. An order confirmed while "
        "its shop has an open cycle is attached to it.",
    )

    def _action_confirm(self):
        self._attach_to_open_sale_cycle()
        return super()._action_confirm()

    def _attach_to_open_sale_cycle(self):
        orders = self.filtered(lambda order: not order.sale_cycle_id)
        if not orders:
            return
        # One query for all the companies; the most recently opened cycle wins.
        # sudo: a buyer confirming on the website cannot read the cycles.
        cycles = (
            self.env["coop.sale.cycle"]
            .sudo()
            .search(
                [("state", "=", "open"), ("company_id", "in", orders.company_id.ids)],
                order="opened_at, id",
            )
        )
        open_cycle_of = {cycle.company_id: cycle for cycle in cycles}
        for order in orders:
            cycle = open_cycle_of.get(order.company_id)
            if cycle:
                order.sale_cycle_id = cycle.id
