// The live event feed: the newest events first, at most MAX_ITEMS of them. Events are collected
// as they arrive and added once per animation frame, so a burst of thousands costs one redraw.

import { h, compactValue, formatFullTime, formatTime, nf, shortId, statusLabel } from "./dom.js";
import { NIL_ID } from "./store.js";

const MAX_ITEMS = 100;

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
    constructor(list, countLabel) {
        this.list = list;
        this.countLabel = countLabel;
        this.pending = [];
        this.frame = 0;
        this.received = 0;
    }

    push(ev) {
        this.pending.push(ev);
        this.received++;
        if (this.pending.length > MAX_ITEMS) this.pending.splice(0, this.pending.length - MAX_ITEMS);
        if (!this.frame) {
            this.frame = requestAnimationFrame(() => {
                this.frame = 0;
                this.flush();
            });
        }
    }

    clear() {
        this.pending = [];
        this.list.replaceChildren();
        this.received = 0;
        this.countLabel.textContent = "";
    }

    flush() {
        const items = this.pending.reverse().map(feedItem);
        this.pending = [];
        this.list.prepend(...items);
        while (this.list.childElementCount > MAX_ITEMS) this.list.lastElementChild.remove();
        this.countLabel.textContent = `${nf.format(this.received)} received`;
    }
}

function feedItem(ev) {
    const session = ev.session_id === NIL_ID
        ? h("span", { className: "feed-session muted" }, "registry")
        : h("a", { className: "feed-session mono", href: `#/sessions/${encodeURIComponent(ev.session_id)}`,
            title: `Session ${ev.session_id}` }, shortId(ev.session_id));
    return h("li", { className: "feed-item", dataset: { type: ev.type, seq: ev.seq } },
        h("div", { className: "feed-top" },
            h("span", { className: "type-chip", dataset: { type: ev.type } }, eventLabel(ev.type)),
            session,
            h("time", { className: "feed-time", datetime: ev.at, title: formatFullTime(ev.at) },
                formatTime(ev.at)),
        ),
        h("div", { className: "feed-text" }, describeEvent(ev) || "\u00a0"),
    );
}
