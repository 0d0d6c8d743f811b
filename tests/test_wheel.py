"""`pip wheel .` builds an installable odoo-addon-coop_developer_settings."""

import ast
import subprocess
import sys
import zipfile
from email.parser import Parser

import pytest
from harness import ADDON, ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

MANIFEST = ast.literal_eval((ROOT / ADDON / "__manifest__.py").read_text())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, ROOT],
        check=True,
    )
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_name(wheel):
    assert wheel.name == (f"odoo_addon_{ADDON}-{MANIFEST['version']}-py3-none-any.whl")


def test_wheel_holds_the_addon_and_its_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    prefix = f"odoo/addons/{ADDON}/"
    expected = ["__manifest__.py", "__init__.py", "README.rst"] + MANIFEST["data"]
    expected += [
        str(path.relative_to(ROOT / ADDON))
        for path in (ROOT / ADDON).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]
    missing = sorted(prefix + name for name in expected if prefix + name not in names)
    assert not missing, f"missing from {wheel.name}: {missing}"


def test_wheel_metadata_requires_odoo_18_and_queue_job(wheel):
    with zipfile.ZipFile(wheel) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith("/METADATA"))
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
    assert metadata["Name"] == f"odoo-addon-{ADDON}"
    requires = {
        canonicalize_name(req.name): req.specifier
        for req in map(Requirement, metadata.get_all("Requires-Dist"))
    }
    assert requires.keys() == {
        "odoo",
        "odoo-addon-queue-job",
        "idna",
        "phonenumbers",
        "requests",
    }
    assert "18.0" in requires["odoo"] and "18.1" not in requires["odoo"]
    assert "18.0.4.1.2.2" in requires["odoo-addon-queue-job"]
    assert "17.0.1.5.4" not in requires["odoo-addon-queue-job"]
    assert "19.0.1.0.0" not in requires["odoo-addon-queue-job"]


def test_installed_wheel_is_found_by_odoo(wheel, tmp_path):
    """Installed next to Odoo, the addon is found without any addons_path."""
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "-t",
            target,
            wheel,
        ],
        check=True,
    )
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import odoo.modules.module as m;"
        f"print(m.get_module_path('{ADDON}'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(target)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == str(target / "odoo" / "addons" / ADDON)
