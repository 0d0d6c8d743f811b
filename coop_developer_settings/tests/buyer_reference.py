# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The buyer list recomputed from scratch: the reference of the tests.

This is the SQL view ``coop.buyer`` was before it became a table (no Odoo
import: the benchmarks create it as their baseline). Its ``id`` (the pair's
first order) and ``updated_at`` (any write to an order or the customer) are
not the table's; the tests compare the other columns. The previous address
(previous_email) is history, which no recomputation has: the property test
checks it step by step.
"""

REFERENCE_QUERY = """
    SELECT MIN(so.id) AS id,
           so.company_id,
           so.partner_id,
           p.name,
           p.email,
           p.email_normalized,
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
"""

# The columns both compute the same way.
COMPARED_COLUMNS = (
    "company_id",
    "partner_id",
    "name",
    "email",
    "email_normalized",
    "phone",
    "first_order_date",
    "last_order_date",
    "order_count",
    "last_cycle_id",
    "opt_out",
)
