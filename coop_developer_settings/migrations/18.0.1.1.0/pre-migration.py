# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""18.0.1.1.0: the event log.

Before, each delivery stored its event's id (a string) and the exact body.
Now the event is a record (coop.webhook.event) that deliveries reference:
one event per former event id, with the body's data, its moment and its
source record; its public id is the former id, so retries and receivers'
deduplication go on unchanged. Done in SQL before the models load, so that
the new required columns are filled when the ORM sees them.
"""

import logging

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """
        CREATE TABLE coop_webhook_event (
            id SERIAL NOT NULL PRIMARY KEY,
            public_id VARCHAR NOT NULL,
            event_type_id INTEGER NOT NULL,
            event_type VARCHAR,
            occurred_at TIMESTAMP NOT NULL,
            company_id INTEGER NOT NULL,
            data JSONB,
            res_model VARCHAR,
            res_id INTEGER,
            endpoint_id INTEGER,
            create_uid INTEGER,
            create_date TIMESTAMP,
            write_uid INTEGER,
            write_date TIMESTAMP
        )
        """
    )
    # One event per former event id (its deliveries to several endpoints
    # shared it); test events were one endpoint's.
    cr.execute(
        """
        INSERT INTO coop_webhook_event (
            public_id, event_type_id, event_type, occurred_at, company_id, data,
            res_model, res_id, endpoint_id,
            create_uid, create_date, write_uid, write_date)
        SELECT DISTINCT ON (d.event_id)
               d.event_id, t.id, t.code,
               COALESCE(
                   ((d.body::jsonb) ->> 'timestamp')::timestamptz AT TIME ZONE 'UTC',
                   d.create_date),
               d.company_id, (d.body::jsonb) -> 'data',
               CASE WHEN t.code <> 'webhook.test' THEN t.res_model END,
               CASE WHEN t.code <> 'webhook.test'
                    THEN ((d.body::jsonb) -> 'data' ->> 'id')::integer END,
               CASE WHEN t.code = 'webhook.test' THEN d.endpoint_id END,
               d.create_uid, d.create_date, d.write_uid, d.write_date
          FROM coop_webhook_delivery d
          JOIN coop_webhook_event_type t ON t.code = d.event_type
         ORDER BY d.event_id, d.id
        """
    )
    _logger.info("%s webhook events recorded from their deliveries", cr.rowcount)
    cr.execute(
        """
        ALTER TABLE coop_webhook_delivery RENAME COLUMN event_id TO former_event_id;
        ALTER TABLE coop_webhook_delivery ADD COLUMN event_id INTEGER;
        UPDATE coop_webhook_delivery d SET event_id = e.id
          FROM coop_webhook_event e WHERE e.public_id = d.former_event_id;
        """
    )
    # Deliveries of an event type that no longer exists could not be sent.
    cr.execute("DELETE FROM coop_webhook_delivery WHERE event_id IS NULL")
    if cr.rowcount:
        _logger.info("%s deliveries of unknown event types removed", cr.rowcount)
    cr.execute(
        """
        ALTER TABLE coop_webhook_delivery
            DROP COLUMN former_event_id,
            DROP COLUMN body
        """
    )
