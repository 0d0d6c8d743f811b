"""What the commands print, their errors, and the commands they run."""

import subprocess


class DevError(Exception):
    """A failure with a message that says what to do next."""


def step(message):
    print(f"\n==> {message}", flush=True)


def info(message):
    print(f"    {message}", flush=True)


def run(cmd, check=True, **kwargs):
    """Run a command, streaming its output (pip progress, Odoo logs)."""
    result = subprocess.run([str(c) for c in cmd], check=False, **kwargs)
    if check and result.returncode:
        raise DevError(
            f"`{' '.join(str(c) for c in cmd)}` failed (exit {result.returncode})."
        )
    return result
