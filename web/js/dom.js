// Small DOM helpers. Every piece of data reaches the page as a text node or an attribute value,
// never as markup: nothing here (or anywhere in the dashboard) assigns innerHTML. The one
// exception is a provider's markdown answer, which markdown.js hands over as nodes that DOMPurify
// has sanitized.

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * Creates an element. `attrs` values: strings become attributes, `on*` functions become
 * listeners, `dataset` an object of data-* values, `className`/`hidden`/`value`/... properties
 * when the name is a known property. Children: nodes, strings (as text), numbers, arrays, null.
 */
export function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
}

/** Like h() for SVG elements. */
export function svg(tag, attrs = {}, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (k.startsWith("on") && typeof v === "function") {
            el.addEventListener(k.slice(2), v);
        } else if (k === "dataset") {
            for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
        } else {
            el.setAttribute(k, String(v));
        }
    }
    append(el, children);
    return el;
}

function setAttrs(el, attrs) {
    for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (k.startsWith("on") && typeof v === "function") {
            el.addEventListener(k.slice(2), v);
        } else if (k === "dataset") {
            for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
        } else if (k === "className") {
            el.className = v;
        } else if (k === "text") {
            el.textContent = String(v);
        } else if (v === true) {
            el.setAttribute(k, "");
        } else {
            el.setAttribute(k, String(v));
        }
    }
}

function append(el, children) {
    for (const c of children.flat(Infinity)) {
        if (c === null || c === undefined || c === false) continue;
        el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
}

/** Replaces every child of `el` with `children`. */
export function replaceChildren(el, ...children) {
    el.replaceChildren();
    append(el, children);
}

export const $ = (selector, root = document) => root.querySelector(selector);

/**
 * Holds a view's redraws while the pointer is pressed inside `root`. A redraw that rebuilds the
 * view's elements between a press and its release loses the click (a click needs both on the same
 * element): a live change or a periodic refresh under a held button. While a press lasts,
 * `holds()` is true and notes that a redraw was wanted; `redraw` then runs once after the release
 * and the click it makes. Only a primary button's press holds (a secondary one opens a context
 * menu, after which the release may never reach the page), and a press on an element matching
 * `except` (a slider, which draws as it moves) holds nothing.
 */
export class PressHold {
    constructor(root, redraw, { except = null } = {}) {
        this.pressed = false;
        this.wanted = false;
        root.addEventListener("pointerdown", (e) => {
            this.pressed = e.isPrimary && e.button === 0 && !(except && e.target.closest?.(except));
        });
        const release = () => {
            if (!this.pressed) return;
            this.pressed = false;
            if (!this.wanted) return;
            this.wanted = false;
            setTimeout(redraw, 0);
        };
        for (const type of ["pointerup", "pointercancel", "dragend", "contextmenu"]) {
            window.addEventListener(type, release, true);
        }
        // The window's own blur (its release may then never come), not its elements'.
        window.addEventListener("blur", (e) => {
            if (e.target === window) release();
        });
    }

    /** Whether a redraw must wait for the release (it then runs after it). */
    holds() {
        if (this.pressed) this.wanted = true;
        return this.pressed;
    }

    /** Forgets a redraw that was waiting (the view closed). */
    drop() {
        this.wanted = false;
    }
}

// --- formatting ---------------------------------------------------------------------------

const STATUS_LABELS = {
    pending: "Pending",
    in_progress: "In progress",
    completed: "Completed",
    failed: "Failed",
    expired: "Expired",
    deleted: "Deleted",
};

export const statusLabel = (s) => STATUS_LABELS[s] ?? String(s);

const MODE_LABELS = {
    full_deliberation: "Full deliberation",
    quick_consensus: "Quick consensus",
    devils_advocate: "Devil's advocate",
};

export const modeLabel = (m) => MODE_LABELS[m] ?? String(m);

/** A colored status badge (the color comes from the stylesheet, by data-status). */
export function statusBadge(status) {
    return setBadgeStatus(h("span", { className: "badge" }), status);
}

/** Makes `badge` (from statusBadge()) show `status`, in place; returns it. */
export function setBadgeStatus(badge, status) {
    badge.dataset.status = status;
    const label = statusLabel(status);
    if (badge.textContent !== label) badge.textContent = label;
    return badge;
}

export const nf = new Intl.NumberFormat();

/** Milliseconds since the epoch for an RFC 3339 time from the server, or NaN. */
export function parseTime(text) {
    return typeof text === "string" ? Date.parse(text) : NaN;
}

const timeFmt = new Intl.DateTimeFormat(undefined, {
    hour: "2-digit", minute: "2-digit", second: "2-digit",
});
const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
});

/** "14:03:07" for today, "Nov 24, 2026, 14:03:07" otherwise. */
export function formatTime(text) {
    const t = parseTime(text);
    if (Number.isNaN(t)) return "—";
    const d = new Date(t);
    const now = new Date();
    return d.toDateString() === now.toDateString() ? timeFmt.format(d) : dateTimeFmt.format(d);
}

const fullFmt = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", fractionalSecondDigits: 3,
});

/** The full local date and time with milliseconds, for titles and the session view. */
export function formatFullTime(text) {
    const t = parseTime(text);
    return Number.isNaN(t) ? "—" : fullFmt.format(new Date(t));
}

/** "just now", "42 s ago", "5 min ago", "3 h ago", else the date. */
export function formatRelative(text, now = Date.now()) {
    const t = parseTime(text);
    if (Number.isNaN(t)) return "—";
    const s = Math.round((now - t) / 1000);
    if (s < 3) return "just now";
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return formatTime(text);
}

/** A short form of any JSON value for one line: a "text"-like member if there is one. */
export function compactValue(value, max = 140) {
    let out;
    if (typeof value === "string") {
        out = value;
    } else if (value && typeof value === "object" && !Array.isArray(value)) {
        const key = ["text", "content", "answer", "summary", "message", "decision"]
            .find((k) => typeof value[k] === "string");
        out = key ? value[key] : JSON.stringify(value);
    } else {
        out = JSON.stringify(value);
    }
    out = String(out ?? "").replace(/\s+/g, " ").trim();
    return out.length > max ? `${out.slice(0, max - 1)}…` : out;
}

export const prettyJson = (value) => JSON.stringify(value, null, 2);

export const shortId = (id) => String(id).slice(0, 8);

/**
 * An endpoint's URL as the server's logs show it (docs/webhooks.md, "Logs"): credentials and every
 * query value replaced by `***`, the fragment dropped, the path as it is.
 */
export function redactUrl(text) {
    let u;
    try {
        u = new URL(text);
    } catch {
        return "(not a URL)";
    }
    const auth = u.username || u.password ? "***@" : "";
    const query = u.search
        ? `?${u.search.slice(1).split("&").map((kv) => `${kv.split("=")[0]}=***`).join("&")}`
        : "";
    return `${u.protocol}//${auth}${u.host}${u.pathname}${query}`;
}
