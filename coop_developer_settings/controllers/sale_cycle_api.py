# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""GET /coop/api/v1/sale-cycles: the cycles of the key user's shops, so that
a tool can offer "pick a cycle" (e.g. for the buyer list's cycle_id).

Read with the buyer list's key (the cycle is its filter; a cycle holds no
personal data) or a full-account key. The listing itself is
``coop.sale.cycle._cycle_page()``.
"""

from odoo import http

from ..models.res_users_apikeys import SCOPE_BUYERS
from ..webhook.schemas import PREFIX, SALE_CYCLE_PAGE_PARAMETERS
from .api_auth import ROUTE, dispatch, json_response


class SaleCycleApi(http.Controller):
    @http.route(f"{PREFIX}/sale-cycles", **ROUTE)
    def sale_cycles(self, **params):
        page_params = {
            name: params[name] for name in SALE_CYCLE_PAGE_PARAMETERS if name in params
        }
        return dispatch({"GET": self._sale_cycles}, SCOPE_BUYERS, page_params)

    def _sale_cycles(self, env, params):
        return json_response(env["coop.sale.cycle"]._cycle_page(**params))
