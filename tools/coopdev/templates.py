"""Template databases: the Odoo modules the addon depends on (sale,
queue_job... and what they pull in), installed once, then copied for every
database the commands and the tests make (``CREATE DATABASE ... TEMPLATE``
and the filestore: seconds instead of minutes).

A template is named after what it is built from: the Odoo source and the
files of every module it holds, the dependency list, demo data or not, the
languages. When one of them changes, the name changes and the template is
built again (the one it replaces is dropped). The addon itself is never in
a template: it is installed in each copy, so that its installation is
tested every time.

Templates refuse connections (``ALLOW_CONNECTIONS false``): Odoo does not
list them and no server holds them open, which would block their copies.
"""

import ast
import hashlib
import json
import os
import shutil

from .console import DevError, info, step
from .odoo import (
    DEMO_FAILED,
    LANGUAGE,
    OdooLog,
    drop_database,
    filestore,
    free_port,
    odoo_cmd,
    write_config,
)
from .postgres import sql
from .project import ADDON, DEV, ROOT, VENV

PREFIX = "coop_template_"
MANIFEST = "__manifest__.py"
# The templates `make test` copies: for the Odoo tests and the end-to-end
# server (demo data), the upgrade and uninstall tests (none), `make run`'s
# database (demo data, French).
TEST_TEMPLATES = (
    {"demo": True},
    {"demo": False},
    {"demo": True, "languages": (LANGUAGE,)},
)


def addons_paths(odoo_dir):
    """Where the modules are found: Odoo's, the addon's, queue_job's wheel."""
    site_addons = sorted(VENV.glob("lib/python3*/site-packages/odoo/addons"))
    return [odoo_dir / "odoo" / "addons", ROOT, *site_addons]


def manifest(module_dir):
    return ast.literal_eval((module_dir / MANIFEST).read_text())


def addon_depends():
    return manifest(ROOT / ADDON)["depends"]


def module_closure(names, paths):
    """The folder of each module of names and of everything they depend on."""
    found, todo = {}, ["base", *names]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        folder = next(
            (p / name for p in paths if (p / name / MANIFEST).is_file()), None
        )
        if folder is None:
            raise DevError(
                f"module {name} (a dependency of {ADDON}) is in none of "
                f"{', '.join(map(str, paths))}: add it to the environment."
            )
        found[name] = folder
        todo += manifest(folder).get("depends", [])
    return found


def template_name(odoo_dir, depends, demo, languages):
    """The name of the template of these modules, from what they are made of:
    the modules' files (paths, sizes, modification times: a source updated
    in place counts), the dependency list, demo data, the languages."""
    digest = hashlib.sha256(
        json.dumps([str(odoo_dir), sorted(depends), demo, sorted(languages)]).encode()
    )
    for name, folder in sorted(module_closure(depends, addons_paths(odoo_dir)).items()):
        digest.update(name.encode())
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for file in sorted(files):
                stat = os.stat(os.path.join(root, file))
                digest.update(
                    f"{root}/{file}:{stat.st_size}:{stat.st_mtime_ns}".encode()
                )
    return PREFIX + digest.hexdigest()[:16]


def database_exists(db_settings, name):
    return bool(
        sql(db_settings, [("SELECT 1 FROM pg_database WHERE datname = %s", [name])])
    )


def ensure_template(odoo_dir, db_settings, depends=None, demo=True, languages=()):
    """The name of the template database of depends (default: the addon's),
    with or without demo data, with these languages; built if missing."""
    depends = list(depends or addon_depends())
    name = template_name(odoo_dir, depends, demo, languages)
    if database_exists(db_settings, name):
        return name
    what = f"{', '.join(depends)}{', demo data' if demo else ''}" + "".join(
        f", {lang}" for lang in languages
    )
    step(f"Building the template database {name} ({what}; once, a few minutes)")
    building = f"{name}_build_{os.getpid()}"
    config = write_config(
        odoo_dir,
        db_settings,
        f"odoo-{building}.conf",
        http_port=str(free_port()),
        gevent_port=str(free_port()),
        workers="0",
        max_cron_threads="0",
    )
    log = OdooLog(DEV / "logs" / f"{name}.log")
    try:
        rc = log.run(
            odoo_cmd(
                config,
                "-d",
                building,
                "-i",
                ",".join(depends),
                *([] if demo else ["--without-demo=all"]),
                *(f"--load-language={lang}" for lang in languages),
                "--stop-after-init",
            )
        )
        if rc or DEMO_FAILED in log.path.read_text(errors="replace"):
            raise DevError(
                f"building the template database {name} failed; full log: "
                f"{log.path}. Fix the error shown above, then run the command again."
            )
        if database_exists(db_settings, name):
            info(f"{name} was built meanwhile by another command: using it")
            return name
        label = json.dumps({"clone": str(ROOT), "what": what})
        sql(
            db_settings,
            [
                (f'ALTER DATABASE "{building}" RENAME TO "{name}"', []),
                (f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false', []),
                (f'COMMENT ON DATABASE "{name}" IS %s', [label]),
            ],
        )
        if filestore(building).exists():
            shutil.rmtree(filestore(name), ignore_errors=True)  # a leftover
            filestore(building).rename(filestore(name))
    finally:
        drop_database(db_settings, building)
        config.unlink(missing_ok=True)
    drop_replaced_templates(db_settings, name, label)
    return name


def drop_replaced_templates(db_settings, name, label):
    """The templates of this clone with the same label (dependencies, demo
    data, languages), built from an older Odoo source or older module files:
    nothing copies them any more."""
    rows = sql(
        db_settings,
        [
            (
                "SELECT datname FROM pg_database WHERE datname LIKE %s"
                " AND datname != %s AND shobj_description(oid, 'pg_database') = %s",
                [f"{PREFIX}%", name, label],
            )
        ],
    )
    for (old,) in rows:
        info(f"dropping {old}, the template it replaces")
        drop_database(db_settings, old)
