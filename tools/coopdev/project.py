"""The clone's folders, and the settings read from the environment."""

import hashlib
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
ADDON = "coop_developer_settings"
# Everything built lives in git-ignored folders of the clone.
DEV = ROOT / ".dev"
VENV = ROOT / ".venv"
VENV_PY = VENV / "bin" / "python"
CONSTRAINTS = ROOT / "constraints.txt"
REQUIREMENTS_DEV = ROOT / "requirements-dev.txt"
# `make run`'s database and public port.
RUN_DB = os.environ.get("COOP_DB", "coop")
HTTP_PORT = int(os.environ.get("COOP_HTTP_PORT", "8069"))


def files_digest(*paths):
    """Hash of the content of files and folders, to know when to rebuild."""
    digest = hashlib.sha256()
    for path in paths:
        path = Path(path)
        items = sorted(path.rglob("*")) if path.is_dir() else [path]
        for item in items:
            if item.is_file() and "__pycache__" not in item.parts:
                digest.update(str(item.relative_to(path.parent)).encode())
                digest.update(item.read_bytes())
    return digest.hexdigest()
