# Development commands; the logic lives in tools/devtool.py and its package tools/coopdev/.
PYTHON ?= python3

.PHONY: run test bench stop wheel clean

run:  ## Odoo with the addon and its demo data on http://127.0.0.1:8069
	$(PYTHON) tools/devtool.py run

test:  ## pre-commit, the addon's Odoo tests and pytest tests/; ends with "N passed, N failed"
	$(PYTHON) tools/devtool.py test

bench:  ## benchmarks/*.py (or BENCH="fanout delivery"); each prints a table
	$(PYTHON) tools/devtool.py bench $(BENCH)

stop:  ## stop the embedded PostgreSQL
	$(PYTHON) tools/devtool.py stop

wheel:  ## build dist/odoo_addon_coop_developer_settings-*.whl
	$(PYTHON) -m pip wheel --no-deps -w dist .

clean:  ## remove the environment, databases and build outputs
	-$(PYTHON) tools/devtool.py stop
	rm -rf .venv .dev build dist *.egg-info
