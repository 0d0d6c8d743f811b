"""The fast layer: the addon's plain-Python packages tested without Odoo
and without a database.

The addon's own ``__init__`` imports Odoo; its plain packages do not. They
are imported here as sub-packages of a bare ``coop_developer_settings``
package (the addon directory, its ``__init__`` not run), and the provider
fakes as ``fakes`` (as tests/ imports receiver.py).
"""

import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADDON = ROOT / "coop_developer_settings"

if "coop_developer_settings" not in sys.modules:
    package = types.ModuleType("coop_developer_settings")
    package.__path__ = [str(ADDON)]
    sys.modules["coop_developer_settings"] = package
if str(ADDON / "tests") not in sys.path:
    sys.path.insert(0, str(ADDON / "tests"))
