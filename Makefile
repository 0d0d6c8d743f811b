# Development commands; the logic lives in tools/devtool.py and its package tools/coopdev/.
PYTHON ?= python3

.PHONY: run test unit pictures bench stop wheel clean

run:  ## Odoo with the addon and its demo data on http://127.0.0.1:8069
	$(PYTHON) tools/devtool.py run

test:  ## unit tests, pre-commit, the Odoo tests and pytest tests/ in parallel; ends with the time of each stage and "N passed, N failed"
	$(PYTHON) tools/devtool.py test

unit:  ## the unit tests alone (tests/unit: no Odoo server, no database; seconds)
	$(PYTHON) tools/devtool.py unit

pictures:  ## take the README pictures of the Developer settings tab and the settings page again (static/description)
	$(PYTHON) tools/devtool.py pictures

bench:  ## benchmarks/*.py (or BENCH="fanout delivery"); each prints a table
	$(PYTHON) tools/devtool.py bench $(BENCH)

stop:  ## stop the embedded PostgreSQL
	$(PYTHON) tools/devtool.py stop

wheel:  ## build dist/odoo_addon_coop_developer_settings-*.whl
	$(PYTHON) -m pip wheel --no-deps -w dist .

clean:  ## remove the environment, databases and build outputs
	-$(PYTHON) tools/devtool.py stop
	rm -rf .venv .dev build dist *.egg-info
