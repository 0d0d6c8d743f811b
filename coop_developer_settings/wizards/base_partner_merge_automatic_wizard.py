# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import models


class BasePartnerMergeAutomaticWizard(models.TransientModel):
    _inherit = "base.partner.merge.automatic.wizard"

    def _get_fk_on(self, table):
        """Leave the buyer list out of the merge's SQL rewrite of references.

        The merge moves the orders with SQL; the triggers then refresh both
        customers' buyers. Rewriting ``coop_buyer.partner_id`` too would
        collide with the destination's buyer, and the merge would delete the
        source's buyer instead of leaving it removed (a tombstone the
        synchronising tools must see).
        """
        buyer_table = self.env["coop.buyer"]._table
        return [
            (table_name, column)
            for table_name, column in super()._get_fk_on(table)
            if table_name != buyer_table
        ]
