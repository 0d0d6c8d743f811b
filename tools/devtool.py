#!/usr/bin/env python3
"""Development environment for coop_developer_settings: ``run`` and ``test``.

    python3 tools/devtool.py run       # Odoo with the addon and demo data on :8069
    python3 tools/devtool.py test      # unit, pre-commit, Odoo tests, pytest: parallel
    python3 tools/devtool.py unit      # the unit tests alone (no database)
    python3 tools/devtool.py pictures  # the README's pictures of the tab, again
    python3 tools/devtool.py bench     # benchmarks/*.py, each prints a table
    python3 tools/devtool.py stop      # stop the embedded PostgreSQL

Standard library only, so that a fresh clone needs nothing but Python
3.10-3.12. The work is done by the package ``tools/coopdev/``, one module per
concern (Odoo source, Python environment, PostgreSQL, Odoo, template
databases, the proxy of ``run``, the commands); everything it builds lives
in git-ignored folders of the clone (``.venv``, ``.dev``), in the user cache
(the Odoo source) or in PostgreSQL (the databases).
"""

import sys

from coopdev.commands import main

if __name__ == "__main__":
    sys.exit(main(description=__doc__.split("\n\n")[0]))
