#!/usr/bin/env python3
"""Profile of one delivery job's own work (a batch: signing, HTTP, log).

Tells how much of a job slot the job body takes; the rest of the slot is
queue_job's (runner dispatch, job bookkeeping). Run with
`make bench BENCH=job_profile`.
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from harness import ADDON, ROOT, OdooCli, odoo_env_from_environ  # noqa: E402


def main():
    cli = OdooCli(odoo_env_from_environ(), f"coop_bench_{secrets.token_hex(4)}")
    code, log = cli.run("-i", ADDON, "--stop-after-init", "--without-demo=all")
    if code:
        sys.exit(f"install failed:\n{log[-2000:]}")
    try:
        result = subprocess.run(
            [cli.bin, "shell", "-c", cli.config, "-d", cli.db_name, "--no-http"],
            input=(
                Path(__file__).resolve().parent / "job_profile_shell.py"
            ).read_text(),
            capture_output=True,
            text=True,
            # The addon tests' receiver, imported by its name as tests/ do.
            env=dict(
                os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / ADDON / 'tests'}"
            ),
            check=False,
        )
        print(result.stdout or result.stderr[-3000:])
    finally:
        cli.drop()


if __name__ == "__main__":
    main()
