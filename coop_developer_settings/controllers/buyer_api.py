# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""GET /coop/api/v1/buyers: the buyer list, for newsletter tools.

Authenticated and answered as every route of /coop/api/v1 (api_auth.py): a
full-account key or one that reads the buyer list, JSON errors. The listing
itself is ``coop.buyer._buyer_page()``; RPC clients call it as
``buyer_page``.
"""

from odoo import http

from ..models.res_users_apikeys import SCOPE_BUYERS
from ..webhook.schemas import BUYER_PAGE_PARAMETERS
from .api_auth import ROUTE, dispatch, json_response


class BuyerApi(http.Controller):
    @http.route("/coop/api/v1/buyers", **ROUTE)
    def buyers(self, **params):
        page_params = {
            name: params[name] for name in BUYER_PAGE_PARAMETERS if name in params
        }
        return dispatch({"GET": self._buyers}, SCOPE_BUYERS, page_params)

    def _buyers(self, env, params):
        return json_response(env["coop.buyer"]._buyer_page(**params))
