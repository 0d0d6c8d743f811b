# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The query parameters of the list APIs (buyers, sale cycles): strings
from the query string, or JSON values over RPC; a bad one is a 400 answer."""

import re
from datetime import datetime, timezone

from odoo import models
from odoo.exceptions import UserError

from ..webhook.schemas import DEFAULT_PAGE_LIMIT, MAX_ID, MAX_PAGE_LIMIT

WHOLE_NUMBER = re.compile(r"[0-9]{1,10}")


class BuyerListError(UserError):
    """A bad request to a list API (buyers, sale cycles); the HTTP API
    answers it as JSON, with the status of its code (webhook/schemas.py's
    ERROR_STATUSES)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class CoopApiParameters(models.AbstractModel):
    """Parsers of the list APIs' parameters, for the models they list."""

    _name = "coop.api.parameters"
    _description = "List API parameters"

    def _bad_parameter(self, message):
        return BuyerListError("invalid_parameter", message)

    def _check_known_parameters(self, params, known):
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise self._bad_parameter(
                self.env._(
                    "Unknown parameter %(names)s; use %(known)s.",
                    names=", ".join(unknown),
                    known=", ".join(known),
                )
            )

    def _parse_limit(self, params):
        return self._parse_whole_number(
            params, "limit", 1, MAX_PAGE_LIMIT, default=DEFAULT_PAGE_LIMIT
        )

    def _parse_company_id(self, params):
        """The company_id filter: one of the user's shops, or None."""
        company_id = self._parse_whole_number(params, "company_id", 1, MAX_ID)
        if company_id and company_id not in self.env.user._get_company_ids():
            raise BuyerListError(
                "company_forbidden",
                self.env._("You are not allowed on company %(id)s.", id=company_id),
            )
        return company_id

    def _parse_whole_number(self, params, name, minimum, maximum, default=None):
        raw = params.get(name)
        if raw in (None, "", False):
            return default
        if isinstance(raw, bool) or not WHOLE_NUMBER.fullmatch(str(raw)):
            value = None
        else:
            value = int(raw)
        if value is None or not minimum <= value <= maximum:
            bounds = f"{minimum}..{maximum}"
            raise self._bad_parameter(
                self.env._(
                    "%(name)s must be a whole number (%(bounds)s).",
                    name=name,
                    bounds=bounds,
                )
            )
        return value

    def _parse_datetime(self, params, name):
        raw = params.get(name)
        if raw in (None, "", False):
            return None
        try:
            value = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
            if value.tzinfo:  # Odoo stores naive UTC
                value = value.astimezone(timezone.utc).replace(tzinfo=None)
        except (ValueError, OverflowError):
            raise self._bad_parameter(
                self.env._(
                    "%(name)s must be an ISO-8601 date-time, "
                    "e.g. 2026-11-28T08:00:00Z.",
                    name=name,
                )
            ) from None
        return value

    def _parse_bool(self, params, name):
        raw = params.get(name)
        if isinstance(raw, bool):
            return raw
        raw = str(raw or "false").lower()
        if raw not in ("true", "false", "1", "0"):
            raise self._bad_parameter(
                self.env._("%(name)s must be true or false.", name=name)
            )
        return raw in ("true", "1")
