"""Packaging of the coop_developer_settings Odoo addon.

``pip install .`` (or ``pip wheel .``) builds ``odoo-addon-coop_developer_settings``,
which installs the addon as ``odoo.addons.coop_developer_settings`` next to
Odoo and queue_job, the way OCA addons are distributed on PyPI.
"""

import ast
from pathlib import Path

from setuptools import setup

ADDON = "coop_developer_settings"
HERE = Path(__file__).resolve().parent
MANIFEST = ast.literal_eval((HERE / ADDON / "__manifest__.py").read_text())
PACKAGE = f"odoo.addons.{ADDON}"
# The manifest's development_status, as a trove classifier.
STATUS_CLASSIFIERS = {
    "Alpha": "3 - Alpha",
    "Beta": "4 - Beta",
    "Production/Stable": "5 - Production/Stable",
    "Mature": "6 - Mature",
}


def addon_packages():
    """The addon and its Python sub-packages, as odoo.addons.* packages."""
    return [PACKAGE] + [
        f"{PACKAGE}.{'.'.join(init.parent.relative_to(HERE / ADDON).parts)}"
        for init in sorted((HERE / ADDON).rglob("__init__.py"))
        if init.parent != HERE / ADDON
    ]


def addon_data_files():
    """Every non-Python file of the addon (XML, CSV, PO, static assets), and
    the migration scripts: Python, but no package (Odoo loads them by path)."""
    return [
        str(path.relative_to(HERE / ADDON))
        for path in sorted((HERE / ADDON).rglob("*"))
        if path.is_file()
        and (
            path.suffix not in (".py", ".pyc")
            or path.relative_to(HERE / ADDON).parts[0] == "migrations"
        )
        and "__pycache__" not in path.parts
    ]


setup(
    name=f"odoo-addon-{ADDON}",
    version=MANIFEST["version"],
    description=MANIFEST["summary"],
    long_description=(HERE / ADDON / "README.rst").read_text(),
    long_description_content_type="text/x-rst",
    author=MANIFEST["author"],
    url=MANIFEST["website"],
    license="AGPL-3",
    packages=addon_packages(),
    package_dir={PACKAGE: ADDON},
    package_data={PACKAGE: addon_data_files()},
    include_package_data=False,
    python_requires=">=3.10",
    install_requires=[
        "odoo>=18.0a,<18.1dev",
        "odoo-addon-queue_job>=18.0dev,<18.1dev",
        "idna",
        "phonenumbers",
        "requests",
    ],
    classifiers=[
        "Programming Language :: Python",
        "Framework :: Odoo",
        "Framework :: Odoo :: 18.0",
        "License :: OSI Approved :: GNU Affero General Public License v3",
        "Development Status :: " + STATUS_CLASSIFIERS[MANIFEST["development_status"]],
    ],
)
