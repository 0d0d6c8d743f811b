# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Indexes whose definition follows the code across upgrades.

Odoo's ``create_index`` skips a name that exists: a partial index would keep
the condition of the release that created it. This one writes its
definition in the index's comment, and creates the index again when the
definition the code asks for is another.
"""

from odoo.tools import SQL
from odoo.tools import sql as sql_tools


def ensure_index(cr, name, table, expressions, where=""):
    definition = f"{table} ({', '.join(expressions)})" + (
        f" WHERE {where}" if where else ""
    )
    cr.execute(SQL("SELECT obj_description(to_regclass(%s), 'pg_class')", name))
    if cr.fetchone()[0] == definition:
        return
    sql_tools.drop_index(cr, name, table)
    sql_tools.create_index(cr, name, table, expressions, where=where)
    cr.execute(SQL("COMMENT ON INDEX %s IS %s", SQL.identifier(name), definition))
