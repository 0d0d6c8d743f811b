# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models, tools
from odoo.tools import SQL


class CoopBuyer(models.Model):
    """One row per shop (company) and customer with a confirmed order.

    The list newsletter tools import; read-only, a view over the orders.
    """

    _name = "coop.buyer"
    _description = "Buyer"
    _auto = False
    _order = "id"
    _rec_name = "name"

    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    name = fields.Char(readonly=True)
    email = fields.Char(readonly=True)
    phone = fields.Char(readonly=True)
    company_id = fields.Many2one("res.company", string="Shop", readonly=True)
    first_order_date = fields.Datetime(string="First order", readonly=True)
    last_order_date = fields.Datetime(string="Last order", readonly=True)
    order_count = fields.Integer(string="Number of orders", readonly=True)
    last_cycle_id = fields.Many2one(
        "coop.sale.cycle", string="Last sale cycle", readonly=True
    )
    opt_out = fields.Boolean(
        string="Opted out",
        readonly=True,
        help="The email address is on Odoo's mailing blacklist.",
    )
    updated_at = fields.Datetime(
        string="Updated at",
        readonly=True,
        help="Last change of the customer or of their orders: what a "
        "synchronisation asks for with updated_since.",
    )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        # id: the first order of the (shop, customer) pair is unique and stable.
        self.env.cr.execute(
            SQL(
                """
            CREATE VIEW %s AS (
                SELECT MIN(so.id) AS id,
                       so.company_id,
                       so.partner_id,
                       p.name,
                       p.email,
                       p.phone,
                       MIN(so.date_order) AS first_order_date,
                       MAX(so.date_order) AS last_order_date,
                       COUNT(*) AS order_count,
                       (ARRAY_AGG(so.sale_cycle_id
                                  ORDER BY so.date_order DESC, so.id DESC)
                            FILTER (WHERE so.sale_cycle_id IS NOT NULL))[1]
                           AS last_cycle_id,
                       EXISTS (
                           SELECT 1 FROM mail_blacklist bl
                            WHERE bl.active AND bl.email = p.email_normalized
                       ) AS opt_out,
                       GREATEST(MAX(so.write_date), p.write_date) AS updated_at
                  FROM sale_order so
                  JOIN res_partner p ON p.id = so.partner_id
                 WHERE so.state = 'sale'
                 GROUP BY so.company_id, so.partner_id, p.id
            )
            """,
                SQL.identifier(self._table),
            )
        )
