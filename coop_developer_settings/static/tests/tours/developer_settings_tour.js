/** @odoo-module **/
// Tours of the Developer settings tab, as a user walks it.
import { rpc } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";

function openDeveloperTab() {
    return [
        {
            // The home action, when it comes after the click, would close
            // the Preferences dialog it opens.
            content: "The home page is shown",
            trigger: ".o_action_manager > *",
        },
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

function noOverflowStep(what, trigger = ".tab-pane.active:has(.o_coop_developer_tab)") {
    return {
        content: `No text overflows its box: ${what}`,
        trigger,
        run() {
            checkNoOverflow(this.anchor, what);
        },
    };
}

function checkNoOverflow(root, what) {
    const texts = [...overflowingTexts(root), ...widerThanTheirBox(root)];
    if (texts.length) {
        throw new Error(`Texts overflow their box (${what}): ${JSON.stringify(texts)}`);
    }
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

// Texts of root that overflow their box: outside root, out of their
// field, cut by an element that clips (overflow other than visible,
// ellipsis), or a select's choice cut at its width.
export function overflowingTexts(root) {
    const found = new Set(cutChoices(root));
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
            // A field's box has its own width (a settings field is narrow):
            // text running out of it spills over its neighbours.
            const outOfField = box.classList.contains("o_field_widget") && (outX || outY);
            if (box === root ? outX || cut : cut || outOfField) {
                found.add(text.slice(0, 80));
            }
            if (box === root) {
                break;
            }
        }
    }
    return [...found];
}

// The chosen options of root's selects that are wider than their select:
// the browser cuts them, and no box of the page shows it.
function cutChoices(root) {
    const context = document.createElement("canvas").getContext("2d");
    return [...root.querySelectorAll("select")]
        .filter((select) => select.getClientRects().length && select.selectedOptions.length)
        .map((select) => {
            const style = getComputedStyle(select);
            context.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
            const text = select.selectedOptions[0].textContent.trim();
            const room =
                select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
            return context.measureText(text).width > room + 1 ? text.slice(0, 80) : "";
        })
        .filter(Boolean);
}

// The elements of root (root too) that make it, or a box around it, scroll
// sideways: a horizontal scrollbar hides what is on their right. What lies
// outside root (Odoo's own form around the tab) is not checked.
export function widerThanTheirBox(root) {
    for (let box = root; box && box !== document.body; box = box.parentElement) {
        const style = getComputedStyle(box);
        if (style.overflowX === "visible" || box.scrollWidth <= box.clientWidth + 1) {
            continue;
        }
        const right = box.getBoundingClientRect().left + box.clientWidth;
        return [root, ...root.querySelectorAll("*")]
            .filter(
                (element) =>
                    element.getClientRects().length &&
                    element.getBoundingClientRect().right > right + 1
            )
            .slice(0, 10)
            .map((element) => {
                const tag = `<${element.tagName.toLowerCase()} class="${element.className}">`;
                return `wider than its box: ${tag} ${element.textContent.trim().slice(0, 60)}`;
            });
    }
    return [];
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

// A picture tour at each size: `ready` is there, no text of `root`
// overflows, then each shot scrolls its element to the top and asks the
// test for the picture of its box (the dialog, the settings' page). A
// shot's `prepare` (a form to open, say) runs first, and what it shows is
// checked for overflow too.
function pictureSteps([width, height], { ready, root, shots }) {
    const size = `${width}x${height}`;
    return [
        {
            content: `Resize the window to ${size}`,
            trigger: ready,
            async run() {
                // The test answers these console lines (see its tour_command).
                console.log(`coop-tour: viewport ${size}`);
                await waitFor(() => window.innerWidth === width, `a ${size} window`);
                // Let the layout settle at the new size.
                await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 100)));
            },
        },
        noOverflowStep(size, root),
        ...shots.map(({ part = "", prepare, scrollTo, box }) => ({
            content: `Take the picture ${part} at ${size}`,
            trigger: ready,
            async run() {
                if (prepare) {
                    await prepare();
                    checkNoOverflow(document.querySelector(root), `${part} at ${size}`);
                }
                scrollTo(this.anchor).scrollIntoView({ block: "start" });
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
                const rect = document.querySelector(box).getBoundingClientRect();
                const clip = [rect.x, rect.y, rect.width, rect.height].map(Math.round).join(",");
                const token = `${size} ${part}`.trim();
                console.log(`coop-tour: screenshot ${size} ${clip} ${part}`.trim());
                await waitFor(() => window.coopScreenshotTaken === token, `the ${token} picture`);
            },
        })),
    ];
}

// The picture is the dialog: the page behind it (Discuss) changes.
const TAB_PICTURES = {
    ready: ".modal .o_coop_developer_tab",
    root: ".tab-pane.active:has(.o_coop_developer_tab)",
};

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
        ...SIZES.flatMap((size) =>
            pictureSteps(size, {
                ...TAB_PICTURES,
                shots: [
                    {
                        // The endpoint's section when there is one, else the tab's top.
                        scrollTo: () =>
                            document.querySelector(".o_coop_endpoint")?.closest(".o_coop_event") ||
                            document.querySelector(".modal .o_notebook_headers"),
                        box: ".modal-content",
                    },
                ],
            })
        ),
    ],
});

// The Newsletter tools section, in the state the test made.
registry.category("web_tour.tours").add("coop_developer_settings_newsletter_pictures", {
    url: "/odoo",
    steps: () => [
        ...openDeveloperTab(),
        ...SIZES.flatMap((size) =>
            pictureSteps(size, {
                ...TAB_PICTURES,
                ready: ".modal .o_coop_newsletter .o_coop_connection",
                shots: [
                    {
                        scrollTo: () => document.querySelector(".o_coop_newsletter"),
                        box: ".modal-content",
                    },
                ],
            })
        ),
    ],
});

// "Newsletter at each sale" of the connection the test made: its
// newsletters listed as the server has them; at each size, the setting of
// the first event that sends one, opened with the provider's templates,
// then the newsletters made.
const CAMPAIGNS = ".modal .o_coop_newsletter_campaigns";

async function closeCampaignForm() {
    document.querySelector(".o_coop_campaign_form .btn-secondary")?.click();
    await waitFor(() => !document.querySelector(".o_coop_campaign_form"), "the form closed");
}

// The form of the first event that sends a newsletter, on its template,
// with a sender to choose (Brevo) or none (Mailchimp: the list's own).
async function openCampaignForm({ sender = true } = {}) {
    const rule = [...document.querySelectorAll(".o_coop_campaign_rule")].find((row) =>
        row.querySelector(".o_coop_campaign_test")
    );
    rule.querySelector(".o_coop_campaign_edit").click();
    await waitFor(
        () => document.querySelector(".o_coop_campaign_form .o_coop_campaign_template option"),
        "the provider's templates"
    );
    const form = document.querySelector(".o_coop_campaign_form");
    const template = form.querySelector(".o_coop_campaign_template");
    const chosen = template.selectedOptions[0]?.textContent;
    if (!chosen || !rule.textContent.includes(chosen)) {
        throw new Error(`The form does not show the event's template: ${chosen}`);
    }
    const senders = form.querySelector(".o_coop_campaign_sender");
    if (sender ? !senders?.value : senders) {
        throw new Error(sender ? "The form shows no sender" : "The form asks for a sender");
    }
    if (form.querySelector(".o_coop_campaign_save").disabled) {
        throw new Error("Save is disabled");
    }
}

registry.category("web_tour.tours").add("coop_developer_settings_newsletter_campaign_pictures", {
    url: "/odoo",
    steps: () => [
        ...openDeveloperTab(),
        {
            content: "Each newsletter is listed as the server has it",
            trigger: `${CAMPAIGNS} .o_coop_campaign_row`,
            async run() {
                const card = this.anchor.closest(".o_coop_connection");
                const id = Number(card.dataset.connectionId);
                const model = "coop.newsletter.connection";
                const overview = await rpc(`/web/dataset/call_kw/${model}/coop_campaign_overview`, {
                    model,
                    method: "coop_campaign_overview",
                    args: [[id]],
                    // In the user's language, as the tab asks.
                    kwargs: { context: user.context },
                });
                const rows = [...card.querySelectorAll(".o_coop_campaign_row")];
                if (rows.length !== overview.campaigns.length || !rows.length) {
                    throw new Error(`${rows.length} rows for ${overview.campaigns.length} newsletters`);
                }
                overview.campaigns.forEach((campaign, index) => {
                    const row = rows[index];
                    const texts = [campaign.cycle, campaign.event, campaign.state_label];
                    texts.push(...[campaign.reason, campaign.error].filter(Boolean));
                    const missing = texts.filter((text) => !row.textContent.includes(text));
                    const report = row.querySelector("a[href]")?.getAttribute("href") || false;
                    const cancel = Boolean(row.querySelector(".o_coop_campaign_cancel"));
                    if (missing.length || report !== campaign.report_url || cancel !== campaign.can_cancel) {
                        throw new Error(
                            `Row ${index} is not the newsletter: ${JSON.stringify({ missing, report, cancel })}`
                        );
                    }
                });
            },
        },
        ...SIZES.flatMap((size) =>
            pictureSteps(size, {
                ...TAB_PICTURES,
                ready: `${CAMPAIGNS} .o_coop_campaign_row`,
                shots: [
                    {
                        // The events' settings, one open.
                        part: "form",
                        prepare: openCampaignForm,
                        scrollTo: () => document.querySelector(CAMPAIGNS),
                        box: ".modal-content",
                    },
                    {
                        // The events' settings and the newsletters made.
                        part: "list",
                        prepare: closeCampaignForm,
                        scrollTo: () => document.querySelector(`${CAMPAIGNS} .o_coop_campaign_rules`),
                        box: ".modal-content",
                    },
                ],
            })
        ),
    ],
});

// A Mailchimp connection whose sale cycle opened newsletter is a copy of a
// campaign of its list: at each size, its setting open on the copy. The
// picture cannot show a select's choices: the tour checks them, the
// account's templates then the list's campaigns to copy, each in its group,
// as the server lists them.
async function openCopyForm() {
    await closeCampaignForm();
    await openCampaignForm({ sender: false });
    const form = document.querySelector(".o_coop_campaign_form");
    const model = "coop.newsletter.connection";
    const choices = await rpc(`/web/dataset/call_kw/${model}/coop_templates`, {
        model,
        method: "coop_templates",
        args: [[Number(form.closest(".o_coop_connection").dataset.connectionId)]],
        kwargs: { context: user.context },
    });
    const picker = form.querySelector(".o_coop_campaign_template");
    const groups = [...picker.children].map((group) => ({
        copy: group.matches("optgroup.o_coop_campaign_copies"),
        options: [...group.children].map((option) => [option.value, option.textContent]),
    }));
    const expected = [false, true].map((copy) => ({
        copy,
        options: choices.filter((c) => c.copy === copy).map((c) => [c.id, c.name]),
    }));
    const labelled = [...picker.children].every((group) => group.tagName === "OPTGROUP" && group.label);
    if (!labelled || JSON.stringify(groups) !== JSON.stringify(expected)) {
        throw new Error(`The picker is not the server's choices: ${JSON.stringify({ groups, expected })}`);
    }
    if (expected.some((group) => !group.options.length)) {
        throw new Error("The account has no template, or the list no campaign to copy");
    }
    if (!picker.selectedOptions[0].parentElement.matches(".o_coop_campaign_copies")) {
        throw new Error("The event's newsletter is not a copy");
    }
}

registry.category("web_tour.tours").add("coop_developer_settings_newsletter_copy_pictures", {
    url: "/odoo",
    steps: () => [
        ...openDeveloperTab(),
        ...SIZES.flatMap((size) =>
            pictureSteps(size, {
                ...TAB_PICTURES,
                ready: `${CAMPAIGNS} .o_coop_campaign_test`,
                shots: [
                    {
                        prepare: openCopyForm,
                        scrollTo: () => document.querySelector(CAMPAIGNS),
                        box: ".modal-content",
                    },
                ],
            })
        ),
    ],
});

// The settings page of the addon (administrators): its API keys block, with
// the JSON-2 switch, and its last blocks (where the encryption key lives, the
// newsletter sync interval).
const SETTINGS_APP = '.app_settings_block[data-key="coop_developer_settings"]';

registry.category("web_tour.tours").add("coop_developer_settings_settings_pictures", {
    url: "/odoo/settings#coop_developer_settings",
    steps: () => [
        {
            content: "Open the Developer settings of the settings page",
            trigger: '.settings_tab .tab[data-key="coop_developer_settings"]',
            run: "click",
        },
        {
            content: "The settings say where the encryption key is",
            trigger: `${SETTINGS_APP} #coop_secrets_at_rest`,
            run() {
                const shown = this.anchor.querySelector(".o_coop_secret_key_location");
                if (!shown?.textContent.trim()) {
                    throw new Error(`No key location: ${this.anchor.outerHTML}`);
                }
            },
        },
        ...SIZES.flatMap((size) =>
            pictureSteps(size, {
                ready: `${SETTINGS_APP} #coop_json2_api`,
                root: SETTINGS_APP,
                shots: [
                    {
                        part: "api_keys",
                        scrollTo: () =>
                            document
                                .querySelector("#coop_json2_api")
                                .closest(".o_settings_container").previousElementSibling,
                        box: ".o_setting_container .settings",
                    },
                    {
                        part: "secrets_newsletter",
                        scrollTo: () => document.querySelector("#coop_secrets_at_rest"),
                        box: ".o_setting_container .settings",
                    },
                ],
            })
        ),
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

// The keys of the tests' Brevo and Mailchimp fakes (tests/fakes/).
const FAKE_BREVO_KEY = "xkeysib-fake0123456789";
const FAKE_MAILCHIMP_KEY = "0123456789abcdef0123456789abcdef-us21";
const BREVO_CONNECTION = '.o_coop_connection:has(.o_coop_connection_provider:contains("Brevo"))';

function noKeyOnThePage(key) {
    if (document.body.innerText.includes(key)) {
        throw new Error("A provider key is shown on the page");
    }
    for (const input of document.querySelectorAll("input")) {
        if (input.value.includes(key)) {
            throw new Error("A provider key stays in a field");
        }
    }
}

// Newsletter tools: a wrong key refused in place, Brevo connected and its
// list chosen, synced, Mailchimp connected too, Brevo disconnected.
registry.category("web_tour.tours").add("coop_developer_settings_newsletter", {
    url: "/odoo",
    steps: () => [
        ...openDeveloperTab(),
        {
            content: "Nothing connected yet",
            trigger: ".o_coop_newsletter .o_coop_no_connection",
        },
        {
            content: "Connect Brevo",
            trigger: ".o_coop_newsletter .o_coop_connect_brevo",
            run: "click",
        },
        {
            content: "Paste a wrong key",
            trigger: '.o_coop_connect_form[data-provider="brevo"] .o_coop_connect_key',
            run: "edit xkeysib-wrong0123456789",
        },
        {
            content: "The user's only shop is already chosen",
            trigger: ".o_coop_connect_form .o_coop_connect_shop",
            run() {
                if (!this.anchor.value) {
                    throw new Error("The only shop is not chosen");
                }
            },
        },
        {
            content: "Connect",
            trigger: ".o_coop_connect_form .o_coop_connect_button",
            run: "click",
        },
        {
            content: "Brevo's refusal is said in the form, and nothing is connected",
            trigger:
                '.o_coop_newsletter:has(.o_coop_no_connection) .o_coop_connect_error:contains("Brevo refused this API key")',
        },
        {
            content: "Paste the right key",
            trigger: ".o_coop_connect_form .o_coop_connect_key",
            run: `edit ${FAKE_BREVO_KEY}`,
        },
        {
            content: "Connect",
            trigger: ".o_coop_connect_form .o_coop_connect_button",
            run: "click",
        },
        {
            content: "The account is shown with the key's last 4 characters, and its lists",
            trigger: `${BREVO_CONNECTION}:has(.o_coop_connection_title:contains("La Coop du Coin")):has(.o_coop_key_hint:contains("6789")) .o_coop_list_select:has(option:contains("Buyers"))`,
            run() {
                noKeyOnThePage(FAKE_BREVO_KEY);
            },
        },
        {
            content: "Use this list",
            trigger: `${BREVO_CONNECTION} .o_coop_use_list`,
            run: "click",
        },
        {
            content: "The list is chosen; the tab says why unsubscribes do not come back yet",
            trigger: `${BREVO_CONNECTION}:has(.o_coop_connection_list:contains("Buyers")) .o_coop_connection_health li:contains("not a public https:// address")`,
        },
        noOverflowStep("a Brevo connection"),
        {
            content: "Sync now",
            trigger: `${BREVO_CONNECTION} .o_coop_sync_now`,
            run: "click",
        },
        {
            content: "The sync is over: its date and figures are shown",
            trigger: `${BREVO_CONNECTION}[data-state=connected] .o_coop_connection_health:has(li:contains("Last sync")) li:contains("6 subscribed")`,
        },
        {
            content: "Connect Mailchimp too",
            trigger: ".o_coop_newsletter .o_coop_connect_mailchimp",
            run: "click",
        },
        {
            content: "Paste its key",
            trigger: '.o_coop_connect_form[data-provider="mailchimp"] .o_coop_connect_key',
            run: `edit ${FAKE_MAILCHIMP_KEY}`,
        },
        {
            content: "Connect",
            trigger: ".o_coop_connect_form .o_coop_connect_button",
            run: "click",
        },
        {
            content: "Both connections are listed, the new one waits for its list",
            trigger:
                '.o_coop_newsletter:has(.o_coop_connection:contains("Brevo")) .o_coop_connection:has(.o_coop_connection_provider:contains("Mailchimp")) .o_coop_no_list',
            run() {
                noKeyOnThePage(FAKE_MAILCHIMP_KEY);
            },
        },
        noOverflowStep("two connections"),
        {
            content: "Disconnect Brevo",
            trigger: `${BREVO_CONNECTION} .o_coop_disconnect`,
            run: "click",
        },
        {
            content: "Confirm",
            trigger: '.modal:contains("Disconnect La Coop du Coin?") .modal-footer .btn-primary',
            run: "click",
        },
        {
            content: "Brevo is disconnected, and can be removed",
            trigger: `${BREVO_CONNECTION}[data-state=disconnected] .o_coop_remove_connection`,
        },
    ],
});

// Sync now on a failing connection: the tab shows the sync's outcome without
// being opened again.
registry.category("web_tour.tours").add("coop_developer_settings_newsletter_retry", {
    url: "/odoo",
    steps: () => [
        ...openDeveloperTab(),
        {
            content: "Sync now, on the failing connection",
            trigger: ".o_coop_connection[data-state=failing] .o_coop_sync_now",
            run: "click",
        },
        {
            content: "The sync went through: connected, synced, no failure shown",
            trigger:
                '.o_coop_connection[data-state=connected]:not(:has(.text-danger)) .o_coop_connection_health li:contains("Last sync")',
        },
    ],
});
