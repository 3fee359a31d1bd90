// The webhooks view (#/webhooks): the registered endpoints (GET /v1/webhooks), and for the one
// selected its newest delivery attempts (GET /v1/webhooks/{id}/deliveries), a "Replay from seq"
// form (POST /v1/webhooks/{id}/replay), an Enabled switch (PATCH /v1/webhooks/{id} with
// {"enabled": ...}) and Delete (DELETE /v1/webhooks/{id}). Every webhook route
// needs the admin scope: with a narrower token the server answers 403 and the view says so.
//
// The API has no cursor for deliveries (only `limit`, newest first, at most 1000): "Show more"
// asks for more of them. While the view is open it re-reads the list and the selected endpoint's
// attempts every few seconds (retries and replays run in the background on the server), and at
// once when the stream brings a registry event (webhook_registered, _deleted, _disabled,
// _enabled).

import { api, ApiError } from "./api.js";
import { formatFullTime, formatTime, h, nf, PressHold, redactUrl, replaceChildren } from "./dom.js";

const REFRESH_MS = 2_000;
const PAGE = 100;
const MAX_LIMIT = 1_000;
const REGISTRY_TYPES = new Set(["webhook_registered", "webhook_deleted", "webhook_disabled",
    "webhook_enabled"]);

const STATE_LABELS = { pending: "Pending", delivered: "Delivered", failed: "Failed" };

export class WebhooksView {
    constructor(root) {
        this.root = root;
        this.active = false;
        this.endpoints = [];
        this.selected = null;
        this.deliveries = [];
        this.limit = PAGE;
        this.forbidden = null;
        this.error = null;
        this.timer = 0;
        this.generation = 0;
        this.replayNote = null;
        this.confirmDelete = false;
        this.busy = false;
        // A press held over the periodic refresh is not lost to its redraw (dom.js).
        this.press = new PressHold(root, () => this.render());
    }

    open() {
        if (this.active) return;
        this.active = true;
        this.generation++;
        this.render();
        this.refresh();
    }

    close() {
        this.active = false;
        this.generation++;
        clearTimeout(this.timer);
        this.press.drop();
    }

    /** An event from the stream: a registry event re-reads at once. */
    onEvent(ev) {
        if (this.active && REGISTRY_TYPES.has(ev.type)) this.refresh();
    }

    select(id) {
        if (this.selected === id) return;
        this.selected = id;
        this.deliveries = [];
        this.limit = PAGE;
        this.replayNote = null;
        this.confirmDelete = false;
        this.loadedFor = null;
        this.render();
        this.refresh();
    }

    /** Reads the list and the selected endpoint's attempts, draws, and schedules the next read. */
    async refresh() {
        clearTimeout(this.timer);
        const gen = this.generation;
        try {
            const { webhooks } = await api("/v1/webhooks");
            if (gen !== this.generation) return;
            this.forbidden = null;
            this.error = null;
            this.endpoints = webhooks;
            if (this.selected && !webhooks.some((w) => w.id === this.selected)) this.selected = null;
            if (!this.selected && webhooks.length) this.selected = webhooks.at(-1).id;
            if (this.selected) {
                const id = this.selected;
                const limit = this.limit;
                const { deliveries } = await api(
                    `/v1/webhooks/${encodeURIComponent(id)}/deliveries?limit=${limit}`);
                if (gen !== this.generation || this.selected !== id) return;
                this.deliveries = deliveries;
                this.loadedFor = id;
                this.loadedLimit = limit;
            }
        } catch (err) {
            if (gen !== this.generation) return;
            if (err instanceof ApiError && err.status === 403) this.forbidden = err.message;
            else this.error = err.message;
        }
        this.render();
        if (this.active && gen === this.generation && !this.forbidden) {
            this.timer = setTimeout(() => this.refresh(), REFRESH_MS);
        }
    }

    // --- actions --------------------------------------------------------------------------------

    async replay(id, after) {
        this.busy = true;
        this.render();
        try {
            const r = await api(`/v1/webhooks/${encodeURIComponent(id)}/replay`,
                { method: "POST", body: { after } });
            this.replayNote = {
                ok: true,
                text: r.scheduled === 0
                    ? `Nothing to send again after seq ${nf.format(r.after)}.`
                    : `Sending ${nf.format(r.scheduled)} event${r.scheduled === 1 ? "" : "s"} again ` +
                      `(seq ${nf.format(r.after)} to ${nf.format(r.until)}).`,
                scheduled: r.scheduled,
            };
        } catch (err) {
            this.replayNote = { ok: false, text: err.message };
        }
        this.busy = false;
        this.refresh();
    }

    async setEnabled(id, enabled) {
        this.busy = true;
        this.render();
        try {
            const w = await api(`/v1/webhooks/${encodeURIComponent(id)}`,
                { method: "PATCH", body: { enabled } });
            this.endpoints = this.endpoints.map((e) => (e.id === w.id ? w : e));
        } catch (err) {
            this.error = err.message;
        }
        this.busy = false;
        this.refresh();
    }

    async remove(id) {
        this.busy = true;
        this.render();
        try {
            await api(`/v1/webhooks/${encodeURIComponent(id)}`, { method: "DELETE" });
            if (this.selected === id) this.selected = null;
        } catch (err) {
            this.error = err.message;
        }
        this.busy = false;
        this.confirmDelete = false;
        this.refresh();
    }

    // --- drawing --------------------------------------------------------------------------------

    render() {
        if (!this.active || this.press.holds()) return;
        // Keep what the user is typing in the replay field across redraws.
        const typing = this.root.querySelector("#wh-replay-after");
        const draft = typing ? { value: typing.value, focused: document.activeElement === typing } : null;

        const head = h("div", { className: "wh-head" },
            h("h1", { id: "webhooks-title" }, "Webhooks"),
            h("span", { className: "muted small", id: "wh-summary" },
                this.forbidden ? "" : `${nf.format(this.endpoints.length)} endpoint${this.endpoints.length === 1 ? "" : "s"}`),
            h("button", { type: "button", className: "ghost-button", onclick: () => this.refresh() }, "Refresh"));

        if (this.forbidden) {
            replaceChildren(this.root, head, h("p", { className: "wh-note", id: "webhooks-forbidden", role: "note" },
                h("strong", {}, "Webhooks need a token with the admin scope. "),
                "The server refused this token: ", this.forbidden,
                ". Use “Change token” in the top bar for an admin token, then Refresh."));
            return;
        }

        const parts = [head];
        if (this.error) parts.push(h("p", { className: "wh-note wh-error", role: "alert" }, this.error));
        parts.push(h("div", { className: "wh-layout" }, this.renderList(), this.renderDetail()));
        replaceChildren(this.root, parts);

        const input = this.root.querySelector("#wh-replay-after");
        if (input && draft && this.loadedFor === this.selected) {
            input.value = draft.value;
            if (draft.focused) input.focus();
        }
    }

    renderList() {
        if (!this.endpoints.length) {
            return h("section", { className: "panel wh-list", "aria-label": "Endpoints" },
                h("p", { className: "empty" }, "No webhook endpoint is registered."));
        }
        // Newest first, like the deliveries (the API lists them oldest first).
        const items = [...this.endpoints].reverse().map((w) => h("li", {},
            h("button", {
                type: "button", className: "wh-endpoint",
                "aria-pressed": String(w.id === this.selected),
                dataset: { id: w.id, disabled: String(Boolean(w.disabled)) },
                onclick: () => this.select(w.id),
            },
            h("span", { className: "wh-url" }, redactUrl(w.url)),
            h("span", { className: "wh-endpoint-meta" },
                h("span", { className: "badge", dataset: { state: w.disabled ? "disabled" : "enabled" } },
                    w.disabled ? "Disabled" : "Enabled"),
                h("span", { className: "muted small" }, eventsLabel(w.events)),
                w.description ? h("span", { className: "muted small wh-desc" }, w.description) : null))));
        return h("section", { className: "panel wh-list", "aria-label": "Endpoints" },
            h("ul", { className: "wh-endpoints", id: "wh-endpoints" }, items));
    }

    renderDetail() {
        const w = this.endpoints.find((e) => e.id === this.selected);
        if (!w) return h("section", { className: "panel wh-detail" });
        const loaded = this.loadedFor === w.id;
        const facts = h("dl", { className: "facts" },
            fact("ID", h("code", {}, w.id)),
            fact("Status", w.disabled ? `Disabled${w.disabled_reason ? `: ${w.disabled_reason}` : ""}` : "Enabled"),
            fact("Events", eventsLabel(w.events)),
            fact("Registered", h("time", { datetime: w.created_at, title: formatFullTime(w.created_at) },
                formatTime(w.created_at))),
            fact("Registered at seq", nf.format(w.registered_seq)),
            loaded ? fact("Deliveries", countsLabel(this.deliveries)) : null);

        const after = h("input", {
            id: "wh-replay-after", type: "number", min: "0", step: "1", required: true,
            value: String(w.registered_seq), inputmode: "numeric",
        });
        const replayForm = h("form", {
            className: "wh-replay", id: "wh-replay",
            onsubmit: (e) => {
                e.preventDefault();
                const n = Number(after.value);
                if (!Number.isInteger(n) || n < 0) return;
                this.replay(w.id, n);
            },
        },
        h("label", { for: "wh-replay-after" }, "Replay from seq"),
        after,
        h("button", { type: "submit", className: "primary-button", disabled: this.busy || Boolean(w.disabled) },
            "Replay"),
        h("span", { className: "muted small" }, "sends again every matching event after this seq"));
        const note = this.replayNote
            ? h("p", { className: `wh-replay-note${this.replayNote.ok ? "" : " wh-error"}`, id: "wh-replay-note",
                role: "status" }, this.replayNote.text)
            : null;

        const del = this.confirmDelete
            ? h("span", { className: "wh-delete" },
                h("button", { type: "button", className: "ghost-button wh-danger", id: "wh-delete-confirm",
                    disabled: this.busy, onclick: () => this.remove(w.id) }, "Delete this endpoint"),
                h("button", { type: "button", className: "ghost-button",
                    onclick: () => { this.confirmDelete = false; this.render(); } }, "Cancel"))
            : h("button", { type: "button", className: "ghost-button", id: "wh-delete",
                onclick: () => { this.confirmDelete = true; this.render(); } }, "Delete…");

        // Disabled: nothing is delivered; enabled again, the events committed from then on are
        // (the ones missed in between can be replayed).
        const enabled = !w.disabled;
        const toggle = h("button", {
            type: "button", className: "wh-switch", id: "wh-enabled", role: "switch",
            "aria-checked": String(enabled), disabled: this.busy,
            title: enabled ? "Stop deliveries to this endpoint" : "Deliver new events to this endpoint again",
            onclick: () => this.setEnabled(w.id, !enabled),
        }, h("span", { className: "wh-switch-track", "aria-hidden": "true" }), enabled ? "Enabled" : "Disabled");

        const card = h("div", { className: "wh-card" },
            h("div", { className: "wh-card-head" },
                h("h2", { className: "wh-url", id: "wh-detail-url" }, redactUrl(w.url)),
                h("span", { className: "wh-actions" }, toggle, del)),
            w.description ? h("p", { className: "muted" }, w.description) : null,
            facts, replayForm, note);

        return h("section", { className: "wh-detail", dataset: { id: w.id }, "aria-labelledby": "wh-detail-url" },
            card, this.renderDeliveries(loaded));
    }

    renderDeliveries(loaded) {
        const title = h("div", { className: "panel-head" },
            h("h2", {}, "Delivery attempts"),
            h("span", { className: "muted small" }, "newest first"));
        if (!loaded) return h("section", { className: "panel wh-deliveries" }, title, h("p", { className: "empty" }, "Loading…"));
        if (!this.deliveries.length) {
            return h("section", { className: "panel wh-deliveries" }, title,
                h("p", { className: "empty", id: "wh-no-deliveries" }, "No delivery attempt yet."));
        }
        const rows = this.deliveries.map((d) => h("tr", {
            dataset: { seq: d.seq, attempt: d.attempt, state: d.state, eventId: d.event_id },
        },
        h("td", { className: "num", "data-label": "Seq" }, nf.format(d.seq)),
        h("td", { "data-label": "Type" }, h("span", { className: "type-chip", dataset: { type: d.type } }, d.type)),
        h("td", { className: "num", "data-label": "Attempt" }, String(d.attempt)),
        h("td", { "data-label": "State" }, h("span", { className: "badge", dataset: { state: d.state } },
            STATE_LABELS[d.state] ?? d.state)),
        h("td", { className: "num wh-http", "data-label": "HTTP" }, d.http_status === null ? "—" : String(d.http_status)),
        h("td", { className: "wh-err", "data-label": "Error" },
            d.error === null ? "—" : `${d.error}${d.failure ? ` (${d.failure})` : ""}`),
        h("td", { "data-label": "Started" }, h("time", { datetime: d.started_at, title: formatFullTime(d.started_at) },
            formatTime(d.started_at))),
        h("td", { className: "num", "data-label": "Took" }, typeof d.duration_ms === "number" ? `${d.duration_ms.toFixed(1)} ms` : "—"),
        h("td", { "data-label": "Next attempt" }, d.next_attempt_at
            ? h("time", { datetime: d.next_attempt_at, title: formatFullTime(d.next_attempt_at) }, formatTime(d.next_attempt_at))
            : "—")));
        const table = h("table", { className: "wh-table", id: "wh-deliveries" },
            h("thead", {}, h("tr", {}, ["Seq", "Type", "Attempt", "State", "HTTP", "Error", "Started", "Took",
                "Next attempt"].map((c) => h("th", { scope: "col" }, c)))),
            h("tbody", {}, rows));
        const full = this.deliveries.length >= this.loadedLimit;
        const more = full && this.limit < MAX_LIMIT
            ? h("button", { type: "button", className: "ghost-button wh-more", id: "wh-more",
                onclick: () => { this.limit = Math.min(MAX_LIMIT, this.limit + PAGE * 4); this.refresh(); } },
            "Show more")
            : null;
        return h("section", { className: "panel wh-deliveries" }, title,
            h("div", { className: "wh-table-wrap" }, table),
            h("p", { className: "muted small wh-foot" },
                `The newest ${nf.format(this.deliveries.length)} attempts`,
                full && !more ? " (the most the server lists at once)" : "", "."),
            more);
    }
}

function fact(label, value) {
    return [h("div", {}, h("dt", {}, label), h("dd", {}, value))];
}

function eventsLabel(events) {
    return !events || events.length === 0 ? "every session event" : events.join(", ");
}

/** "3 delivered, 1 pending" over the deliveries the listed attempts belong to (latest state). */
function countsLabel(attempts) {
    const latest = new Map();
    for (const a of attempts) if (!latest.has(a.event_id)) latest.set(a.event_id, a.state);  // newest first
    const by = { delivered: 0, pending: 0, failed: 0 };
    for (const s of latest.values()) by[s] = (by[s] ?? 0) + 1;
    const parts = Object.entries(by).filter(([, n]) => n > 0).map(([s, n]) => `${nf.format(n)} ${s}`);
    return `${parts.join(", ") || "none"} · ${nf.format(attempts.length)} attempt${attempts.length === 1 ? "" : "s"}`;
}
