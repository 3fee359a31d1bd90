// The live event feed: the newest events first, at most MAX_ITEMS of them, each naming its session
// by its query. At load it is filled with the log's recent events (backfill); live events are
// collected as they arrive and added on top once per animation frame, so a burst of thousands
// costs one redraw.

import { h, compactValue, formatFullTime, formatTime, modeLabel, nf, shortId, statusLabel } from "./dom.js";
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
        case "webhook_registered": return `registered ${compactValue(d.url, 60)}`;
        case "webhook_deleted": return "endpoint deleted";
        case "webhook_disabled": return `disabled: ${compactValue(d.reason, 60)}`;
        default: return "";
    }
}

export class EventFeed {
    /**
     * `nameOf(id)` answers the query of a session the page knows (the store), or nothing; the
     * feed names a session by it, and remembers the queries of the `created` events it sees for
     * sessions that left the store since (deleted, expired).
     */
    constructor(list, countLabel, { nameOf = () => undefined } = {}) {
        this.list = list;
        this.countLabel = countLabel;
        this.nameOf = nameOf;
        /** Queries from `created` events, by session id (insertion order: the oldest go first). */
        this.names = new Map();
        this.pending = [];
        this.frame = 0;
        this.received = 0;
        /** The newest seq in the feed: an event at or below it is not added again. */
        this.lastSeq = 0;
    }

    /** Adds one live event (in seq order). Its session's name is resolved now, while it is known. */
    push(ev) {
        if (typeof ev.seq === "number") {
            if (ev.seq <= this.lastSeq) return;
            this.lastSeq = ev.seq;
        }
        this.pending.push({ ev, name: this.resolve(ev) });
        this.received++;
        if (this.pending.length > MAX_ITEMS) this.pending.splice(0, this.pending.length - MAX_ITEMS);
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
        const newestFirst = events.slice(-MAX_ITEMS).reverse();
        this.list.replaceChildren(...newestFirst.map((ev) => feedItem(ev, this.resolve(ev))));
        this.lastSeq = newestFirst.length ? newestFirst[0].seq : 0;
        this.paintCount();
    }

    clear() {
        if (this.frame) cancelAnimationFrame(this.frame);
        this.frame = 0;
        this.pending = [];
        this.list.replaceChildren();
        this.received = 0;
        this.lastSeq = 0;
        this.countLabel.textContent = "";
    }

    flush() {
        const items = this.pending.reverse().map(({ ev, name }) => feedItem(ev, name));
        this.pending = [];
        this.list.prepend(...items);
        while (this.list.childElementCount > MAX_ITEMS) this.list.lastElementChild.remove();
        this.paintCount();
    }

    paintCount() {
        const shown = this.list.childElementCount;
        this.countLabel.textContent = this.received
            ? `${nf.format(this.received)} received`
            : shown ? `${nf.format(shown)} recent` : "";
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

/** Queries remembered for sessions the store no longer holds. */
const MAX_NAMES = 2_000;

function sessionLabel(ev, name) {
    if (ev.session_id === NIL_ID) return h("span", { className: "feed-session muted" }, "registry");
    const href = `#/sessions/${encodeURIComponent(ev.session_id)}`;
    if (name === null) {
        return h("a", { className: "feed-session mono", href, title: `Session ${ev.session_id}`,
            dataset: { sessionId: ev.session_id } }, `session ${shortId(ev.session_id)}`);
    }
    return h("a", { className: "feed-session", href, title: `${compactValue(name, 300)}\nSession ${ev.session_id}`,
        dataset: { sessionId: ev.session_id } }, compactValue(name, 120));
}

function feedItem(ev, name) {
    return h("li", { className: "feed-item", dataset: { type: ev.type, seq: ev.seq } },
        h("div", { className: "feed-top" },
            h("span", { className: "type-chip", dataset: { type: ev.type } }, eventLabel(ev.type)),
            sessionLabel(ev, name),
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
