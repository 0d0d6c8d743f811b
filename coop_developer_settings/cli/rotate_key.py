# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""``odoo coop-rotate-key``: encrypt the secrets at rest again under the
current key, batch by batch (README: Secrets at rest)."""

import logging
import optparse
import sys
from pathlib import Path

import odoo
from odoo import SUPERUSER_ID, api
from odoo.cli import Command
from odoo.exceptions import UserError

from ..crypto import keyring as keyrings
from ..models.coop_secret_vault import SOURCE_GENERATED, key_source

_logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 100


class CoopRotateKey(Command):
    """Encrypt coop_developer_settings' secrets again under a new key"""

    name = "coop-rotate-key"

    def run(self, args):
        parser = odoo.tools.config.parser
        parser.prog = f"{Path(sys.argv[0]).name} {self.name}"
        group = optparse.OptionGroup(
            parser,
            "Key rotation",
            "Encrypt every secret at rest of the database given by -d again under "
            "the current key (the first of the keyring), committing each batch: "
            "run it again after an interruption to finish. The old keys stay in "
            "the keyring: remove them once every database using it is rotated.",
        )
        group.add_option(
            "--new-key",
            action="store_true",
            dest="coop_new_key",
            help="With the key file the addon created: put a new key in front "
            "first (not when a previous rotation is unfinished: it is finished).",
        )
        group.add_option(
            "--print-new-key",
            action="store_true",
            dest="coop_print_new_key",
            help="Print a new keyring entry (<id>:<key>) for coop_secret_key, a "
            "key file or a secret store, and stop.",
        )
        group.add_option(
            "--batch-size",
            type="int",
            dest="coop_batch_size",
            default=DEFAULT_BATCH_SIZE,
            help="Secrets encrypted again per transaction (default %default).",
        )
        parser.add_option_group(group)
        options = odoo.tools.config.parse_config(args, setup_logging=True)
        if options.coop_print_new_key:
            sys.stdout.write(keyrings.new_entry_text() + "\n")
            return
        dbname = odoo.tools.config["db_name"]
        if not dbname:
            sys.exit("coop-rotate-key needs a database: use -d")
        if options.coop_batch_size < 1:
            sys.exit("--batch-size must be at least 1")
        try:
            rotate(dbname, options.coop_new_key, options.coop_batch_size)
        except (keyrings.KeyringError, UserError) as exc:
            sys.exit(f"coop-rotate-key: {exc}")


def rotate(dbname, new_key, batch_size):
    registry = odoo.modules.registry.Registry(dbname)
    with registry.cursor() as cr:
        vault = api.Environment(cr, SUPERUSER_ID, {})["coop.secret.vault"]
        keyring = vault._keyring(create=True)
        in_use = vault._key_ids_in_use()
        unfinished = set(in_use) - {keyring.current_id}
        if new_key and unfinished:
            _logger.info(
                "a previous rotation is unfinished (keys %s): finishing it, no new key",
                ", ".join(sorted(unfinished)),
            )
        elif new_key:
            source, where = key_source()
            if source != SOURCE_GENERATED:
                raise keyrings.KeyringError(
                    "--new-key only extends the key file the addon created; put "
                    "the new key first in your keyring (--print-new-key makes one) "
                    "and run without --new-key"
                )
            keyring = keyrings.add_key_to_file(where)
            _logger.info("new key %s added in front of %s", keyring.current_id, where)
        total = 0
        for table, column in vault._sealed_columns():
            while count := vault._reencrypt_batch(table, column, batch_size):
                # Each batch for good: a killed run resumes after it.
                cr.commit()  # pylint: disable=invalid-commit
                total += count
                _logger.info("%s.%s: %s more encrypted again", table, column, count)
        _logger.info(
            "done: %s secrets encrypted again under key %s; keys in use in %s: %s",
            total,
            keyring.current_id,
            dbname,
            ", ".join(sorted(vault._key_ids_in_use())) or "none",
        )
