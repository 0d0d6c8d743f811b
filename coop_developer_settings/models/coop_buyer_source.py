# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import models


class CoopBuyerSource(models.AbstractModel):
    """What the buyer list is computed from (orders, customers, blacklist).

    Writing these rows in SQL fires the triggers that change ``coop_buyer``
    rows behind the ORM: the buyers cached in this transaction are stale
    then, and forgotten.
    """

    _name = "coop.buyer.source"
    _description = "Source of the buyer list"

    def _create(self, data_list):
        records = super()._create(data_list)
        self.env["coop.buyer"].invalidate_model()
        return records

    def _write_multi(self, vals_list):
        result = super()._write_multi(vals_list)
        self.env["coop.buyer"].invalidate_model()
        return result

    def unlink(self):
        result = super().unlink()
        self.env["coop.buyer"].invalidate_model()
        return result
