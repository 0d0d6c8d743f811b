#!/usr/bin/env python3
"""Fan-out benchmark: what opening a sale cycle adds to its transaction.

For N subscribed endpoints, the time action_open adds (commit included)
compared with (a) a bare loop of N with_delay() calls and (b) Odoo's native
"Send Webhook Notification" server actions, one per endpoint, run by an
automation rule on the same state change, against a receiver answering
after 50 ms. Prints a table. Run with `make bench` (or `make bench
BENCH=fanout`).
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from harness import ADDON, ROOT, OdooCli, odoo_env_from_environ  # noqa: E402

HERE = Path(__file__).resolve().parent


def main():
    sizes = os.environ.get("BENCH_SIZES", "10,100,1000,10000")
    native_sizes = os.environ.get("BENCH_NATIVE_SIZES", "10,100,1000")
    cli = OdooCli(odoo_env_from_environ(), f"coop_bench_{secrets.token_hex(4)}")
    print(f"creating database {cli.db_name} ...", flush=True)
    code, log = cli.run(
        "-i", f"{ADDON},base_automation", "--stop-after-init", "--without-demo=all"
    )
    if code:
        sys.exit(f"install failed:\n{log[-2000:]}")
    try:
        print(f"measuring N = {sizes} (native: {native_sizes}) ...", flush=True)
        result = subprocess.run(
            [cli.bin, "shell", "-c", cli.config, "-d", cli.db_name, "--no-http"],
            input=(HERE / "fanout_shell.py").read_text(),
            capture_output=True,
            text=True,
            env=dict(
                os.environ,
                BENCH_SIZES=sizes,
                BENCH_NATIVE_SIZES=native_sizes,
                # The addon tests' receiver, imported by its name as tests/ do.
                PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / ADDON / 'tests'}",
            ),
            check=False,
        )
        lines = [
            ln for ln in result.stdout.splitlines() if ln.startswith("BENCH_RESULT ")
        ]
        if not lines:
            sys.exit(f"benchmark failed:\n{result.stderr[-3000:]}")
        report(json.loads(lines[-1].split(" ", 1)[1]))
    finally:
        cli.drop()


def report(data):
    print(
        f"\nopening with no endpoint: {data['base'] * 1000:.1f} ms (subtracted below)"
    )
    print(f"native receiver latency: {data['latency'] * 1000:.0f} ms\n")
    header = (
        "N",
        "ours (ms)",
        "per endpoint",
        "bare with_delay",
        "ours/bare",
        "native (ms)",
        "native/ours",
    )
    print("{:>6} {:>10} {:>13} {:>16} {:>10} {:>12} {:>12}".format(*header))
    for row in data["rows"]:
        ours, bare, native = row["ours"], row["bare"], row["native"]
        print(
            "{:>6} {:>10.1f} {:>10.3f} ms {:>13.1f} ms {:>10.2f} {:>12} {:>12}".format(
                row["n"],
                ours * 1000,
                ours * 1000 / row["n"],
                bare * 1000,
                ours / bare,
                f"{native * 1000:.0f}" if native is not None else "not run",
                f"{native / ours:.0f}x" if native is not None else "-",
            )
        )


if __name__ == "__main__":
    main()
