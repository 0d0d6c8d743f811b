"""The Python environment ``.venv``: Odoo's requirements, Odoo itself
(editable), queue_job, requests and the development tools."""

import os
import sys
from pathlib import Path

from .console import DevError, info, run, run_logged, step
from .project import (
    CONSTRAINTS,
    DEV,
    REQUIREMENTS_DEV,
    ROOT,
    VENV,
    VENV_PY,
    files_digest,
)

# python-ldap only serves auth_ldap and needs system headers to build.
SKIPPED_ODOO_REQUIREMENTS = ("python-ldap",)
STAMP = VENV / ".coop-stamp"
PIP_LOG = DEV / "logs" / "pip.log"
# pip's lines worth a newcomer's screen; the rest (build backends' warnings
# on Odoo's source tree run to 100 000+ lines) stays in PIP_LOG.
PIP_PROGRESS = ("Collecting ", "Successfully installed", "ERROR", "error:")


def venv_bin(name):
    return VENV / "bin" / name


def is_pip_progress(line):
    return line.startswith(PIP_PROGRESS)


def pip(*args):
    env = dict(os.environ)
    # Odoo 18's pinned sdists (cbor2...) need pkg_resources at build time:
    # the constraints file caps setuptools, for installs and build envs.
    env["PIP_CONSTRAINT"] = str(CONSTRAINTS)
    if "--no-build-isolation" not in args:
        env["PIP_BUILD_CONSTRAINT"] = str(CONSTRAINTS)
    else:  # pip refuses it there, even inherited (make test passes it to pytest)
        env.pop("PIP_BUILD_CONSTRAINT", None)
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    cmd = [VENV_PY, "-m", "pip", "install", *args]
    if run_logged(cmd, PIP_LOG, is_pip_progress, env=env, append=True):
        raise DevError(
            f"`pip install {' '.join(str(a) for a in args)}` failed: its output is in "
            f"{PIP_LOG}; fix what it says (often a missing system package), then "
            "run the command again."
        )


def environment_stamp(odoo_dir):
    """What the environment is built from: the digest of its requirement
    files (64 hex characters), then the Odoo source folder."""
    return files_digest(
        odoo_dir / "requirements.txt", CONSTRAINTS, REQUIREMENTS_DEV, ROOT / "setup.py"
    ) + str(odoo_dir)


def ensure_venv(odoo_dir):
    if sys.version_info[:2] < (3, 10) or sys.version_info[:2] > (3, 12):
        raise DevError(
            f"Odoo 18.0 runs on Python 3.10 to 3.12, not {sys.version.split()[0]}: "
            "run this tool with such a python3."
        )
    wanted = environment_stamp(odoo_dir)
    if STAMP.is_file() and STAMP.read_text() == wanted and VENV_PY.exists():
        info(f"Python environment {VENV} is up to date")
        return
    step(f"Building the Python environment in {VENV} (a few minutes the first time)")
    PIP_LOG.unlink(missing_ok=True)
    info(f"pip's whole output: {PIP_LOG}")
    if not VENV_PY.exists():
        run([sys.executable, "-m", "venv", VENV])
    info("[1/4] pip, wheel and a setuptools that can build Odoo's pinned sdists")
    pip("--upgrade", "pip", "setuptools", "wheel")
    info("[2/4] Odoo 18.0 requirements")
    requirements = DEV / "odoo-requirements.txt"
    requirements.parent.mkdir(exist_ok=True)
    lines = (odoo_dir / "requirements.txt").read_text().splitlines()
    requirements.write_text(
        "\n".join(
            line for line in lines if not line.startswith(SKIPPED_ODOO_REQUIREMENTS)
        )
    )
    pip("-r", requirements)
    info("[3/4] Odoo 18.0 itself (editable, from the source tree)")
    # "compat" puts the source tree itself on sys.path: a strict editable
    # finder would lose to the odoo/addons namespace that addon wheels
    # (queue_job) install in site-packages.
    pip(
        "--no-build-isolation",
        "--no-deps",
        "--config-settings",
        "editable_mode=compat",
        "-e",
        odoo_dir,
    )
    info("[4/4] queue_job, requests and the development tools")
    # Odoo's own pins stay as they are: they constrain the tools too.
    pip("-r", REQUIREMENTS_DEV, "-c", requirements)
    STAMP.write_text(wanted)


def installed_odoo_source():
    """The Odoo source of an up-to-date environment, without building it
    (what runs inside ``.venv`` cannot rebuild it)."""
    recorded = STAMP.read_text() if STAMP.is_file() else ""
    odoo_dir = Path(recorded[64:])
    if not VENV_PY.exists() or not recorded or recorded != environment_stamp(odoo_dir):
        raise DevError(
            f"the Python environment {VENV} is missing or out of date: "
            "run `make test` once, it builds it"
        )
    return odoo_dir
