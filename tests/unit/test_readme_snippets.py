"""The README's Node.js verification snippet verifies our signatures.

Its code block is taken from README.rst as it is and run with Node.js.
"""

import json
import shutil
import subprocess
import textwrap
import time

from harness import readme_code_block

from coop_developer_settings.webhook import signing


def test_node_snippet_verifies_a_delivery(tmp_path):
    node = shutil.which("node")
    assert node, "Node.js is needed for this test (Debian: apt-get install nodejs)"
    script = tmp_path / "verify.js"
    script.write_text(
        readme_code_block("javascript", "function verify(")
        + textwrap.dedent(
            """
            const input = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
            try {
              const event = verify(input.body, input.headers, input.secret);
              console.log("OK " + event.id);
            } catch (error) {
              console.log("REFUSED " + error.message);
            }
            """
        )
    )
    secret, other = signing.generate_secret(), signing.generate_secret()
    body = json.dumps(
        {"id": "evt_1", "type": "webhook.test", "data": {"name": "Été"}},
        ensure_ascii=False,
    )
    headers = signing.headers([secret], "evt_1", time.time(), body.encode())

    def run(**changes):
        payload = {"body": body, "headers": headers, "secret": secret, **changes}
        return subprocess.run(
            [node, str(script)],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    assert run() == "OK evt_1"
    assert run(secret=other).startswith("REFUSED")
    assert run(body=body.replace("Été", "Ete")).startswith("REFUSED")
    stale = signing.headers([secret], "evt_1", time.time() - 3600, body.encode())
    assert run(headers=stale) == "REFUSED stale"
