# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Secrets at rest: where the key is, and encryption for the models.

The key is never in the database: in the server configuration
(coop_secret_key, or coop_secret_key_file naming a file), in the server's
environment (COOP_SECRET_KEY), or else in a file the addon creates on first
use in Odoo's data directory. A database dump alone opens no secret.

A model keeps its secrets sealed in columns the ORM does not know (it
inherits coop.sealed.mixin and names them in its _coop_sealed_columns), so
that no read, export, tracking or log can return them; the key rotation
(cli/rotate_key.py) encrypts those columns again under the current key.
"""

import logging
import os

from odoo import api, models
from odoo.exceptions import UserError
from odoo.tools import SQL, config, sql

from ..crypto import keyring as keyrings
from ..crypto import sealing

_logger = logging.getLogger(__name__)

KEY_OPTION = "coop_secret_key"
KEY_FILE_OPTION = "coop_secret_key_file"
KEY_ENVIRONMENT = "COOP_SECRET_KEY"
# In the data directory but outside the filestore, which Odoo's own database
# backups include.
GENERATED_KEY_FILE = ("coop_developer_settings", "secret.keys")
# Where the keyring comes from (key_source()).
SOURCE_OPTION, SOURCE_FILE, SOURCE_ENVIRONMENT, SOURCE_GENERATED = (
    "option",
    "file",
    "environment",
    "generated",
)


def key_source():
    """(source, where): the configuration option, a file named by the
    configuration, the environment variable, or the generated file."""
    if config.get(KEY_OPTION):
        return SOURCE_OPTION, KEY_OPTION
    if config.get(KEY_FILE_OPTION):
        return SOURCE_FILE, config[KEY_FILE_OPTION]
    if os.environ.get(KEY_ENVIRONMENT):
        return SOURCE_ENVIRONMENT, KEY_ENVIRONMENT
    return SOURCE_GENERATED, os.path.join(config["data_dir"], *GENERATED_KEY_FILE)


def load_keyring(create=False):
    """The keyring of key_source(); the generated file is created when
    create is set (to encrypt) and there is none. KeyringError otherwise."""
    source, where = key_source()
    if source == SOURCE_OPTION:
        return keyrings.parse(config[KEY_OPTION])
    if source == SOURCE_ENVIRONMENT:
        return keyrings.parse(os.environ[KEY_ENVIRONMENT])
    if source == SOURCE_GENERATED and create:
        return keyrings.load_or_create_file(where)
    return keyrings.load_file(where)


class SecretUnreadable(UserError):
    """This sealed secret cannot be opened with the keys this server has
    (its key was lost or removed, or the value was altered)."""


class CoopSecretVault(models.AbstractModel):
    _name = "coop.secret.vault"
    _description = "Secrets at rest"

    @api.model
    def _keyring(self, create=False):
        try:
            return load_keyring(create=create)
        except (keyrings.KeyringError, OSError) as exc:
            # The reason names a file or a position, never a key.
            _logger.error("secrets at rest: the key cannot be loaded: %s", exc)
            raise UserError(
                self.env._(
                    "Secrets cannot be encrypted or read: the server's encryption "
                    "key is missing or invalid. An administrator must restore it "
                    "(see Secrets at rest in the addon's README)."
                )
            ) from None

    @api.model
    def _purpose(self, table, column):
        """What a sealed value is: it opens in that column only."""
        return f"{table}.{column}"

    @api.model
    def _seal(self, plaintext, purpose):
        return sealing.seal(self._keyring(create=True), plaintext, purpose)

    @api.model
    def _unseal(self, sealed, purpose):
        try:
            return sealing.unseal(self._keyring(create=True), sealed, purpose)
        except sealing.SealError as exc:
            _logger.error("secrets at rest: %s cannot be opened: %s", purpose, exc)
            raise SecretUnreadable(
                self.env._(
                    "This secret cannot be decrypted: it was encrypted with a key "
                    "this server no longer has. Rotate the secret to get a new one, "
                    "and give it to the receiving tool."
                )
            ) from None

    @api.model
    def _sealed_columns(self):
        """[(table, column)] of every model's sealed secrets."""
        return [
            (model._table, column)
            for model in self.env.registry.values()
            if not model._abstract
            for column in getattr(model, "_coop_sealed_columns", ())
        ]

    @api.model
    def _key_ids_in_use(self):
        """{key id: number of sealed values under it}, in this database."""
        counts = {}
        for table, column in self._sealed_columns():
            self.env.cr.execute(
                SQL(
                    "SELECT split_part(%(column)s, ':', 2), COUNT(*) FROM %(table)s "
                    "WHERE %(column)s IS NOT NULL GROUP BY 1",
                    table=SQL.identifier(table),
                    column=SQL.identifier(column),
                )
            )
            for key_id, count in self.env.cr.fetchall():
                counts[key_id] = counts.get(key_id, 0) + count
        return counts

    @api.model
    def _reencrypt_batch(self, table, column, batch_size):
        """Encrypt again, under the current key, up to batch_size values of
        a column sealed with another key (each value says its key: the
        batches resume where a killed run stopped). Returns how many."""
        keyring = self._keyring()
        purpose = self._purpose(table, column)
        self.env.cr.execute(
            SQL(
                "SELECT id, %(column)s FROM %(table)s WHERE %(column)s IS NOT NULL "
                "AND split_part(%(column)s, ':', 2) <> %(current)s "
                "ORDER BY id LIMIT %(limit)s FOR UPDATE",
                table=SQL.identifier(table),
                column=SQL.identifier(column),
                current=keyring.current_id,
                limit=batch_size,
            )
        )
        rows = self.env.cr.fetchall()
        for row_id, sealed in rows:
            plaintext = self._unseal(sealed, purpose)
            self.env.cr.execute(
                SQL(
                    "UPDATE %(table)s SET %(column)s = %(sealed)s WHERE id = %(id)s",
                    table=SQL.identifier(table),
                    column=SQL.identifier(column),
                    sealed=sealing.seal(keyring, plaintext, purpose),
                    id=row_id,
                )
            )
        return len(rows)

    @api.model
    def _key_location_text(self):
        """Where the key is and what a backup must hold, for the settings."""
        source, where = key_source()
        if source == SOURCE_OPTION:
            text = self.env._(
                "Webhook signing secrets and newsletter tools' API keys "
                "are encrypted with the key in the server "
                "configuration (option %(option)s).",
                option=where,
            )
        elif source == SOURCE_FILE:
            text = self.env._(
                "Webhook signing secrets and newsletter tools' API keys "
                "are encrypted with the key in the file "
                "%(path)s (option %(option)s of the server configuration).",
                path=where,
                option=KEY_FILE_OPTION,
            )
        elif source == SOURCE_ENVIRONMENT:
            text = self.env._(
                "Webhook signing secrets and newsletter tools' API keys "
                "are encrypted with the key in the server's "
                "environment variable %(variable)s.",
                variable=where,
            )
        elif os.path.exists(where):
            text = self.env._(
                "Webhook signing secrets and newsletter tools' API keys "
                "are encrypted with a key the addon created "
                "on the server, outside the database, in %(path)s (readable by "
                "Odoo's system user only).",
                path=where,
            )
        else:
            text = self.env._(
                "Webhook signing secrets and newsletter tools' API keys "
                "will be encrypted with a key the addon "
                "creates on first use on the server, outside the database, in "
                "%(path)s (readable by Odoo's system user only).",
                path=where,
            )
        backup = self.env._(
            "A backup must hold the database and this key: without the key, "
            "the secrets cannot be read. See Secrets at rest in the addon's "
            "README to move the key or rotate it."
        )
        return f"{text} {backup}"


class CoopSealedMixin(models.AbstractModel):
    """Secrets sealed in columns of the model's table that the ORM does not
    know: created with the table, read and written only through these methods, each
    value sealed for its own table and column (it opens there only)."""

    _name = "coop.sealed.mixin"
    _description = "Secrets sealed at rest"
    _coop_sealed_columns = ()

    def _auto_init(self):
        res = super()._auto_init()
        for column in self._coop_sealed_columns:
            if not sql.column_exists(self.env.cr, self._table, column):
                sql.create_column(self.env.cr, self._table, column, "varchar")
        return res

    def _coop_seal(self, values):
        """{column: the value sealed for it, or None}, of values {column:
        plaintext or None}: sealed before anything is written, so that
        without a usable key nothing is."""
        vault = self.env["coop.secret.vault"]
        return {
            column: value and vault._seal(value, vault._purpose(self._table, column))
            for column, value in values.items()
        }

    def _coop_write_sealed(self, sealed):
        """Store sealed values ({column: sealed or None}) in this record."""
        self.ensure_one()
        self.env.cr.execute(
            SQL(
                "UPDATE %s SET %s WHERE id = %s",
                SQL.identifier(self._table),
                SQL(", ").join(
                    SQL("%s = %s", SQL.identifier(column), value)
                    for column, value in sealed.items()
                ),
                self.id,
            ),
            # Never logged, whatever happens: only ciphertext, but no value
            # of a secret column belongs in a log line.
            log_exceptions=False,
        )

    def _coop_store_sealed(self, values):
        """Seal and store values ({column: plaintext or None})."""
        self._coop_write_sealed(self._coop_seal(values))

    def _coop_read_sealed(self, *columns):
        """The values of columns in this record, as stored: sealed, or None."""
        self.ensure_one()
        self.env.cr.execute(
            SQL(
                "SELECT %s FROM %s WHERE id = %s",
                SQL(", ").join(SQL.identifier(column) for column in columns),
                SQL.identifier(self._table),
                self.id,
            )
        )
        return self.env.cr.fetchone() or (None,) * len(columns)

    def _coop_unseal(self, column, sealed):
        """The plaintext of a value sealed for column."""
        vault = self.env["coop.secret.vault"]
        return vault._unseal(sealed, vault._purpose(self._table, column))
