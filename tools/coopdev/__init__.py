"""The development environment of coop_developer_settings, by concern.

Standard library only, so that a fresh clone needs nothing but Python
3.10-3.12. ``tools/devtool.py`` (what the Makefile calls) runs
:mod:`coopdev.commands`; ``tests/harness.py`` imports the modules it needs.

- :mod:`coopdev.project`: the clone's folders and the settings read from
  the environment (``COOP_DB``, ``COOP_HTTP_PORT``...);
- :mod:`coopdev.console`: progress lines, errors that say what to do next,
  running commands;
- :mod:`coopdev.source`: the Odoo 18.0 source (``ODOO_SOURCE``, the cache
  folder, the official nightly);
- :mod:`coopdev.pyenv`: the Python environment ``.venv``;
- :mod:`coopdev.postgres`: the embedded PostgreSQL cluster, or an existing
  server;
- :mod:`coopdev.odoo`: Odoo's configuration, its databases, its logs;
- :mod:`coopdev.templates`: the template databases the others are copied
  from (the addon's dependencies installed once);
- :mod:`coopdev.proxy`: the public port of ``make run``, which routes
  ``/websocket`` to Odoo's gevent port like Odoo's recommended reverse proxy;
- :mod:`coopdev.commands`: ``run``, ``test``, ``unit``, ``pictures``,
  ``bench``, ``stop``.
"""
