"""The Odoo 18.0 source tree, first that works:

1. ``ODOO_SOURCE``: an Odoo 18.0 source tree, or a tarball path or URL;
2. the cache folder ``${XDG_CACHE_HOME:-~/.cache}/coop-developer-settings/odoo-18.0``;
3. the official Odoo 18.0 nightly source tarball, downloaded into that cache.
"""

import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from .console import DevError, info, step

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / (
    "coop-developer-settings"
)
ODOO_CACHE = CACHE / "odoo-18.0"
NIGHTLY_URL = "https://nightly.odoo.com/18.0/nightly/src/odoo_18.0.latest.tar.gz"


def is_odoo_18_tree(path):
    release = Path(path) / "odoo" / "release.py"
    if not release.is_file():
        return False
    match = re.search(r"^version_info = \((\d+), (\d+)", release.read_text(), re.M)
    return bool(match) and match.groups() == ("18", "0")


def extract_tarball(tarball, target):
    """Extract an Odoo source tarball into target, dropping its top folder."""
    info(f"extracting {tarball} into {target} ...")
    tmp = Path(tempfile.mkdtemp(prefix="odoo-src-", dir=CACHE))
    try:
        with tarfile.open(tarball) as archive:
            archive.extractall(tmp, filter="data")
        tops = [p for p in tmp.iterdir() if p.is_dir()]
        source = tops[0] if len(tops) == 1 else tmp
        if not is_odoo_18_tree(source):
            raise DevError(f"{tarball} does not hold an Odoo 18.0 source tree.")
        if target.exists():
            shutil.rmtree(target)
        source.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def download(url, dest):
    info(f"downloading {url}")
    try:
        with (
            urllib.request.urlopen(url, timeout=60) as response,
            open(dest, "wb") as out,
        ):
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            last = 0.0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                done += len(chunk)
                if time.monotonic() - last > 2:
                    last = time.monotonic()
                    pct = f" ({100 * done // total}%)" if total else ""
                    info(f"  {done >> 20} MiB{pct}")
    except OSError as exc:
        dest.unlink(missing_ok=True)
        raise DevError(f"could not download {url}: {exc}") from exc


def odoo_source():
    """Locate (or fetch) the Odoo 18.0 source tree; see the module docstring."""
    CACHE.mkdir(parents=True, exist_ok=True)
    wanted = os.environ.get("ODOO_SOURCE", "").strip()
    try:
        if wanted:
            if Path(wanted).is_dir():
                if not is_odoo_18_tree(wanted):
                    raise DevError(f"ODOO_SOURCE={wanted} is not an Odoo 18.0 tree.")
                return Path(wanted).resolve()
            # A tarball (path or URL): extracted once per distinct source.
            key = hashlib.sha256(wanted.encode()).hexdigest()[:12]
            target = CACHE / f"odoo-src-{key}"
            if not is_odoo_18_tree(target):
                if urllib.parse.urlparse(wanted).scheme in ("http", "https"):
                    tarball = CACHE / f"odoo-src-{key}.tar.gz"
                    download(wanted, tarball)
                    extract_tarball(tarball, target)
                    tarball.unlink()
                elif Path(wanted).is_file():
                    extract_tarball(Path(wanted), target)
                else:
                    raise DevError(
                        f"ODOO_SOURCE={wanted} is neither a folder, a file nor a URL."
                    )
            return target
        if is_odoo_18_tree(ODOO_CACHE):
            return ODOO_CACHE
        step("No Odoo source yet: downloading the official 18.0 nightly")
        tarball = CACHE / "odoo_18.0.latest.tar.gz"
        download(NIGHTLY_URL, tarball)
        extract_tarball(tarball, ODOO_CACHE)
        tarball.unlink()
        return ODOO_CACHE
    except (DevError, OSError, tarfile.TarError) as exc:
        raise DevError(
            f"{exc}\nNo usable Odoo 18.0 source. Provide one of:\n"
            "  1. ODOO_SOURCE=/path/to/odoo-18.0-tree (or a .tar.gz path or URL);\n"
            f"  2. an Odoo 18.0 source tree in {ODOO_CACHE};\n"
            f"  3. network access to {NIGHTLY_URL}."
        ) from exc
