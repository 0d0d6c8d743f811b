/** @odoo-module **/
// Walks the Developer settings tab as a user would: generate an API key,
// confirm the password, see the key once, then find it listed without it.
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("coop_developer_settings_api_key", {
    url: "/odoo",
    steps: () => [
        {
            content: "Open the user menu",
            trigger: ".o_user_menu .dropdown-toggle",
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
        {
            content: "Open the user menu again",
            trigger: "body:not(:has(.modal)) .o_user_menu .dropdown-toggle",
            run: "click",
        },
        {
            content: "Open the preferences again",
            trigger: "[data-menu=settings]",
            run: "click",
        },
        {
            content: "Open the Developer settings tab again",
            trigger: 'a[role=tab]:contains("Developer settings")',
            run: "click",
        },
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
