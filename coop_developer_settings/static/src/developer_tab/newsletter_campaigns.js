/** @odoo-module **/
// The newsletters of one newsletter tool connection: per sale cycle event,
// "Send a newsletter" with the provider's template or, at Mailchimp, a copy
// of one of the list's campaigns (and the sender), and the
// newsletters made (status, report, Cancel this send, failures). Mounted
// by the Newsletter tools section, one per connection:
//     <CoopNewsletterCampaigns connectionId="connection.id"/>
// Every action is a server method that checks the rights itself.
import { Component, onWillStart, onWillUpdateProps, useState } from "@odoo/owl";
import { deserializeDateTime, formatDateTime } from "@web/core/l10n/dates";
import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";

const CONNECTION = "coop.newsletter.connection";
const CAMPAIGN = "coop.newsletter.campaign";

export class CoopNewsletterCampaigns extends Component {
    static template = "coop_developer_settings.NewsletterCampaigns";
    static props = { connectionId: Number };

    setup() {
        this.orm = useService("orm");
        this.notification = useService("notification");
        this.state = useState({
            overview: null,
            // The event being set up, with the provider's choices.
            editing: null,
            templates: [],
            senders: [],
            busy: false,
        });
        onWillStart(() => this.load());
        onWillUpdateProps((next) => this.load(next));
    }

    async load(props = this.props) {
        this.state.overview = await this.orm.call(CONNECTION, "coop_campaign_overview", [
            [props.connectionId],
        ]);
    }

    /** The provider's own templates of the picker. */
    get ownTemplates() {
        return this.state.templates.filter((template) => !template.copy);
    }

    /** The list's campaigns a newsletter can be a copy of (Mailchimp). */
    get copies() {
        return this.state.templates.filter((template) => template.copy);
    }

    formatDate(value) {
        return value ? formatDateTime(deserializeDateTime(value)) : "";
    }

    async run(action) {
        this.state.busy = true;
        try {
            await action();
        } finally {
            this.state.busy = false;
        }
    }

    /** Opens the event's setting with the provider's templates (and senders). */
    edit(event) {
        return this.run(async () => {
            const ids = [this.props.connectionId];
            const [templates, senders] = await Promise.all([
                this.orm.call(CONNECTION, "coop_templates", [ids]),
                this.state.overview.needs_sender
                    ? this.orm.call(CONNECTION, "coop_senders", [ids])
                    : Promise.resolve([]),
            ]);
            Object.assign(this.state, {
                templates,
                senders,
                editing: {
                    event_type: event.event_type,
                    reminder: event.reminder,
                    template_id: event.template_id || templates[0]?.id || "",
                    sender_id: event.sender_id || senders[0]?.id || "",
                    subject: event.subject || "",
                    delay_minutes: event.delay_minutes,
                    lead_time_hours: event.lead_time_hours,
                },
            });
        });
    }

    save() {
        const editing = this.state.editing;
        return this.run(async () => {
            await this.orm.call(
                CONNECTION,
                "action_set_newsletter",
                [[this.props.connectionId], editing.event_type, editing.template_id],
                {
                    sender_id: editing.sender_id || null,
                    subject: editing.subject || null,
                    delay_minutes: parseInt(editing.delay_minutes, 10),
                    lead_time_hours: parseInt(editing.lead_time_hours, 10),
                }
            );
            this.state.editing = null;
            await this.load();
        });
    }

    stop(event) {
        return this.run(async () => {
            await this.orm.call(CONNECTION, "action_stop_newsletter", [
                [this.props.connectionId],
                event.event_type,
            ]);
            await this.load();
        });
    }

    sendTest(event) {
        return this.run(async () => {
            const address = await this.orm.call(CONNECTION, "action_send_newsletter_test", [
                [this.props.connectionId],
                event.event_type,
            ]);
            this.notification.add(_t("Test sent to %(address)s.", { address }), {
                type: "success",
            });
        });
    }

    cancel(campaign) {
        return this.run(async () => {
            await this.orm.call(CAMPAIGN, "action_cancel_send", [[campaign.id]]);
            await this.load();
        });
    }
}
