"""The buyer table's life in a real database, from outside.

One database with the addon: the upgrade from the SQL view of earlier
versions, and an uninstall that leaves no trigger or function behind. The
tests run in this order on it.
"""

import secrets

import psycopg2
import pytest
from buyer_reference import REFERENCE_QUERY  # the addon tests' reference
from harness import ADDON, OdooCli

# The triggers and their functions.
MAINTENANCE = (
    "SELECT (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'coop_buyer%'),"
    " (SELECT count(*) FROM pg_proc WHERE proname LIKE 'coop_buyer%')"
)


@pytest.fixture(scope="module")
def buyers_cli(odoo_env):
    cli = OdooCli(odoo_env, f"coop_buyers_{secrets.token_hex(4)}")
    returncode, log = cli.run("-i", ADDON, "--stop-after-init", "--without-demo=all")
    assert returncode == 0, log[-3000:]
    yield cli
    cli.drop()


@pytest.fixture(scope="module")
def connect(odoo_env):
    db = odoo_env["db"]

    def connect(dbname):
        return psycopg2.connect(
            dbname=dbname,
            host=db.get("db_host"),
            port=db.get("db_port"),
            user=db.get("db_user"),
            password=db.get("db_password"),
        )

    return connect


def query(connect, dbname, sql):
    connection = connect(dbname)
    connection.autocommit = True
    try:
        with connection.cursor() as cr:
            cr.execute(sql)
            return cr.fetchall() if cr.description else None
    finally:
        connection.close()


def test_upgrade_turns_the_view_into_a_filled_table(buyers_cli, connect):
    db = buyers_cli.db_name
    buyers_cli.shell(
        "partner = env['res.partner'].create("
        "{'name': 'Ann', 'email': 'a@example.org'})\n"
        "for _n in range(2):\n"
        "    env['sale.order'].create({'partner_id': partner.id}).action_confirm()\n"
    )
    # The database as the previous version left it: a view, no triggers.
    query(
        connect,
        db,
        "BEGIN;"
        "DROP FUNCTION coop_buyer_on_sale_order() CASCADE;"
        "DROP FUNCTION coop_buyer_on_res_partner() CASCADE;"
        "DROP FUNCTION coop_buyer_on_mail_blacklist() CASCADE;"
        "DROP FUNCTION coop_buyer_refresh(integer[], integer[]);"
        "DROP TABLE coop_buyer CASCADE;"
        f"CREATE VIEW coop_buyer AS ({REFERENCE_QUERY});"
        "COMMIT;",
    )
    returncode, log = buyers_cli.run("-u", ADDON, "--stop-after-init")
    assert returncode == 0, log[-3000:]
    assert query(
        connect, db, "SELECT relkind FROM pg_class WHERE relname = 'coop_buyer'"
    ) == [("r",)]
    assert query(connect, db, MAINTENANCE) == [(7, 4)]
    assert query(connect, db, "SELECT name, order_count, active FROM coop_buyer") == [
        ("Ann", 2, True)
    ]


def test_uninstall_leaves_no_trigger_nor_function(buyers_cli, connect):
    db = buyers_cli.db_name
    buyers_cli.shell(
        f"env['ir.module.module'].search([('name', '=', '{ADDON}')])"
        ".button_immediate_uninstall()\n"
    )
    assert query(connect, db, MAINTENANCE) == [(0, 0)]
    assert query(connect, db, "SELECT to_regclass('coop_buyer')") == [(None,)]
    # Orders, customers and the blacklist still work without the addon.
    out = buyers_cli.shell(
        "partner = env['res.partner'].create("
        "{'name': 'Bea', 'email': 'b@example.org'})\n"
        "env['sale.order'].create({'partner_id': partner.id}).action_confirm()\n"
        "partner.write({'name': 'Bea B', 'email': 'bb@example.org'})\n"
        "env['mail.blacklist']._add('bb@example.org')\n"
        "env.flush_all()\n"
        "print('WRITES=ok')\n"
    )
    assert "WRITES=ok" in out
