# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The SQL that keeps the ``coop_buyer`` table current.

PostgreSQL triggers on the tables the buyer list is computed from
(``sale_order``, ``res_partner``, ``mail_blacklist``) refresh the rows of the
(shop, customer) pairs a statement touched, in the statement's transaction:
the ORM, raw SQL (the partner merge wizard rewrites ``sale_order.partner_id``
with SQL) and imports are all seen. The triggers are statement-level with
transition tables, so confirming 1 000 orders in one UPDATE is one refresh of
1 000 pairs, not 1 000 function calls.

One statement template computes a buyer from the orders; it serves the
refresh of the triggers and the rebuild of the whole table (install,
upgrade, the *Rebuild* button).
"""

TABLE = "coop_buyer"

# On sale_order, for the API's cycle filter.
CYCLE_INDEX = "coop_buyer_sale_order_cycle_index"
# On sale_order, the refresh's look-up of a (shop, customer) pair's confirmed
# orders: it holds every column of the look-up's condition, so that the
# planner has an index starting with the customer that beats the others
# even without statistics. On a table never analysed (a fresh install
# loading its order history) it could not tell the other indexes apart and
# the refresh's generic plan scanned, per pair, the whole cycle index (whose
# leading column the look-up does not give) or the state index. It also
# holds what the refresh computes from the orders: the refresh reads a
# buyer's orders in one index page (an index-only scan, once vacuum has
# marked their heap pages), not one heap page per order.
PAIR_INDEX = "coop_buyer_sale_order_pair_covering_index"
PAIR_INDEX_DEFINITION = (
    "(partner_id, company_id) INCLUDE (date_order, sale_cycle_id, id)"
    " WHERE state = 'sale'"
)
# The same index without the computed columns, as development versions of
# 18.0.1.2.0 made it: replaced on upgrade.
FORMER_PAIR_INDEX = "coop_buyer_sale_order_pair_index"

# Requires xid8, pg_current_xact_id() (PostgreSQL 13).
MIN_SERVER_VERSION = 130000

# The columns copied from the customer and computed from the orders: a row
# whose values change gets new stamps (updated_at, write_xid).
CONTENT_COLUMNS = (
    "name",
    "email",
    "email_normalized",
    "phone",
    "first_order_date",
    "last_order_date",
    "order_count",
    "last_cycle_id",
    "opt_out",
    "active",
)

# The buyer's one address, as the API gives it (email_normalized): the
# customer's normalized address when the field holds exactly one "@", NULL
# when it holds none or several ("a@x.org, b@x.org"): a tool keyed by
# address then has no address to pick for them.
SINGLE_ADDRESS = (
    "CASE WHEN {row}.email ~ '^[^@]*@[^@]*$' THEN {row}.email_normalized END"
)

AGGREGATE = """
    SELECT so.company_id,
           so.partner_id,
           MIN(so.date_order) AS first_order_date,
           MAX(so.date_order) AS last_order_date,
           COUNT(*) AS order_count,
           (ARRAY_AGG(so.sale_cycle_id ORDER BY so.date_order DESC, so.id DESC)
                FILTER (WHERE so.sale_cycle_id IS NOT NULL))[1] AS last_cycle_id
           {last_write_date}
      FROM {orders}
     WHERE so.state = 'sale'
     GROUP BY so.company_id, so.partner_id
"""

_CHANGED = "({old}) IS DISTINCT FROM ({new})".format(
    old=", ".join(f"b.{column}" for column in CONTENT_COLUMNS),
    new=", ".join(f"EXCLUDED.{column}" for column in CONTENT_COLUMNS),
)

# Rows are written in (partner, shop) order: two transactions refreshing the
# same pairs lock them in the same order.
UPSERT = """
    INSERT INTO coop_buyer AS b (
        company_id, partner_id, {columns}, updated_at, write_xid
    )
    SELECT agg.company_id,
           agg.partner_id,
           p.name,
           p.email,
           p.email_normalized,
           p.phone,
           agg.first_order_date,
           agg.last_order_date,
           agg.order_count,
           agg.last_cycle_id,
           -- The address's one entry (unique), probed per buyer: an
           -- EXISTS could be planned as a hash of the whole blacklist,
           -- built at each refresh of a few buyers.
           COALESCE((
               SELECT bl.active FROM mail_blacklist bl
                WHERE bl.email = p.email_normalized
           ), FALSE),
           TRUE,
           {inserted_at},
           pg_current_xact_id()
      FROM ({aggregate}) AS agg
      JOIN res_partner p ON p.id = agg.partner_id
     ORDER BY agg.partner_id, agg.company_id
        ON CONFLICT (partner_id, company_id) DO UPDATE
       SET ({columns}) = ({excluded}),
           updated_at = CASE WHEN {changed}
                             THEN now() AT TIME ZONE 'UTC' ELSE b.updated_at END,
           write_xid = CASE WHEN {changed}
                            THEN EXCLUDED.write_xid ELSE b.write_xid END,
           -- The address before the last change of the buyer's address.
           previous_email = CASE WHEN {address_changed}
                                 THEN {old_address} ELSE b.previous_email END,
           email_changed_at = CASE WHEN {address_changed}
                                   THEN now() AT TIME ZONE 'UTC'
                                   ELSE b.email_changed_at END,
           email_changed_xid = CASE WHEN {address_changed}
                                    THEN EXCLUDED.write_xid
                                    ELSE b.email_changed_xid END
     {only_changed}
    {returning}
"""

# A buyer without any confirmed order left in the shop stays as a tombstone
# (active = FALSE) with its last name and email, so that a synchronising tool
# learns of the removal. Tombstones are left alone by the customer's later
# changes; an order confirmed again revives the same row (same id).
TOMBSTONE = """
    UPDATE coop_buyer AS b
       SET active = FALSE,
           order_count = 0,
           first_order_date = NULL,
           last_order_date = NULL,
           last_cycle_id = NULL,
           updated_at = now() AT TIME ZONE 'UTC',
           write_xid = pg_current_xact_id()
     WHERE b.active
       AND {without_orders}
"""


def upsert(orders, inserted_at, only_changed, returning="", last_write_date=False):
    """The upsert of the buyers of ``orders``; ``last_write_date``: the
    aggregate also gives the last change of their orders (a column the
    refresh's index does not hold)."""
    return UPSERT.format(
        columns=", ".join(CONTENT_COLUMNS),
        excluded=", ".join(f"EXCLUDED.{column}" for column in CONTENT_COLUMNS),
        changed=_CHANGED,
        old_address=SINGLE_ADDRESS.format(row="b"),
        address_changed="({}) IS DISTINCT FROM ({})".format(
            SINGLE_ADDRESS.format(row="b"), SINGLE_ADDRESS.format(row="EXCLUDED")
        ),
        inserted_at=inserted_at,
        aggregate=AGGREGATE.format(
            orders=orders,
            last_write_date=", MAX(so.write_date) AS last_write_date"
            if last_write_date
            else "",
        ),
        only_changed=f"WHERE {_CHANGED}" if only_changed else "",
        returning=returning,
    )


# The rebuild writes only the rows that differ (a repair must not make every
# buyer look changed to the synchronising tools). A buyer it adds takes the
# date of the last change of its orders or customer, as the SQL view of
# earlier versions computed it: the first sync after an upgrade then returns
# what changed, not the whole list again.
REBUILD_UPSERT = upsert(
    "sale_order so",
    inserted_at="COALESCE(GREATEST(agg.last_write_date, p.write_date), "
    "now() AT TIME ZONE 'UTC')",
    only_changed=True,
    returning="RETURNING (b.xmax = 0) AS inserted",
    last_write_date=True,
)
REBUILD_TOMBSTONE = TOMBSTONE.format(
    without_orders="""NOT EXISTS (
           SELECT 1 FROM sale_order so
            WHERE so.partner_id = b.partner_id
              AND so.company_id = b.company_id
              AND so.state = 'sale'
       )"""
)

# The pairs given to the refresh, once each (an order counted twice would be).
PAIRS = (
    "(SELECT DISTINCT company_id, partner_id"
    " FROM unnest(company_ids, partner_ids) AS given(company_id, partner_id))"
)

# The refresh of the triggers always writes the rows of its pairs, changed or
# not (the stamps move only on a change): in REPEATABLE READ, Odoo's level,
# two transactions refreshing one buyer then conflict, and the later one is
# retried with a snapshot that sees the other's orders. In READ COMMITTED
# (psql sessions), statements see each other's commits but a refresh
# computed before waiting for a concurrent one would still be stale: the
# refresh waits for the other writers of the table first, then computes.
#
# The functions' statements keep one generic plan (the best one for any
# number of pairs: index look-ups per pair) instead of being planned again at
# each call, which costs more than running them for a few pairs.
REFRESH_ORDERS = (
    f"{PAIRS} AS pair JOIN sale_order so ON so.company_id = pair.company_id "
    "AND so.partner_id = pair.partner_id"
)
REFRESH_UPSERT = upsert(
    REFRESH_ORDERS, inserted_at="now() AT TIME ZONE 'UTC'", only_changed=False
)
# Only an order's update or deletion can take a pair's last confirmed order
# away. The pairs the upsert did not write are then those without a
# confirmed order left: the removals take the given pairs but those the
# upsert returns (a set difference, whatever the number of pairs), not a
# look-up of the orders again (which, on a table without statistics, the
# planner may make a scan of another index per pair).
REFRESH_UPSERT_AND_REMOVALS = "WITH refreshed AS ({upsert})\n{tombstone}".format(
    upsert=upsert(
        REFRESH_ORDERS,
        inserted_at="now() AT TIME ZONE 'UTC'",
        only_changed=False,
        returning="RETURNING b.company_id, b.partner_id",
    ),
    tombstone=TOMBSTONE.format(
        without_orders="(b.company_id, b.partner_id) IN ("
        "SELECT company_id, partner_id"
        " FROM unnest(company_ids, partner_ids) AS given(company_id, partner_id)"
        " EXCEPT SELECT company_id, partner_id FROM refreshed)"
    ),
)
REFRESH_FUNCTION = f"""
CREATE OR REPLACE FUNCTION coop_buyer_refresh(
    company_ids integer[], partner_ids integer[], removals boolean
) RETURNS void LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $fn$
BEGIN
    IF current_setting('transaction_isolation') = 'read committed' THEN
        LOCK TABLE coop_buyer IN SHARE ROW EXCLUSIVE MODE;
    END IF;
    IF removals THEN
        {REFRESH_UPSERT_AND_REMOVALS};
    ELSE
        {REFRESH_UPSERT};
    END IF;
END
$fn$;
"""
# The refresh of earlier versions, without the removals argument: dropped on
# upgrade, so that no older twin stays behind the triggers' back.
FORMER_REFRESH_FUNCTION = "coop_buyer_refresh(integer[], integer[])"


def trigger_function(name, collect, declare="", removals="FALSE"):
    """A trigger function: ``collect`` puts in company_ids and partner_ids
    the (shop, customer) pairs its statement may have changed, which are then
    refreshed; when the SQL condition ``removals`` holds, those left without
    a confirmed order are removed."""
    return f"""
CREATE OR REPLACE FUNCTION {name}()
RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    company_ids integer[];
    partner_ids integer[];{declare}
BEGIN{collect}
    IF company_ids IS NOT NULL THEN
        PERFORM coop_buyer_refresh(company_ids, partner_ids, {removals});
    END IF;
    RETURN NULL;
END
$fn$;
"""


SALE_ORDER_FUNCTION = trigger_function(
    "coop_buyer_on_sale_order",
    """
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(company_id), array_agg(partner_id)
          INTO company_ids, partner_ids
          FROM new_orders WHERE state = 'sale';
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(company_id), array_agg(partner_id)
          INTO company_ids, partner_ids
          FROM old_orders WHERE state = 'sale';
    ELSE
        -- Both the pair an order leaves and the one it joins.
        SELECT array_agg(pair.company_id), array_agg(pair.partner_id)
          INTO company_ids, partner_ids
          FROM old_orders o
          JOIN new_orders n ON n.id = o.id
         CROSS JOIN LATERAL (VALUES (o.company_id, o.partner_id, o.state),
                                    (n.company_id, n.partner_id, n.state))
               AS pair(company_id, partner_id, state)
         WHERE pair.state = 'sale'
           AND (o.state, o.company_id, o.partner_id, o.date_order, o.sale_cycle_id)
               IS DISTINCT FROM
               (n.state, n.company_id, n.partner_id, n.date_order, n.sale_cycle_id);
    END IF;""",
    removals="TG_OP <> 'INSERT'",
)

# A removed buyer keeps the customer's data of the day it was removed.
RES_PARTNER_FUNCTION = trigger_function(
    "coop_buyer_on_res_partner",
    """
    SELECT array_agg(b.company_id), array_agg(b.partner_id)
      INTO company_ids, partner_ids
      FROM old_partners o
      JOIN new_partners n ON n.id = o.id
      JOIN coop_buyer b ON b.partner_id = n.id AND b.active
     WHERE (o.name, o.email, o.email_normalized, o.phone)
           IS DISTINCT FROM (n.name, n.email, n.email_normalized, n.phone);""",
)

MAIL_BLACKLIST_FUNCTION = trigger_function(
    "coop_buyer_on_mail_blacklist",
    """
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(email) INTO emails FROM new_entries;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(email) INTO emails FROM old_entries;
    ELSE
        SELECT array_agg(changed.email) INTO emails
          FROM old_entries o
          JOIN new_entries n ON n.id = o.id
         CROSS JOIN LATERAL (VALUES (o.email), (n.email)) AS changed(email)
         WHERE (o.email, o.active) IS DISTINCT FROM (n.email, n.active);
    END IF;
    SELECT array_agg(b.company_id), array_agg(b.partner_id)
      INTO company_ids, partner_ids
      FROM coop_buyer b
     WHERE b.active AND b.email_normalized = ANY (emails);""",
    declare="\n    emails varchar[];",
)

# (trigger, table, event, transition tables, function)
TRIGGERS = (
    (
        "coop_buyer_sale_order_insert",
        "sale_order",
        "INSERT",
        "NEW TABLE AS new_orders",
        "coop_buyer_on_sale_order",
    ),
    (
        "coop_buyer_sale_order_update",
        "sale_order",
        "UPDATE",
        "OLD TABLE AS old_orders NEW TABLE AS new_orders",
        "coop_buyer_on_sale_order",
    ),
    (
        "coop_buyer_sale_order_delete",
        "sale_order",
        "DELETE",
        "OLD TABLE AS old_orders",
        "coop_buyer_on_sale_order",
    ),
    (
        "coop_buyer_res_partner_update",
        "res_partner",
        "UPDATE",
        "OLD TABLE AS old_partners NEW TABLE AS new_partners",
        "coop_buyer_on_res_partner",
    ),
    (
        "coop_buyer_mail_blacklist_insert",
        "mail_blacklist",
        "INSERT",
        "NEW TABLE AS new_entries",
        "coop_buyer_on_mail_blacklist",
    ),
    (
        "coop_buyer_mail_blacklist_update",
        "mail_blacklist",
        "UPDATE",
        "OLD TABLE AS old_entries NEW TABLE AS new_entries",
        "coop_buyer_on_mail_blacklist",
    ),
    (
        "coop_buyer_mail_blacklist_delete",
        "mail_blacklist",
        "DELETE",
        "OLD TABLE AS old_entries",
        "coop_buyer_on_mail_blacklist",
    ),
)

FUNCTIONS = (
    REFRESH_FUNCTION,
    SALE_ORDER_FUNCTION,
    RES_PARTNER_FUNCTION,
    MAIL_BLACKLIST_FUNCTION,
)


def create_triggers():
    """DROP/CREATE statements of the triggers (CREATE OR REPLACE TRIGGER
    needs PostgreSQL 14)."""
    return "\n".join(
        f"DROP TRIGGER IF EXISTS {name} ON {table};\n"
        f"CREATE TRIGGER {name} AFTER {event} ON {table} "
        f"REFERENCING {transitions} FOR EACH STATEMENT EXECUTE FUNCTION {function}();"
        for name, table, event, transitions, function in TRIGGERS
    )


# Dropping the trigger functions drops their triggers (CASCADE).
DROP_ALL = f"""
DROP INDEX IF EXISTS {CYCLE_INDEX};
DROP INDEX IF EXISTS {PAIR_INDEX};
DROP FUNCTION IF EXISTS coop_buyer_on_sale_order() CASCADE;
DROP FUNCTION IF EXISTS coop_buyer_on_res_partner() CASCADE;
DROP FUNCTION IF EXISTS coop_buyer_on_mail_blacklist() CASCADE;
DROP FUNCTION IF EXISTS coop_buyer_refresh(integer[], integer[], boolean);
"""
