"""Every webhook setting, its one default, and how it is read.

The settings page (its defaults and its checks), the endpoint's URL check
and the delivery job all read them through ``WebhookSettings.from_params``,
given a ``get_param``-like callable (Odoo's ``ir.config_parameter``).
"""

from dataclasses import dataclass, field, fields

from . import retry, url_guard

PARAM_PREFIX = "coop_developer_settings."


class InvalidSetting(ValueError):
    """A stored value that does not parse; ``name`` is the setting's."""

    def __init__(self, name, value):
        super().__init__(f"{name}: {value!r}")
        self.name = name
        self.value = value


def _flag(text):
    return text.strip().lower() not in ("", "0", "false")


def _seconds(text):
    value = int(text)  # whole seconds, as the settings page shows them
    # A timeout of 0 would never connect; more than 5 minutes would hold a
    # worker for that long.
    if not 0 < value <= 300:
        raise ValueError(text)
    return value


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _concurrency(text):
    value = int(text)
    # Threads of one worker: more would only wait on each other.
    if not 0 < value <= 100:
        raise ValueError(text)
    return value


def _networks(text):
    try:
        return url_guard.parse_networks(text)
    except url_guard.UnsafeUrl as exc:
        raise ValueError(text) from exc


def _setting(param, parse, default):
    return field(default=default, metadata={"param": param, "parse": parse})


@dataclass(frozen=True)
class WebhookSettings:
    allow_http: bool = _setting("webhook_allow_http", _flag, False)
    allowed_networks: tuple = _setting("allowed_private_networks", _networks, ())
    retry_schedule: tuple = _setting(
        "webhook_retry_schedule", retry.parse_schedule, retry.DEFAULT_SCHEDULE
    )
    connect_timeout: int = _setting("webhook_connect_timeout", _seconds, 5)
    # The whole attempt (DNS, connection, TLS, answer) ends within it.
    total_timeout: int = _setting("webhook_total_timeout", _seconds, 15)
    disable_after_days: int = _setting("webhook_disable_after_days", _positive_int, 5)
    retention_days: int = _setting("webhook_retention_days", _positive_int, 30)
    # Send test event, Redeliver and the resends: at most once per endpoint
    # in this many seconds (0: no limit).
    manual_send_interval: int = _setting(
        "webhook_manual_send_interval", _non_negative_int, 10
    )

    # One delivery job sends its batch with at most this many attempts at
    # once, and at most endpoint_concurrency of them to one endpoint.
    delivery_concurrency: int = _setting(
        "webhook_delivery_concurrency", _concurrency, 32
    )
    endpoint_concurrency: int = _setting(
        "webhook_endpoint_concurrency", _concurrency, 4
    )

    @classmethod
    def params(cls):
        """{attribute: full parameter key}."""
        return {f.name: PARAM_PREFIX + f.metadata["param"] for f in fields(cls)}

    @classmethod
    def from_params(cls, get_param, strict=False):
        """The settings stored under their parameter keys.

        Unset or empty: the default. A value that does not parse is the
        default too (a delivery never fails on a bad setting), or raises
        InvalidSetting when strict (the settings page refuses it).
        """
        values = {}
        for setting in fields(cls):
            raw = get_param(PARAM_PREFIX + setting.metadata["param"])
            if raw is None or raw is False or not str(raw).strip():
                continue
            try:
                values[setting.name] = setting.metadata["parse"](str(raw))
            except (ValueError, OverflowError) as exc:
                if strict:
                    raise InvalidSetting(setting.name, raw) from exc
        return cls(**values)


DEFAULTS = WebhookSettings()
