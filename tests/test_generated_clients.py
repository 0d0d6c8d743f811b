"""Clients generated from the served OpenAPI document, as integrators build
them: openapi-python-client (PyPI) and openapi-typescript + openapi-fetch
(npm). Each builds without a warning and parses real answers: a page of
every kind of buyer, the sale cycles, and every event's payload as delivered.

The npm packages are installed, at pinned versions, in .dev/npm (git-ignored).
"""

import importlib
import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta

import pytest
import requests
from harness import DEV, WebClient, cycle_values, wait_for
from receiver import Receiver

NPM_PACKAGES = ("openapi-typescript@7.13.0", "openapi-fetch@0.17.0", "typescript@5.9.3")
NPM_DIR = DEV / "npm"
SUBSCRIBABLE = (
    "sale_cycle.opening_soon",
    "sale_cycle.opened",
    "sale_cycle.closing_soon",
    "sale_cycle.closed",
)
SYNC = {"updated_since": "2000-01-01T00:00:00Z", "limit": 1000}


@pytest.fixture(scope="module")
def answers(odoo_server, admin, every_kind_of_buyer):
    """The served document, a sync page holding every kind of buyer, the
    cycles, and a delivered payload of every event type (real openings and
    closings, and a test event of each subscribable type)."""
    key = WebClient(odoo_server, "admin", "admin").generate_api_key(
        "Generated clients", "admin"
    )["default_key"]
    headers = {"Authorization": f"Bearer {key}"}
    api = f"{odoo_server.url}/coop/api/v1"
    page = requests.get(f"{api}/buyers", params=SYNC, headers=headers, timeout=60)
    cycles = requests.get(f"{api}/sale-cycles", headers=headers, timeout=60)
    with Receiver() as receiver:
        hooks = [
            requests.post(
                f"{api}/webhooks",
                json={"event_type": code, "url": f"{receiver.url}/{code}"},
                headers=headers,
                timeout=60,
            ).json()
            for code in SUBSCRIBABLE
        ]
        for hook in hooks:
            sent = requests.post(
                f"{api}/webhooks/{hook['id']}/test", headers=headers, timeout=60
            )
            assert sent.status_code == 202, sent.text
        cycle = admin(
            "coop.sale.cycle",
            "create",
            cycle_values("Generated clients", opens_in=-timedelta(minutes=1)),
        )
        admin("coop.sale.cycle", "action_open", [cycle])
        # Received before the close: an opening still unsent when its cycle
        # closes expires (it is stale), and would never arrive.
        wait_for(
            lambda: any(
                json.loads(request["body"])["type"] == "sale_cycle.opened"
                for request in receiver.requests
            ),
            what="the opening",
        )
        admin("coop.sale.cycle", "action_close", [cycle])
        wait_for(lambda: len(receiver.requests) >= 6, what="the deliveries")
        for hook in hooks:
            requests.delete(f"{api}/webhooks/{hook['id']}", headers=headers, timeout=60)
    events = [json.loads(request["body"]) for request in receiver.requests]
    return {
        "key": key,
        "document": requests.get(f"{api}/openapi.json", timeout=60).json(),
        "page": page.json(),
        "cycles": cycles.json(),
        "events": events,
    }


def test_the_answers_hold_every_kind_of_record(answers, every_kind_of_buyer):
    rows = {row["partner_id"]: row for row in answers["page"]["data"]}
    kinds = every_kind_of_buyer
    assert rows[kinds["current"]]["email_normalized"].endswith("@example.org")
    assert rows[kinds["several"]]["email_normalized"] is None
    assert rows[kinds["opted_out"]]["opt_out"] is True
    assert rows[kinds["no_email"]]["email"] is None
    assert rows[kinds["nameless"]]["name"] is None
    assert rows[kinds["removed"]]["removed"] is True
    assert any(
        row["removed"] and row["partner_id"] is None for row in answers["page"]["data"]
    ), "a removed buyer whose customer was deleted"
    types = {
        (event["type"], event["data"].get("sample_of")) for event in answers["events"]
    }
    assert types >= {("webhook.test", code) for code in SUBSCRIBABLE}
    assert types >= {("sale_cycle.opened", None), ("sale_cycle.closed", None)}


def class_name(prefix, event_type):
    """The generated model of a component, e.g. Event_sale_cycle_opened:
    EventSaleCycleOpened."""
    return prefix + event_type.title().replace(".", "").replace("_", "")


def test_openapi_python_client(answers, odoo_server, tmp_path):
    (tmp_path / "openapi.json").write_text(json.dumps(answers["document"]))
    bin_dir = os.path.dirname(sys.executable)
    generated = subprocess.run(
        [
            os.path.join(bin_dir, "openapi-python-client"),
            "generate",
            "--path",
            "openapi.json",
            "--output-path",
            "coop_client",
            "--meta",
            "none",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        # Its post-generation hook runs ruff, from the venv.
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        check=False,
    )
    output = generated.stdout + generated.stderr
    assert generated.returncode == 0, output
    assert "warning" not in output.lower(), output

    sys.path.insert(0, str(tmp_path))
    try:
        client_module = importlib.import_module("coop_client")
        buyers = importlib.import_module("coop_client.api.default.list_buyers")
        cycles = importlib.import_module("coop_client.api.default.list_sale_cycles")
        models = importlib.import_module("coop_client.models")
        client = client_module.AuthenticatedClient(
            base_url=odoo_server.url,
            token=answers["key"],
            raise_on_unexpected_status=True,
        )
        page = buyers.sync(client=client, **SYNC)
        assert isinstance(page, models.BuyerPage), page
        assert len(page.data) == len(answers["page"]["data"])
        removed = [
            buyer for buyer in page.data if isinstance(buyer, models.RemovedBuyer)
        ]
        assert None in [buyer.partner_id for buyer in removed]
        assert isinstance(cycles.sync(client=client), models.SaleCyclePage)
        for event in answers["events"]:
            parsed = getattr(models, class_name("Event", event["type"])).from_dict(
                event
            )
            assert parsed.to_dict() == event, event["type"]
            if event["type"] == "webhook.test":
                sampled = class_name("TestData", event["data"]["sample_of"])
                assert type(parsed.data).__name__ == sampled, event["data"]
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.startswith("coop_client")]:
            del sys.modules[name]


def npm_tools():
    """The pinned npm packages, installed once in .dev/npm."""
    npm = shutil.which("npm")
    assert npm, "Node.js and npm are needed for this test"
    marker = NPM_DIR / "installed.txt"
    if not marker.exists() or marker.read_text() != " ".join(NPM_PACKAGES):
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        (NPM_DIR / "package.json").write_text('{"private": true}\n')
        subprocess.run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
                *NPM_PACKAGES,
            ],
            cwd=NPM_DIR,
            check=True,
            capture_output=True,
            timeout=600,
        )
        marker.write_text(" ".join(NPM_PACKAGES))
    return NPM_DIR / "node_modules"


TYPESCRIPT_CHECK = """
import createClient from "openapi-fetch";
import type { components, paths } from "./api.js";

type Schemas = components["schemas"];
// The real answers, type-checked against the generated types.
const page: Schemas["BuyerPage"] = PAGE;
const cycles: Schemas["SaleCyclePage"] = CYCLES;
const events: Schemas["Event"][] = EVENTS;

const lefts: number[] = [];
for (const event of events) {
  // Narrowed by the discriminators: type, then sample_of.
  if (
    event.type === "webhook.test" &&
    event.data.sample_of === "sale_cycle.closing_soon"
  ) {
    lefts.push(event.data.time_left);
  }
}
const client = createClient<paths>({
  baseUrl: BASE_URL,
  headers: { Authorization: `Bearer ${API_KEY}` },
});
const { data, error } = await client.GET("/coop/api/v1/buyers", {
  params: { query: { updated_since: "2000-01-01T00:00:00Z", limit: 1000 } },
});
if (error || !data) throw new Error(JSON.stringify(error));
const unknownPartners = data.data.filter((b) => b.removed && b.partner_id === null);
console.log(JSON.stringify({
  buyers: data.data.length,
  unknownPartners: unknownPartners.length,
  lefts: lefts.length,
  pages: page.data.length,
  cycles: cycles.data.length,
}));
"""


def test_openapi_typescript_and_openapi_fetch(answers, odoo_server, tmp_path):
    modules = npm_tools()
    (tmp_path / "openapi.json").write_text(json.dumps(answers["document"]))
    generated = subprocess.run(
        [modules / ".bin" / "openapi-typescript", "openapi.json", "-o", "api.d.ts"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = generated.stdout + generated.stderr
    assert generated.returncode == 0, output
    assert "warn" not in output.lower(), output
    (tmp_path / "node_modules").symlink_to(modules)
    source = (
        TYPESCRIPT_CHECK.replace("PAGE", json.dumps(answers["page"]))
        .replace("CYCLES", json.dumps(answers["cycles"]))
        .replace("EVENTS", json.dumps(answers["events"]))
        .replace("BASE_URL", json.dumps(odoo_server.url))
        .replace("API_KEY", json.dumps(answers["key"]))
    )
    (tmp_path / "check.mts").write_text(source)
    compiled = subprocess.run(
        [
            modules / ".bin" / "tsc",
            "--strict",
            "--module",
            "nodenext",
            "--moduleResolution",
            "nodenext",
            "--target",
            "es2022",
            "--outDir",
            "out",
            "check.mts",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    ran = subprocess.run(
        ["node", "out/check.mjs"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["buyers"] == len(answers["page"]["data"])
    assert result["unknownPartners"] >= 1
    assert result["lefts"] == 1
