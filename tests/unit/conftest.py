"""The fast layer: the addon's plain-Python packages tested without Odoo
and without a database.

Their ``import coop_developer_settings.webhook`` is a normal import from the
repository (the addon's ``__init__`` imports its Odoo parts only when Odoo
imports it as ``odoo.addons.coop_developer_settings``); the addon tests'
receiver and provider fakes are imported as ``receiver`` and ``fakes``, as
tests/ does.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADDON = ROOT / "coop_developer_settings"

for folder in (ROOT, ADDON / "tests"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
