/** @odoo-module **/
// The Developer settings tab: API keys, and one section per event of the
// catalogue with its endpoints, an inline Create and each endpoint's
// actions. Every action is a server method that checks the rights itself;
// this component only shows their results in place, so that the user never
// leaves the tab (the Preferences dialog would close on any other dialog
// action).
import { Component, onWillStart, onWillUnmount, onWillUpdateProps, useState } from "@odoo/owl";
import { ConfirmationDialog } from "@web/core/confirmation_dialog/confirmation_dialog";
import { CopyButton } from "@web/core/copy_button/copy_button";
import { Dialog } from "@web/core/dialog/dialog";
import { deserializeDateTime, formatDateTime } from "@web/core/l10n/dates";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardWidgetProps } from "@web/views/widgets/standard_widget_props";
import { CoopNewsletterCampaigns } from "./newsletter_campaigns";

const ENDPOINT = "coop.webhook.endpoint";
const CONNECTION = "coop.newsletter.connection";
const IDENTITY_CHECK = "res.users.identitycheck";
// While the log shows deliveries on their way, or a newsletter sync is
// under way, the tab asks again this often.
const LOG_REFRESH_MS = 2000;
// How long the tab goes on reading the connections after Sync now.
const SYNC_ASKED_MS = 60000;

/** Whose tab it is: the form's user, or the user of the form's contact. */
function userIdOf({ record, userField }) {
    if (!userField) {
        return record.resId;
    }
    const value = record.data[userField];
    return Array.isArray(value) ? value[0] : value?.id;
}

/** Odoo's own password check (check_identity), asked in a small dialog
 * stacked on the tab instead of the action that would replace it. */
export class CoopIdentityDialog extends Component {
    static template = "coop_developer_settings.IdentityDialog";
    static components = { Dialog };
    static props = { close: Function, confirm: Function };

    setup() {
        this.state = useState({ password: "", error: "" });
    }

    async onConfirm() {
        try {
            await this.props.confirm(this.state.password);
            this.props.close();
        } catch (error) {
            this.state.error = error.data?.message || String(error);
        }
    }
}

export class CoopDeveloperTab extends Component {
    static template = "coop_developer_settings.DeveloperTab";
    static components = { CopyButton, CoopNewsletterCampaigns };
    static props = { ...standardWidgetProps, userField: { type: String, optional: true } };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.dialog = useService("dialog");
        this.notification = useService("notification");
        this.state = useState({
            tab: null,
            urls: {},
            // endpoint id: its secret, shown after Create or Secret.
            secrets: {},
            // endpoint id: its delivery log, when open.
            logs: {},
            newsletter: null,
            // The Connect form, when open: {provider, key, shopId, error}.
            connect: null,
            // connection id: the provider's lists, while the picker is open.
            lists: {},
            // connection id: the list chosen in the picker.
            chosenLists: {},
        });
        this.syncTimer = null;
        this.syncAskedUntil = 0;
        this.refreshTimer = null;
        onWillStart(() => this.load());
        // An administrator's pager moves the form to another user.
        onWillUpdateProps((nextProps) => {
            if (userIdOf(nextProps) !== this.userId) {
                Object.assign(this.state, {
                    urls: {},
                    secrets: {},
                    logs: {},
                    connect: null,
                    lists: {},
                    chosenLists: {},
                });
                return this.load(nextProps);
            }
        });
        onWillUnmount(() => {
            clearTimeout(this.refreshTimer);
            clearTimeout(this.syncTimer);
        });
    }

    get userId() {
        return userIdOf(this.props);
    }

    async load(props = this.props) {
        const userId = userIdOf(props);
        this.state.tab = userId
            ? await this.orm.call("res.users", "coop_developer_tab", [[userId]])
            : null;
        await this.loadNewsletter(userId);
    }

    formatDate(value) {
        return value ? formatDateTime(deserializeDateTime(value)) : "";
    }

    /** The health of an endpoint, one sentence a line. */
    healthLines(endpoint) {
        const lines = [];
        if (endpoint.last_attempt_at) {
            lines.push({
                className: endpoint.last_attempt_ok ? "text-success" : "text-danger",
                text: _t("Last delivery: %(status)s, %(date)s", {
                    status: endpoint.last_attempt_status || endpoint.last_attempt_error,
                    date: this.formatDate(endpoint.last_attempt_at),
                }),
            });
        } else {
            lines.push({ className: "text-muted", text: _t("No delivery yet.") });
        }
        if (endpoint.failing_since) {
            lines.push({
                className: "text-danger",
                text: _t("Failing since %(date)s.", {
                    date: this.formatDate(endpoint.failing_since),
                }),
            });
        }
        if (endpoint.disable_on) {
            lines.push({
                className: "text-danger",
                text: _t("Disabled on %(date)s if it keeps failing.", {
                    date: this.formatDate(endpoint.disable_on),
                }),
            });
        }
        if (endpoint.disabled_reason) {
            lines.push({
                className: "",
                text: _t("Disabled: %(reason)s", { reason: endpoint.disabled_reason }),
            });
        }
        if (endpoint.lead_time_hours) {
            lines.push({
                className: "text-muted",
                text: _t("Sent %(hours)s hours before the date.", {
                    hours: endpoint.lead_time_hours,
                }),
            });
        }
        return lines;
    }

    /** Calls a button method of the server; asks the password when Odoo's
     * identity check wants it, shows the notifications it returns. */
    async callButton(model, method, ids, args = []) {
        let result = await this.orm.call(model, method, [ids, ...args]);
        if (result?.res_model === IDENTITY_CHECK) {
            result = await this.checkIdentity(result.res_id);
        }
        if (result?.tag === "display_notification") {
            const { message, type, sticky } = result.params;
            this.notification.add(message, { type, sticky });
        }
        return result;
    }

    checkIdentity(wizardId) {
        return new Promise((resolve) => {
            let result = null;
            this.dialog.add(
                CoopIdentityDialog,
                {
                    confirm: async (password) => {
                        await this.orm.write(IDENTITY_CHECK, [wizardId], { password });
                        result = await this.orm.call(IDENTITY_CHECK, "run_check", [
                            [wizardId],
                        ]);
                    },
                },
                { onClose: () => resolve(result) }
            );
        });
    }

    // API keys ------------------------------------------------------------

    async generateKey() {
        // The key wizard and its one-time display are dialogs of their own.
        const action = await this.orm.call("res.users", "action_coop_generate_api_key", [
            [this.userId],
        ]);
        await this.action.doAction(action);
    }

    async revokeKey(key) {
        await this.callButton("res.users.apikeys", "remove", [key.id]);
        await this.load();
    }

    // Webhooks ------------------------------------------------------------

    async create(event) {
        const url = (this.state.urls[event.id] || "").trim();
        const created = await this.orm.call(ENDPOINT, "coop_tab_create", [
            event.id,
            url,
            this.state.tab.is_self ? null : this.userId,
        ]);
        this.state.urls[event.id] = "";
        this.state.secrets[created.id] = created.secret;
        await this.load();
    }

    onUrlKeydown(event, ev) {
        if (ev.key === "Enter") {
            ev.preventDefault();
            this.create(event);
        }
    }

    async sendTestEvent(endpoint) {
        await this.callButton(ENDPOINT, "action_send_test_event", [endpoint.id]);
        await this.load();
        await this.openLog(endpoint);
    }

    async toggleLog(endpoint) {
        if (this.state.logs[endpoint.id]) {
            delete this.state.logs[endpoint.id];
        } else {
            await this.openLog(endpoint);
        }
    }

    async openLog(endpoint) {
        this.state.logs[endpoint.id] = await this.orm.call(ENDPOINT, "coop_tab_deliveries", [
            [endpoint.id],
        ]);
        this.scheduleLogRefresh();
    }

    /** Deliveries on their way end within seconds: the open logs that show
     * some are read again until they are done (and the health with them). */
    scheduleLogRefresh() {
        clearTimeout(this.refreshTimer);
        const waiting = Object.entries(this.state.logs).filter(([, rows]) =>
            rows.some((row) => ["pending", "retrying"].includes(row.state))
        );
        if (!waiting.length) {
            return;
        }
        this.refreshTimer = setTimeout(async () => {
            for (const [endpointId] of waiting) {
                if (this.state.logs[endpointId]) {
                    this.state.logs[endpointId] = await this.orm.call(
                        ENDPOINT,
                        "coop_tab_deliveries",
                        [[Number(endpointId)]]
                    );
                }
            }
            await this.load();
            this.scheduleLogRefresh();
        }, LOG_REFRESH_MS);
    }

    async redeliver(endpoint, row) {
        await this.callButton("coop.webhook.delivery", "action_redeliver", [row.id]);
        await this.load();
        await this.openLog(endpoint);
    }

    /** Secret and Rotate secret: both answer with the secret's dialog
     * action (after the password check); the secret is shown in place. */
    async showSecret(endpoint, method = "action_reveal_secret") {
        const result = await this.callButton(ENDPOINT, method, [endpoint.id]);
        const secret = result?.context?.default_secret;
        if (secret) {
            this.state.secrets[endpoint.id] = secret;
        }
    }

    /** The less frequent actions keep their own dialog (a form, a date). */
    async openDialogAction(endpoint, method) {
        const action = await this.callButton(ENDPOINT, method, [endpoint.id]);
        if (action?.type === "ir.actions.act_window") {
            await this.action.doAction(action, { onClose: () => this.load() });
        }
    }

    hideSecret(endpoint) {
        delete this.state.secrets[endpoint.id];
    }

    async setEnabled(endpoint, enabled) {
        await this.callButton(ENDPOINT, enabled ? "action_enable" : "action_disable", [
            endpoint.id,
        ]);
        await this.load();
    }

    async enableAndResend(endpoint) {
        await this.callButton(ENDPOINT, "action_enable_and_resend", [endpoint.id]);
        await this.load();
        await this.openLog(endpoint);
    }

    deleteEndpoint(endpoint) {
        this.dialog.add(ConfirmationDialog, {
            body: _t("Delete this webhook and its delivery log?"),
            confirmLabel: _t("Delete"),
            confirm: async () => {
                await this.callButton(ENDPOINT, "action_delete", [endpoint.id]);
                delete this.state.secrets[endpoint.id];
                delete this.state.logs[endpoint.id];
                await this.load();
            },
            cancel: () => {},
        });
    }

    // Newsletter tools ------------------------------------------------------

    async loadNewsletter(userId = this.userId) {
        this.state.newsletter = userId
            ? await this.orm.call(CONNECTION, "coop_tab", [userId])
            : null;
        this.scheduleSyncRefresh();
    }

    /** A sync runs as jobs in the background: while one is under way, or
     * for a while after Sync now (a failing connection stays shown failing
     * until a sync succeeds), the section is read again. */
    scheduleSyncRefresh() {
        clearTimeout(this.syncTimer);
        const syncing = this.state.newsletter?.connections.some(
            (connection) => connection.state === "syncing"
        );
        if (syncing || Date.now() < this.syncAskedUntil) {
            this.syncTimer = setTimeout(() => this.loadNewsletter(), LOG_REFRESH_MS);
        }
    }

    /** The lines under a connection: its last sync, its trouble, and
     * whether unsubscribes made in the tool come back. */
    connectionLines(connection) {
        const lines = [];
        const counts = connection.counts;
        const tool = connection.provider_name;
        if (connection.last_sync_at) {
            lines.push({
                className: "",
                text: _t("Last sync: %(date)s.", {
                    date: this.formatDate(connection.last_sync_at),
                }),
            });
            const figures = [
                _t("%(count)s subscribed", { count: counts.subscribed }),
                _t("%(count)s unsubscribed", { count: counts.opted_out }),
                _t("%(count)s taken off the list", { count: counts.removed }),
            ];
            if (counts.rejected) {
                figures.push(
                    _t("%(count)s refused by %(tool)s", { count: counts.rejected, tool })
                );
            }
            if (counts.skipped_none) {
                figures.push(
                    _t("%(count)s left out: no valid email address", {
                        count: counts.skipped_none,
                    })
                );
            }
            if (counts.skipped_several) {
                figures.push(
                    _t("%(count)s left out: several email addresses in one field", {
                        count: counts.skipped_several,
                    })
                );
            }
            lines.push({ className: "text-muted", text: figures.join(", ") + "." });
        } else if (connection.list_id && connection.state !== "disconnected") {
            lines.push({ className: "text-muted", text: _t("Not synced yet.") });
        }
        if (connection.failing_since) {
            lines.push({
                className: "text-danger",
                text: _t("Failing since %(date)s.", {
                    date: this.formatDate(connection.failing_since),
                }),
            });
        }
        if (connection.last_error) {
            lines.push({
                className: "text-danger",
                text: _t("Last problem: %(message)s", { message: connection.last_error }),
            });
        }
        if (connection.state === "disconnected") {
            if (connection.disconnected_reason) {
                lines.push({
                    className: "text-muted",
                    text: _t("Disconnected: %(reason)s", {
                        reason: connection.disconnected_reason,
                    }),
                });
            }
        } else if (connection.optout_active) {
            lines.push({
                className: "text-success",
                text: _t(
                    "People who unsubscribe in %(tool)s are also unsubscribed in Odoo, and never added back.",
                    { tool }
                ),
            });
        } else if (connection.optout_needs_public_address) {
            lines.push({
                className: "text-warning-emphasis",
                text: _t(
                    "People who unsubscribe in %(tool)s are not unsubscribed in Odoo yet: %(tool)s cannot reach this Odoo, whose address is not a public https:// address. Ask the person who runs your Odoo to give it one (the web.base.url system parameter), then choose the list again.",
                    { tool }
                ),
            });
        } else if (connection.optout_status) {
            lines.push({ className: "text-warning-emphasis", text: connection.optout_status });
        }
        return lines;
    }

    openConnect(provider) {
        const shops = this.state.newsletter.shops;
        this.state.connect = {
            provider,
            key: "",
            shopId: shops.length === 1 ? shops[0].id : null,
            error: "",
        };
    }

    cancelConnect() {
        this.state.connect = null;
    }

    async connect() {
        const form = this.state.connect;
        if (!form.shopId) {
            form.error = _t("Choose the shop whose buyers go to the list.");
            return;
        }
        try {
            const connected = await this.orm.call(CONNECTION, "coop_connect", [
                form.provider,
                form.key,
                Number(form.shopId),
            ]);
            this.state.connect = null;
            await this.loadNewsletter();
            await this.openLists({ id: connected.id });
        } catch (error) {
            // The provider's refusal, said in the form: nothing was saved.
            form.error = error.data?.message || String(error);
        }
    }

    onKeyKeydown(ev) {
        if (ev.key === "Enter") {
            ev.preventDefault();
            this.connect();
        }
    }

    async openLists(connection) {
        const lists = await this.orm.call(CONNECTION, "coop_lists", [[connection.id]]);
        this.state.chosenLists[connection.id] =
            connection.list_id || (lists.length ? lists[0].id : "");
        this.state.lists[connection.id] = lists;
    }

    closeLists(connection) {
        delete this.state.lists[connection.id];
    }

    async setList(connection) {
        await this.orm.call(CONNECTION, "action_set_list", [
            [connection.id],
            this.state.chosenLists[connection.id],
        ]);
        this.closeLists(connection);
        await this.loadNewsletter();
    }

    async syncNow(connection) {
        await this.orm.call(CONNECTION, "action_sync_now", [[connection.id]]);
        this.syncAskedUntil = Date.now() + SYNC_ASKED_MS;
        await this.loadNewsletter();
    }

    disconnect(connection) {
        this.dialog.add(ConfirmationDialog, {
            body: _t(
                "Disconnect %(account)s? The buyers are no longer sent to %(tool)s, and the API key is forgotten. The contacts already in %(tool)s stay there.",
                { account: connection.account_name, tool: connection.provider_name }
            ),
            confirmLabel: _t("Disconnect"),
            confirm: async () => {
                await this.orm.call(CONNECTION, "action_disconnect", [[connection.id]]);
                this.closeLists(connection);
                await this.loadNewsletter();
            },
            cancel: () => {},
        });
    }

    removeConnection(connection) {
        this.dialog.add(ConfirmationDialog, {
            body: _t("Remove this disconnected connection from the list?"),
            confirmLabel: _t("Remove"),
            confirm: async () => {
                await this.orm.unlink(CONNECTION, [connection.id]);
                await this.loadNewsletter();
            },
            cancel: () => {},
        });
    }
}

registry.category("view_widgets").add("coop_developer_tab", {
    component: CoopDeveloperTab,
    extractProps: ({ attrs }) => ({ userField: attrs.user_field }),
});
