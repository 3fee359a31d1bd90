// The live event feed: the newest events first, at most MAX_ITEMS of them, each naming its session
// by its query. At load it is filled with the log's recent events (backfill); live events are
// collected as they arrive and added on top once per animation frame, so a burst of thousands
// costs one redraw. It can be paused (what arrives is counted and kept, and shown on resume) and
// filtered by event type, provider and session; filters apply to the last BUFFER_ITEMS events.

import { h, compactValue, formatFullTime, formatTime, modeLabel, nf, redactUrl, shortId, statusLabel } from "./dom.js";
import { NIL_ID } from "./store.js";

/** Items the feed shows at most (and how many recent events a load backfills). */
export const MAX_ITEMS = 100;

const TYPE_LABELS = {
    created: "created",
    status_changed: "status",
    response_added: "response",
    responses_replaced: "responses",
    consensus_set: "consensus",
    metadata_updated: "metadata",
    error_set: "error",
    deleted: "deleted",
    expired: "expired",
    webhook_registered: "webhook",
    webhook_deleted: "webhook",
    webhook_disabled: "webhook",
    webhook_enabled: "webhook",
};

export const eventLabel = (type) => TYPE_LABELS[type] ?? type;

/** One line saying what an event did. */
export function describeEvent(ev) {
    const d = ev.data ?? {};
    switch (ev.type) {
        case "created": return compactValue(d.query, 90);
        case "status_changed":
            return `${statusLabel(d.from)} → ${statusLabel(d.to)}${d.error ? `: ${compactValue(d.error, 60)}` : ""}`;
        case "response_added": return `${d.provider} · round ${d.round}`;
        case "responses_replaced":
            return `${Object.keys(d.provider_responses ?? {}).length} providers replaced`;
        case "consensus_set": return d.consensus === null ? "cleared" : compactValue(d.consensus, 80);
        case "metadata_updated": return compactValue(d.metadata, 80);
        case "error_set": return d.error === null ? "cleared" : compactValue(d.error, 80);
        case "deleted": return "session deleted";
        case "expired": return "session expired";
        case "webhook_registered": return `registered ${compactValue(redactUrl(d.url), 60)}`;
        case "webhook_deleted": return "endpoint deleted";
        case "webhook_disabled": return `disabled: ${compactValue(d.reason, 60)}`;
        case "webhook_enabled": return "endpoint enabled";
        default: return "";
    }
}

/**
 * The choices of the type filter: a value, its label and the event types it takes (the two kinds
 * of response event go together, as do the webhook events).
 */
export const TYPE_FILTERS = [
    { value: "created", label: "Created", types: ["created"] },
    { value: "status", label: "Status", types: ["status_changed"] },
    { value: "response", label: "Responses", types: ["response_added", "responses_replaced"] },
    { value: "consensus", label: "Consensus", types: ["consensus_set"] },
    { value: "metadata", label: "Metadata", types: ["metadata_updated"] },
    { value: "error", label: "Error", types: ["error_set"] },
    { value: "deleted", label: "Deleted", types: ["deleted"] },
    { value: "expired", label: "Expired", types: ["expired"] },
    { value: "webhook", label: "Webhooks", types: ["webhook_registered", "webhook_deleted", "webhook_disabled",
        "webhook_enabled"] },
];
const TYPES_OF = new Map(TYPE_FILTERS.map((f) => [f.value, new Set(f.types)]));

/** Events kept to filter (the feed shows MAX_ITEMS of them): filters reach back this far. */
export const BUFFER_ITEMS = 1_000;

/** The providers a response event names (none for other events). */
export function providersOf(ev) {
    const d = ev.data ?? {};
    if (ev.type === "response_added") return typeof d.provider === "string" ? [d.provider] : [];
    if (ev.type === "responses_replaced") return Object.keys(d.provider_responses ?? {});
    return [];
}

export class EventFeed {
    /**
     * `nameOf(id)` answers the query of a session the page knows (the store), or nothing; the
     * feed names a session by it, and remembers the queries of the `created` events it sees for
     * sessions that left the store since (deleted, expired). `panel` holds the controls (pause,
     * filters); without it the feed just lists.
     */
    constructor(list, countLabel, { nameOf = () => undefined, panel = null } = {}) {
        this.list = list;
        this.countLabel = countLabel;
        this.nameOf = nameOf;
        /** Queries from `created` events, by session id (insertion order: the oldest go first). */
        this.names = new Map();
        /** The events kept, oldest first: {ev, name, el} (el made when first shown). */
        this.entries = [];
        /** Live events waiting for the next frame. */
        this.pending = [];
        /** Live events that arrived while paused, oldest first: shown on resume. */
        this.held = [];
        this.heldCount = 0;
        this.paused = false;
        this.filter = { type: "", provider: "", session: "", sessionName: null };
        this.providers = new Set();
        this.frame = 0;
        this.received = 0;
        /** The newest seq in the feed: an event at or below it is not added again. */
        this.lastSeq = 0;
        this.controls = panel ? bindControls(this, panel) : null;
    }

    /** Adds one live event (in seq order). Its session's name is resolved now, while it is known. */
    push(ev) {
        if (typeof ev.seq === "number") {
            if (ev.seq <= this.lastSeq) return;
            this.lastSeq = ev.seq;
        }
        const entry = { ev, name: this.resolve(ev), el: null };
        this.noteProviders(ev);
        this.received++;
        if (this.paused) {
            this.held.push(entry);
            if (this.held.length > BUFFER_ITEMS) this.held.splice(0, this.held.length - BUFFER_ITEMS);
            if (this.matches(entry)) this.heldCount++;
        } else {
            this.pending.push(entry);
            if (this.pending.length > BUFFER_ITEMS) this.pending.splice(0, this.pending.length - BUFFER_ITEMS);
        }
        if (!this.frame) {
            this.frame = requestAnimationFrame(() => {
                this.frame = 0;
                this.flush();
            });
        }
    }

    /**
     * Fills the feed with the recent events of the log (oldest first, every seq at or below the
     * position the stream starts from), replacing what it showed: live events then go on top.
     */
    backfill(events) {
        this.clear();
        for (const ev of events) this.learn(ev);
        this.entries = events.slice(-BUFFER_ITEMS).map((ev) => ({ ev, name: this.resolve(ev), el: null }));
        for (const { ev } of this.entries) this.noteProviders(ev);
        this.lastSeq = this.entries.length ? this.entries[this.entries.length - 1].ev.seq : 0;
        this.render();
    }

    clear() {
        if (this.frame) cancelAnimationFrame(this.frame);
        this.frame = 0;
        this.entries = [];
        this.pending = [];
        this.held = [];
        this.heldCount = 0;
        this.list.replaceChildren();
        this.received = 0;
        this.lastSeq = 0;
        this.countLabel.textContent = "";
        this.paintControls();
    }

    /** Adds the events of this frame: those that pass the filters go on top. */
    flush() {
        const fresh = this.pending;
        this.pending = [];
        if (fresh.length) {
            this.entries.push(...fresh);
            this.trim();
            const items = [];
            for (let i = fresh.length - 1; i >= 0 && items.length < MAX_ITEMS; i--) {
                if (this.matches(fresh[i])) items.push(this.itemOf(fresh[i]));
            }
            this.list.prepend(...items);
            while (this.list.childElementCount > MAX_ITEMS) this.list.lastElementChild.remove();
        }
        this.paintCount();
        this.paintControls();
    }

    /** Redraws the list from the events kept: the newest MAX_ITEMS that pass the filters. */
    render() {
        const items = [];
        for (let i = this.entries.length - 1; i >= 0 && items.length < MAX_ITEMS; i--) {
            if (this.matches(this.entries[i])) items.push(this.itemOf(this.entries[i]));
        }
        this.list.replaceChildren(...items);
        this.paintCount();
        this.paintControls();
    }

    /** Stops adding live events to the list; they are counted and kept until resume(). */
    pause() {
        if (this.paused) return;
        // What arrived before the pause is still shown.
        if (this.pending.length) this.flush();
        this.paused = true;
        this.paintControls();
    }

    /** Shows what arrived while paused, in order, and goes live again. */
    resume() {
        if (!this.paused) return;
        this.paused = false;
        this.entries.push(...this.pending, ...this.held);
        this.pending = [];
        this.held = [];
        this.heldCount = 0;
        this.trim();
        this.render();
    }

    /** Changes some of the filters ({type, provider, session}: "" for any); redraws. */
    setFilter(change) {
        Object.assign(this.filter, change);
        this.heldCount = this.held.reduce((n, e) => n + (this.matches(e) ? 1 : 0), 0);
        this.render();
    }

    matches({ ev }) {
        const f = this.filter;
        if (f.session && ev.session_id !== f.session) return false;
        if (f.type && !TYPES_OF.get(f.type)?.has(ev.type)) return false;
        if (f.provider && !providersOf(ev).includes(f.provider)) return false;
        return true;
    }

    itemOf(entry) {
        entry.el ??= feedItem(entry.ev, entry.name, (id, name) => this.setFilter({ session: id, sessionName: name }));
        return entry.el;
    }

    trim() {
        if (this.entries.length > BUFFER_ITEMS) this.entries.splice(0, this.entries.length - BUFFER_ITEMS);
    }

    noteProviders(ev) {
        for (const p of providersOf(ev)) {
            if (this.providers.has(p)) continue;
            this.providers.add(p);
            this.providersChanged = true;
        }
    }

    paintCount() {
        const shown = this.list.childElementCount;
        this.countLabel.textContent = this.received
            ? `${nf.format(this.received)} received`
            : shown ? `${nf.format(shown)} recent` : "";
        this.list.toggleAttribute("data-filtered", this.filtered());
    }

    filtered() {
        const f = this.filter;
        return Boolean(f.type || f.provider || f.session);
    }

    paintControls() {
        if (this.controls) this.controls.paint();
    }

    learn(ev) {
        if (ev.type !== "created" || typeof ev.data?.query !== "string") return;
        this.names.set(ev.session_id, ev.data.query);
        if (this.names.size > MAX_NAMES) this.names.delete(this.names.keys().next().value);
    }

    resolve(ev) {
        this.learn(ev);
        if (ev.session_id === NIL_ID) return null;
        const name = this.nameOf(ev.session_id) ?? this.names.get(ev.session_id);
        return typeof name === "string" ? name : null;
    }
}

/**
 * Wires the feed's controls in `panel` (see index.html): Pause/Resume with the count of what
 * arrived, the type and provider selects, the session chip, and the button that shows the
 * filters on narrow screens. Returns {paint}, which brings them up to date with the feed.
 */
function bindControls(feed, panel) {
    const q = (sel) => panel.querySelector(sel);
    const pause = q("#feed-pause");
    const newCount = q("#feed-new");
    const type = q("#feed-type");
    const provider = q("#feed-provider");
    const toggle = q("#feed-filter-toggle");
    const chip = q("#feed-session-chip");
    const chipLabel = q("#feed-session-label");
    const chipOpen = q("#feed-session-open");
    const chipClear = q("#feed-session-clear");

    type.append(...TYPE_FILTERS.map((f) => h("option", { value: f.value }, f.label)));
    pause.addEventListener("click", () => (feed.paused ? feed.resume() : feed.pause()));
    newCount.addEventListener("click", () => feed.resume());
    type.addEventListener("change", () => feed.setFilter({ type: type.value }));
    provider.addEventListener("change", () => feed.setFilter({ provider: provider.value }));
    toggle.addEventListener("click", () => {
        const open = !panel.hasAttribute("data-filters-open");
        panel.toggleAttribute("data-filters-open", open);
        toggle.setAttribute("aria-expanded", String(open));
    });
    chipClear.addEventListener("click", () => {
        feed.setFilter({ session: "", sessionName: null });
        q(`.feed-session[data-session-id]`)?.focus();
    });

    let shownProviders = "";
    return {
        paint() {
            pause.textContent = feed.paused ? "Resume" : "Pause";
            pause.setAttribute("aria-pressed", String(feed.paused));
            panel.toggleAttribute("data-paused", feed.paused);
            newCount.hidden = !feed.paused;
            newCount.dataset.count = String(feed.heldCount);
            newCount.textContent = `${nf.format(feed.heldCount)} new`;
            feed.countLabel.hidden = feed.paused;

            if (feed.providersChanged) {
                feed.providersChanged = false;
                const names = [...feed.providers].sort((a, b) => a.localeCompare(b));
                if (names.join("\n") !== shownProviders) {
                    shownProviders = names.join("\n");
                    provider.replaceChildren(h("option", { value: "" }, "All providers"),
                        ...names.map((p) => h("option", { value: p }, p)));
                }
            }
            // A filter set before its provider was seen (or after a reload) keeps its choice.
            if (feed.filter.provider && ![...provider.options].some((o) => o.value === feed.filter.provider)) {
                provider.append(h("option", { value: feed.filter.provider }, feed.filter.provider));
            }
            provider.value = feed.filter.provider;
            type.value = feed.filter.type;

            const f = feed.filter;
            chip.hidden = !f.session;
            panel.toggleAttribute("data-session-filter", Boolean(f.session));
            if (f.session) {
                const name = typeof f.sessionName === "string" ? compactValue(f.sessionName, 120)
                    : `session ${shortId(f.session)}`;
                chipLabel.textContent = name;
                chipLabel.title = `Only the events of ${name}\nSession ${f.session}`;
                chipOpen.href = `#/sessions/${encodeURIComponent(f.session)}`;
            }
            const active = (f.type ? 1 : 0) + (f.provider ? 1 : 0);
            toggle.textContent = active ? `Filter (${active})` : "Filter";
            toggle.dataset.active = String(active);
        },
    };
}

/** Queries remembered for sessions the store no longer holds. */
const MAX_NAMES = 2_000;

/** The session's name; a click shows only that session's events (`onSession(id, name)`). */
function sessionLabel(ev, name, onSession) {
    if (ev.session_id === NIL_ID) return h("span", { className: "feed-session muted" }, "registry");
    const id = ev.session_id;
    const click = () => onSession(id, name);
    if (name === null) {
        return h("button", { type: "button", className: "feed-session mono", title: `Session ${id}\nShow only its events`,
            dataset: { sessionId: id }, onclick: click }, `session ${shortId(id)}`);
    }
    return h("button", { type: "button", className: "feed-session",
        title: `${compactValue(name, 300)}\nSession ${id}\nShow only its events`,
        dataset: { sessionId: id }, onclick: click }, compactValue(name, 120));
}

function feedItem(ev, name, onSession) {
    return h("li", { className: "feed-item", dataset: { type: ev.type, seq: ev.seq } },
        h("div", { className: "feed-top" },
            h("span", { className: "type-chip", dataset: { type: ev.type } }, eventLabel(ev.type)),
            sessionLabel(ev, name, onSession),
            h("time", { className: "feed-time", datetime: ev.at, title: formatFullTime(ev.at) },
                formatTime(ev.at)),
        ),
        h("div", { className: "feed-text" }, feedText(ev) || "\u00a0"),
    );
}

/** The line under the session's name: what the event did (a new session's mode, since its query is the name). */
function feedText(ev) {
    if (ev.type === "created") {
        const mode = ev.data?.mode;
        return typeof mode === "string" ? `new session · ${modeLabel(mode)}` : "new session";
    }
    return describeEvent(ev);
}
