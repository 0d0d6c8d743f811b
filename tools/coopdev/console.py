"""What the commands print, their errors, and the commands they run."""

import subprocess
import sys


class DevError(Exception):
    """A failure with a message that says what to do next."""


def step(message):
    print(f"\n==> {message}", flush=True)


def info(message):
    print(f"    {message}", flush=True)


def run(cmd, check=True, **kwargs):
    """Run a command, its output straight to the screen."""
    result = subprocess.run([str(c) for c in cmd], check=False, **kwargs)
    if check and result.returncode:
        raise DevError(
            f"`{' '.join(str(c) for c in cmd)}` failed (exit {result.returncode})."
        )
    return result


def run_logged(cmd, log_path, shows, env=None, append=False, cwd=None, prefix="    "):
    """Run a command, its whole output to ``log_path`` and the lines that
    show progress to the screen after ``prefix`` (which tells apart commands
    that run side by side): ``shows(line)`` says whether a line is shown, or
    None for "as the line before" (the rest of a multi-line entry).
    ``append`` keeps what earlier runs wrote there. Returns the exit code."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a" if append else "w") as log:
        proc = subprocess.Popen(
            [str(c) for c in cmd],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=cwd,
        )
        show = False
        for line in proc.stdout:
            log.write(line)
            verdict = shows(line)
            show = show if verdict is None else verdict
            if show:
                sys.stdout.write(prefix + line)
                sys.stdout.flush()
        return proc.wait()
