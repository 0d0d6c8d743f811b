"""The buyer table's life in a real database, from outside.

One database with the addon: the upgrade from the SQL view of earlier
versions, the buyer API and the JSON-2 API on a server with several
databases (the addon loaded server-wide, the database named in a header),
and an uninstall that leaves no trigger or function behind. The tests run
in this order on it.
"""

import os
import re
import secrets
import subprocess
import time

import psycopg2
import pytest
import requests
from buyer_reference import REFERENCE_QUERY  # the addon tests' reference
from harness import ADDON, DEV_LOGS, OdooCli, template

# The triggers, their functions, and the indexes on sale_order of the addon.
MAINTENANCE = (
    "SELECT (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'coop_buyer%'),"
    " (SELECT count(*) FROM pg_proc WHERE proname LIKE 'coop_buyer%'),"
    " (SELECT count(*) FROM pg_class WHERE relname LIKE 'coop_buyer_sale_order%')"
)


@pytest.fixture(scope="module")
def buyers_cli(odoo_env):
    cli = OdooCli(odoo_env, f"coop_buyers_{secrets.token_hex(4)}")
    cli.copy(template(odoo_env, demo=False))
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
        "DROP FUNCTION coop_buyer_refresh(integer[], integer[], boolean);"
        "DROP INDEX coop_buyer_sale_order_cycle_index;"
        "DROP INDEX coop_buyer_sale_order_pair_covering_index;"
        "DROP TABLE coop_buyer CASCADE;"
        f"CREATE VIEW coop_buyer AS ({REFERENCE_QUERY});"
        "COMMIT;",
    )
    returncode, log = buyers_cli.run("-u", ADDON, "--stop-after-init")
    assert returncode == 0, log[-3000:]
    assert query(
        connect, db, "SELECT relkind FROM pg_class WHERE relname = 'coop_buyer'"
    ) == [("r",)]
    assert query(connect, db, MAINTENANCE) == [(7, 4, 2)]
    assert query(connect, db, "SELECT name, order_count, active FROM coop_buyer") == [
        ("Ann", 2, True)
    ]


def get(url, **headers):
    return requests.get(url, headers=headers, timeout=120)


def test_the_api_on_a_server_with_several_databases(buyers_cli, connect, odoo_env):
    db = buyers_cli.db_name
    out = buyers_cli.shell(
        "import datetime\n"
        "admin = env.ref('base.user_admin')\n"
        "key = env['res.users.apikeys'].with_user(admin)._generate("
        "None, 'Multi', datetime.datetime.now() + datetime.timedelta(days=1))\n"
        "print('KEY=' + key)\n"
    )
    key = re.search(r"KEY=(\w+)", out).group(1)
    other = f"{db}_other"
    query(connect, "postgres", f'CREATE DATABASE "{other}"')
    # No dbfilter, the addon loaded server-wide: Odoo routes requests that
    # name no database to the API, which answers them.
    log = open(DEV_LOGS / f"{db}-multi.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [
            buyers_cli.bin,
            "-c",
            buyers_cli.config,
            "--load",
            f"base,web,queue_job,{ADDON}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        # No job runner: without a database of its own, it would run the jobs
        # of every database of the server (the Odoo tests' run beside).
        env=dict(os.environ, ODOO_QUEUE_JOB_CHANNELS="root:0"),
    )
    url = f"http://127.0.0.1:{buyers_cli.http_port}/coop/api/v1/buyers"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                answer = get(url)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.5)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "database_required"
        assert "X-Odoo-Database" in answer.json()["message"]

        answer = get(url, **{"X-Odoo-Database": "coop_no_such_db"})
        assert (answer.status_code, answer.json()["error"]) == (
            404,
            "database_not_found",
        )

        answer = get(url, **{"X-Odoo-Database": db, "Authorization": f"Bearer {key}"})
        assert answer.status_code == 200, answer.text
        assert [row["name"] for row in answer.json()["data"]] == ["Ann"]
        assert "session_id" not in answer.cookies

        answer = requests.options(url, timeout=30)
        assert (answer.status_code, answer.content) == (204, b"")

        answer = get(url.replace("buyers", "buyer"))
        assert (answer.status_code, answer.json()["error"]) == (404, "not_found")

        # Odoo 19's JSON-2 API, in the database the same header names.
        json2 = url.replace("/coop/api/v1/buyers", "/json/2/coop.buyer/search_read")

        def post(**headers):
            body = {"domain": [], "fields": ["name"]}
            return requests.post(json2, json=body, headers=headers, timeout=120)

        answer = post()
        assert answer.status_code == 400, answer.text
        assert "X-Odoo-Database" in answer.json()["message"]
        answer = post(**{"X-Odoo-Database": "coop_no_such_db"})
        assert answer.status_code == 404, answer.text
        assert answer.json()["name"] == "werkzeug.exceptions.NotFound"
        answer = post(**{"X-Odoo-Database": db, "Authorization": f"bearer {key}"})
        assert answer.status_code == 200, answer.text
        assert [row["name"] for row in answer.json()] == ["Ann"]
        assert "session_id" not in answer.cookies
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        query(connect, "postgres", f'DROP DATABASE IF EXISTS "{other}"')


def test_uninstall_leaves_no_trigger_nor_function(buyers_cli, connect):
    db = buyers_cli.db_name
    buyers_cli.shell(
        f"env['ir.module.module'].search([('name', '=', '{ADDON}')])"
        ".button_immediate_uninstall()\n"
    )
    assert query(connect, db, MAINTENANCE) == [(0, 0, 0)]
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
