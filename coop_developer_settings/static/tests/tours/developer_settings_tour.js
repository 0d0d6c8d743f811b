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
            trigger: "a[role=tab][name=coop_developer_settings]",
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
            trigger: ".o_coop_generate_key",
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
            trigger: '.o_coop_api_key_row td:contains("Brevo newsletter")',
            run() {
                if (/[0-9a-f]{40}/.test(document.body.innerText)) {
                    throw new Error("The key is still visible after closing its dialog");
                }
            },
        },
    ],
});

const OPENED = '.o_coop_event[data-event-code="sale_cycle.opened"]';

function noOverflowStep(what) {
    return {
        content: `No text of the tab overflows its box: ${what}`,
        trigger: ".tab-pane.active:has(.o_coop_developer_tab)",
        run() {
            const texts = overflowingTexts(this.anchor);
            if (texts.length) {
                throw new Error(`Texts overflow their box (${what}): ${JSON.stringify(texts)}`);
            }
        },
    };
}

// The seed's flow, without leaving the tab: paste the URL at the event,
// Create, see the endpoint and its secret, send a test event, see its
// delivery in the log.
registry.category("web_tour.tours").add("coop_developer_settings_webhook", {
    url: "/odoo",
    steps: () => [
        ...openDeveloperTab(),
        {
            content: "A URL that is not one",
            trigger: `${OPENED} .o_coop_create_url`,
            run: "edit ftp://hooks.example.org/x",
        },
        {
            content: "Create",
            trigger: `${OPENED} .o_coop_create_button`,
            run: "click",
        },
        {
            content: "The refusal says what to do",
            trigger: '.modal:contains("The URL must start with https://") .modal-footer .btn-primary',
            run: "click",
        },
        {
            content: "Paste the URL the other tool gave at 'Sale cycle opened'",
            trigger: `${OPENED} .o_coop_create_url`,
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
            content: "Create, on the same row",
            trigger: `${OPENED} .o_coop_create_button`,
            run: "click",
        },
        {
            content: "The new endpoint is shown in place, enabled",
            trigger: `${OPENED} .o_coop_endpoint:has(.o_coop_endpoint_url:contains(127.0.0.1)) .o_coop_endpoint_state`,
        },
        {
            content: "Its signing secret is shown once, with a copy button and what it is for",
            trigger: `${OPENED} .o_coop_secret:contains(webhook-signature):has(.o_coop_copy_secret) .o_coop_secret_value`,
            run() {
                if (!/^whsec_/.test(this.anchor.textContent.trim())) {
                    throw new Error(`Not a signing secret: "${this.anchor.textContent}"`);
                }
            },
        },
        noOverflowStep("the new endpoint and its secret"),
        {
            content: "Send a test event",
            trigger: `${OPENED} .o_coop_send_test`,
            run: "click",
        },
        {
            content: "The log shows the delivery, answered 200 by the receiver",
            trigger: `${OPENED} .o_coop_log .o_coop_delivery_row[data-state=done] .o_coop_delivery_status:contains(200)`,
        },
        noOverflowStep("the delivery log"),
        {
            content: "Hide the secret",
            trigger: `${OPENED} .o_coop_secret button:contains(Hide)`,
            run: "click",
        },
        {
            content: "Show it again: Secret",
            trigger: `${OPENED}:not(:has(.o_coop_secret)) .o_coop_secret_button`,
            run: "click",
        },
        {
            content: "Odoo's password check, in a dialog over the tab",
            trigger: ".modal .o_coop_identity_password",
            run: "edit admin",
        },
        {
            content: "Confirm",
            trigger: ".modal .o_coop_identity_confirm",
            run: "click",
        },
        {
            content: "The secret is shown again, in place",
            trigger: `${OPENED} .o_coop_secret .o_coop_secret_value:contains(whsec_)`,
        },
        {
            content: "Still on the tab, in the Preferences dialog",
            trigger: ".modal a[role=tab][name=coop_developer_settings].active",
        },
    ],
});

// What the screenshots check and show: at each size, no text of the tab
// leaves its box, then the test takes the picture.
const SIZES = [
    [1366, 768],
    [1920, 1080],
];

// Texts of root that overflow their box: outside root, or cut by an
// element that clips (overflow other than visible, ellipsis).
export function overflowingTexts(root) {
    const found = new Set();
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
        const node = walker.currentNode;
        const text = node.textContent.trim();
        if (!text || !node.parentElement.getClientRects().length) {
            continue;
        }
        const range = document.createRange();
        range.selectNodeContents(node);
        const textBox = range.getBoundingClientRect();
        for (let box = node.parentElement; box; box = box.parentElement) {
            const style = getComputedStyle(box);
            const clipsX = style.overflowX !== "visible" || style.textOverflow === "ellipsis";
            const clipsY = ["hidden", "clip"].includes(style.overflowY);
            const rect = box.getBoundingClientRect();
            const outX = textBox.left < rect.left - 1 || textBox.right > rect.right + 1;
            const outY = textBox.top < rect.top - 1 || textBox.bottom > rect.bottom + 1;
            const cut =
                (clipsX && (outX || box.scrollWidth > box.clientWidth + 1)) ||
                (clipsY && (outY || box.scrollHeight > box.clientHeight + 1));
            if (box === root ? outX || cut : cut) {
                found.add(text.slice(0, 80));
            }
            if (box === root) {
                break;
            }
        }
    }
    return [...found];
}

function waitFor(predicate, what) {
    return new Promise((resolve, reject) => {
        const start = Date.now();
        const check = () => {
            if (predicate()) {
                resolve();
            } else if (Date.now() - start > 10000) {
                reject(new Error(`Timed out waiting for ${what}`));
            } else {
                setTimeout(check, 50);
            }
        };
        check();
    });
}

function pictureSteps([width, height]) {
    const size = `${width}x${height}`;
    return [
        {
            content: `Resize the window to ${size}`,
            trigger: ".modal .o_coop_developer_tab",
            async run() {
                // The test answers these console lines (see its _tour_command).
                console.log(`coop-tour: viewport ${size}`);
                await waitFor(() => window.innerWidth === width, `a ${size} window`);
                // Let the layout settle at the new size.
                await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 100)));
            },
        },
        noOverflowStep(size),
        {
            content: `Take the picture at ${size}`,
            trigger: ".modal .o_notebook_headers",
            async run() {
                // The endpoint's section when there is one, else the tab's top.
                const endpoint = document.querySelector(".o_coop_endpoint");
                (endpoint?.closest(".o_coop_event") || this.anchor).scrollIntoView({
                    block: "start",
                });
                // The tests' server has no real-time bus (make run has one):
                // its "connection lost" banner is no part of the picture.
                const alert = document.querySelector(".o-bus-ConnectionAlert");
                if (alert) {
                    alert.style.visibility = "hidden";
                }
                // No focus ring, and the buttons' transitions over: the same
                // picture at every run.
                document.activeElement?.blur();
                await new Promise((resolve) => setTimeout(resolve, 400));
                // The picture is the dialog: the page behind it (Discuss) changes.
                const box = document.querySelector(".modal-content").getBoundingClientRect();
                const clip = [box.x, box.y, box.width, box.height].map(Math.round).join(",");
                console.log(`coop-tour: screenshot ${size} ${clip}`);
                await waitFor(() => window.coopScreenshotTaken === size, `the ${size} picture`);
            },
        },
    ];
}

registry.category("web_tour.tours").add("coop_developer_settings_pictures", {
    url: "/odoo",
    steps: () => [
        ...openDeveloperTab(),
        {
            content: "Open the delivery log of the endpoint, if there is one",
            trigger: ".modal .o_coop_developer_tab",
            async run() {
                const button = document.querySelector(".o_coop_deliveries_button");
                if (button) {
                    button.click();
                    await waitFor(() => document.querySelector(".o_coop_log"), "the log");
                }
            },
        },
        ...SIZES.flatMap(pictureSteps),
    ],
});

// Administrators: the tab of a user, on the user form or their contact.
registry.category("web_tour.tours").add("coop_developer_settings_admin_tab", {
    steps: () => [
        {
            content: "Open the Developer settings tab of the form",
            trigger: ".o_form_view a[role=tab][name=coop_developer_settings]",
            run: "click",
        },
        {
            content: "The user's endpoint is in its event's section",
            trigger:
                '.o_coop_event[data-event-code="sale_cycle.closed"] .o_coop_endpoint_url:contains(hooks.example.org/admin-view)',
        },
        noOverflowStep("the tab of a user, for an administrator"),
    ],
});
