/** @odoo-module **/
// Tours of the Developer settings tab, as a user walks it.
import { rpc } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";

function openDeveloperTab() {
    return [
        {
            content: "Open the user menu",
            trigger: "body:not(:has(.modal)) .o_user_menu .dropdown-toggle",
            run: "click",
        },
        {
            content: "Open the preferences",
            trigger: "[data-menu=settings]",
            run: "click",
        },
        {
            content: "Open the Developer settings tab",
            trigger: 'a[role=tab]:contains("Developer settings")',
            run: "click",
        },
    ];
}

// Generate an API key, confirm the password, see the key once, then find it
// listed without it.
registry.category("web_tour.tours").add("coop_developer_settings_api_key", {
    url: "/odoo",
    steps: () => [
        ...openDeveloperTab(),
        {
            content: "Generate an API key",
            trigger: "button[name=action_coop_generate_api_key]",
            run: "click",
        },
        {
            content: "Name the key after the tool",
            trigger: ".modal [name=name] input",
            run: "edit Brevo newsletter",
        },
        {
            content: "Generate it",
            trigger: ".modal button[name=make_key]",
            run: "click",
        },
        {
            content: "Confirm the password (Odoo's identity check)",
            trigger: ".modal [name=password] input",
            run: "edit coop-dev-tour",
        },
        {
            content: "Confirm",
            trigger: ".modal button:contains(Confirm Password)",
            run: "click",
        },
        {
            content: "The key is shown once, with how to use it",
            trigger: ".modal:contains(How to use it) .o_coop_api_key",
            run() {
                const key = this.anchor.textContent.trim();
                if (!/^[0-9a-f]{40}$/.test(key)) {
                    throw new Error(`Not an API key: "${key}"`);
                }
            },
        },
        {
            content: "Done",
            trigger: ".modal button:contains(Done)",
            run: "click",
        },
        ...openDeveloperTab(),
        {
            content: "The key is listed by name; its value is nowhere on the page",
            trigger: '.o_field_widget[name=coop_api_key_ids] td:contains("Brevo newsletter")',
            run() {
                if (/[0-9a-f]{40}/.test(document.body.innerText)) {
                    throw new Error("The key is still visible after closing its dialog");
                }
            },
        },
    ],
});

// Create a webhook from the tab (paste the URL, Create), then send a test event.
registry.category("web_tour.tours").add("coop_developer_settings_webhook", {
    url: "/odoo",
    steps: () => [
        ...openDeveloperTab(),
        {
            content: "Add an endpoint to the 'Sale cycle opened' row",
            trigger:
                '.o_field_widget[name=coop_webhook_event_type_ids] tr:contains("Sale cycle opened") button[name=action_add_endpoint]',
            run: "click",
        },
        {
            content: "Paste the URL the other tool gave",
            trigger: ".modal [name=url] input",
            async run(helpers) {
                // The test's receiver listens on a free port, given by the test.
                const url = await rpc("/web/dataset/call_kw/ir.config_parameter/get_param", {
                    model: "ir.config_parameter",
                    method: "get_param",
                    args: ["coop_developer_settings.tour_receiver_url"],
                    kwargs: {},
                });
                await helpers.edit(url);
            },
        },
        {
            content: "Create",
            trigger: ".modal button:contains(Create)",
            run: "click",
        },
        {
            content: "Back to the tab once the dialog is closed",
            trigger: "body:not(:has(.modal .o_form_view [name=url]))",
        },
        ...openDeveloperTab(),
        {
            content: "The endpoint is listed; send a test event",
            trigger:
                ".o_field_widget[name=coop_webhook_endpoint_ids] button[name=action_send_test_event]",
            run: "click",
        },
        {
            content: "The test event is queued",
            trigger: ".o_notification:contains(Test event queued)",
        },
    ],
});
