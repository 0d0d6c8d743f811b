"""Clients written for Odoo 19's JSON-2 API, against this Odoo 18 server.

n8n 2.x's Odoo node with its default credential ("Odoo API (API Key)"): the
requests its credential test and its operations send, replayed byte for
byte (its transport posts JSON.stringify of the body, with the credential's
"bearer" header and X-Odoo-Database); odoo-client-lib's json2 protocol, as
the README shows it; and the README's
n8n Code node, run with Node.js on a real signed delivery.
"""

import base64
import http.client
import json
import shutil
import subprocess
import textwrap

import pytest
import requests
from harness import GROUP_XMLID, WebClient, readme_code_block, wait_for
from receiver import Receiver

LOGIN = "json2-n8n"


@pytest.fixture(scope="module")
def n8n_key(odoo_server, admin):
    """The full-account key, generated in the tab, of a salesman of the main
    shop with the Developer settings access."""
    admin(
        "res.users",
        "create",
        {
            "name": "n8n",
            "login": LOGIN,
            "password": f"{LOGIN}-pw",
            "groups_id": [
                (
                    6,
                    0,
                    [
                        admin.ref("sales_team.group_sale_salesman"),
                        admin.ref(GROUP_XMLID),
                    ],
                )
            ],
        },
    )
    web = WebClient(odoo_server, LOGIN, f"{LOGIN}-pw")
    return web.generate_api_key("n8n", f"{LOGIN}-pw")["default_key"]


def n8n_request(server, key, model, method, body, database=None):
    """One request as n8n's Odoo node sends it: POST, its headers, and the
    body as JavaScript's JSON.stringify writes it (no spaces)."""
    connection = http.client.HTTPConnection(server.url.split("//")[1], timeout=60)
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    connection.putrequest(
        "POST", f"/json/2/{model}/{method}", skip_accept_encoding=True
    )
    for name, value in (
        ("Content-Type", "application/json"),
        ("X-Odoo-Database", database or server.db),
        ("Authorization", f"bearer {key}"),
        ("Content-Length", str(len(data))),
    ):
        connection.putheader(name, value)
    connection.endheaders(data)
    response = connection.getresponse()
    answer = response.status, response.getheader("Content-Type"), response.read()
    connection.close()
    return answer[0], answer[1], json.loads(answer[2])


def test_n8n_odoo_node_with_its_default_credential(odoo_server, admin, n8n_key):
    # The credential test (OdooApiKeyApi.credentials.ts).
    status, content_type, body = n8n_request(
        odoo_server,
        n8n_key,
        "res.partner",
        "search_read",
        {"domain": [], "fields": ["id"], "limit": 1},
    )
    assert (status, content_type) == (200, "application/json; charset=utf-8"), body
    assert len(body) == 1 and set(body[0]) == {"id"}
    # Custom resource › Get Many, with a limit and the fields to include
    # (domain, fields, offset, limit, in this order), then Return All.
    rpc_buyers = admin("coop.buyer", "search_read", [], fields=["name"], limit=50)
    status, _, buyers = n8n_request(
        odoo_server,
        n8n_key,
        "coop.buyer",
        "search_read",
        {
            "domain": [],
            "fields": ["name", "email", "opt_out"],
            "offset": 0,
            "limit": 50,
        },
    )
    assert status == 200, buyers
    assert buyers and {row["id"] for row in buyers} <= {
        row["id"] for row in admin("coop.buyer", "search_read", [], fields=["id"])
    }
    assert len(buyers) == len(rpc_buyers)
    status, _, cycles = n8n_request(
        odoo_server,
        n8n_key,
        "coop.sale.cycle",
        "search_read",
        {"domain": [], "fields": ["name", "state"], "offset": 0},
    )
    assert status == 200, cycles
    assert cycles, "the demo data's cycles of the main shop"
    # Custom resource › Get: read of one record.
    partner = buyers[0]["id"]
    partner_id = admin("coop.buyer", "read", [partner], ["partner_id"])[0][
        "partner_id"
    ][0]
    status, _, read = n8n_request(
        odoo_server,
        n8n_key,
        "res.partner",
        "read",
        {"ids": [partner_id], "fields": ["name", "email"]},
    )
    assert status == 200 and read[0]["id"] == partner_id, read
    # The field list of a model (the node's field mapping) and the models.
    status, _, fields = n8n_request(
        odoo_server,
        n8n_key,
        "coop.buyer",
        "fields_get",
        {"attributes": ["string", "type", "required", "readonly", "selection"]},
    )
    assert status == 200 and fields["opt_out"]["type"] == "boolean", fields
    status, _, models = n8n_request(
        odoo_server,
        n8n_key,
        "ir.model",
        "search_read",
        {
            "domain": [["name", "ilike", "buyer"]],
            "fields": ["name", "model"],
            "limit": 60,
            "offset": 0,
        },
    )
    # The node's list of models reads ir.model: administrators only, as
    # over XML-RPC (others type the model's name).
    assert (status, models["name"]) == (403, "odoo.exceptions.AccessError"), models

    # What the credential does wrong is answered clearly: an empty Database
    # Name makes n8n send the first label of the host name.
    status, _, error = n8n_request(
        odoo_server,
        n8n_key,
        "res.partner",
        "search_read",
        {"domain": []},
        database="127",
    )
    assert (status, error["name"]) == (404, "werkzeug.exceptions.NotFound"), error
    assert "127" in error["message"]
    status, _, error = n8n_request(
        odoo_server, "0" * 40, "res.partner", "search_read", {"domain": []}
    )
    assert (status, error["name"]) == (401, "werkzeug.exceptions.Unauthorized")


def test_odoo_client_lib_json2_reads_buyers_partners_and_cycles(odoo_server, n8n_key):
    import odoolib

    namespace = {}
    exec(readme_code_block("python", "def newsletter_buyers"), namespace)
    host, port = odoo_server.url.split("//")[1].split(":")
    buyers = namespace["newsletter_buyers"](
        host, odoo_server.db, n8n_key, protocol="json2", port=int(port)
    )
    assert buyers and all(not buyer.get("opt_out") for buyer in buyers)
    assert set(buyers[0]) == {"id", "name", "email", "company_id", "last_cycle_id"}

    connection = odoolib.get_connection(
        hostname=host,
        port=int(port),
        protocol="json2",
        database=odoo_server.db,
        password=n8n_key,
    )
    assert connection.check_login()
    assert connection.get_user_context()["uid"]
    cycles = connection.get_model("coop.sale.cycle").search_read(
        domain=[], fields=["name", "state"]
    )
    assert cycles
    partners = connection.get_model("res.partner").search_read(
        domain=[("id", "in", [buyer["id"] for buyer in buyers])], fields=["name"]
    )
    assert isinstance(partners, list)
    # Its XML-RPC and JSON-RPC protocols take the same key as the password.
    count = connection.get_model("coop.buyer").search_count(domain=[])
    for protocol in ("xmlrpc", "jsonrpc"):
        rpc = odoolib.get_connection(
            hostname=host,
            port=int(port),
            protocol=protocol,
            database=odoo_server.db,
            login=LOGIN,
            password=n8n_key,
        )
        assert rpc.get_model("coop.buyer").search_count([]) == count
    refused = odoolib.get_connection(
        hostname=host,
        port=int(port),
        protocol="json2",
        database=odoo_server.db,
        password="0" * 40,
    )
    assert not refused.check_login()


def test_readme_n8n_code_node_verifies_a_real_delivery(odoo_server, n8n_key, tmp_path):
    """The README's Code node, run by Node.js as n8n runs it (an async
    function with $input and this.helpers), on a test event this server
    signed and delivered."""
    node = shutil.which("node")
    assert node, "Node.js is needed for this test (Debian: apt-get install nodejs)"
    api = f"{odoo_server.url}/coop/api/v1/webhooks"
    headers = {"Authorization": f"Bearer {n8n_key}"}
    with Receiver() as receiver:
        created = requests.post(
            api,
            json={"event_type": "sale_cycle.opened", "url": receiver.url},
            headers=headers,
            timeout=30,
        )
        assert created.status_code == 201, created.text
        hook = created.json()
        try:
            sent = requests.post(
                f"{api}/{hook['id']}/test", headers=headers, timeout=30
            )
            assert sent.status_code == 202, sent.text
            wait_for(lambda: receiver.requests, what="the test event")
        finally:
            requests.delete(f"{api}/{hook['id']}", headers=headers, timeout=30)
    delivery = receiver.requests[0]
    code = readme_code_block("javascript", "getBinaryDataBuffer").replace(
        '"whsec_..."', "process.env.SECRET"
    )
    script = tmp_path / "code_node.js"
    script.write_text(
        textwrap.dedent(
            """
            const delivery = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
            // n8n: the Webhook node's item (lower-case headers) and its raw
            // body as the binary property "data".
            const $input = { first: () => ({ json: { headers: delivery.headers } }) };
            const helpers = {
              getBinaryDataBuffer: async (index, name) =>
                index === 0 && name === "data"
                  ? Buffer.from(delivery.body, "base64") : null,
            };
            (async function () {
            %s
            }).call({ helpers }).then(
              (items) => console.log("OK " + JSON.stringify(items)),
              (error) => console.log("REFUSED " + error.message),
            );
            """
        )
        % code
    )

    def run(secret, body=delivery["body"]):
        payload = {
            "headers": {
                name.lower(): value for name, value in delivery["headers"].items()
            },
            "body": base64.b64encode(body).decode(),
        }
        return subprocess.run(
            [node, str(script)],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            env={"SECRET": secret},
            check=True,
        ).stdout.strip()

    verified = run(hook["secret"])
    assert verified.startswith("OK "), verified
    [item] = json.loads(verified[3:])
    assert item["json"]["type"] == "webhook.test"
    assert item["json"] == json.loads(delivery["body"])
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    assert run(other) == "REFUSED bad webhook signature"
    tampered = delivery["body"].replace(b'"webhook.test"', b'"webhook.tesT"')
    assert run(hook["secret"], tampered) == "REFUSED bad webhook signature"
