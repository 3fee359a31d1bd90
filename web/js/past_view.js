// The past sessions view (#/past): every session the log knows, the ended ones included (deleted,
// or expired by the sweep), searched through GET /v1/sessions with its filters: `state` (active,
// ended, all), `q` (an id as pasted, its first 8+ characters, or words of the query), `status`,
// `mode`, `metadata.<key>=<value>` and `created_after` / `created_before`.
//
// The filters live in the URL hash's query, so that a view is shared as a link:
//   #/past?q=...&state=ended&status=...&mode=...&team=...&meta.<key>=...&from=...&to=...
// `team` stands for `metadata.team`, `meta.<key>` for any other metadata key, `from` / `to` are
// RFC 3339 times (UTC) for created_after / created_before. A change of a control rewrites the hash
// (replaceState: typing does not pile up history entries) and reads the first page again; opening
// such a URL fills the controls and shows the same results. A row opens the session view, which
// shows an ended session's history (GET /v1/sessions/{id}/events) and its last state (?at_seq=).

import { api, ApiError } from "./api.js";
import { formatFullTime, formatTime, h, modeLabel, replaceChildren, shortId, statusBadge } from "./dom.js";

const PAGE = 50;
const TYPING_MS = 250;
const MAX_META = 4;
const STATES = [["all", "Active and ended"], ["ended", "Ended only"], ["active", "Active only"]];
const STATUSES = [["", "Any status"], ["pending", "Pending"], ["in_progress", "In progress"],
    ["completed", "Completed"], ["failed", "Failed"]];
const MODES = [["", "Any mode"], ["full_deliberation", "Full deliberation"],
    ["quick_consensus", "Quick consensus"], ["devils_advocate", "Devil's advocate"]];

/** The filters of an empty view. `state` defaults to every session. */
const emptyFilters = () => ({ q: "", state: "all", status: "", mode: "", meta: [], from: "", to: "" });

/** The filters a `#/past?...` hash names (unknown parameters are ignored). */
export function filtersFromHash(hash) {
    const f = emptyFilters();
    const i = hash.indexOf("?");
    const params = new URLSearchParams(i < 0 ? "" : hash.slice(i + 1));
    for (const [k, v] of params) {
        if (k === "q") f.q = v;
        else if (k === "state" && STATES.some(([s]) => s === v)) f.state = v;
        else if (k === "status") f.status = v;
        else if (k === "mode") f.mode = v;
        else if (k === "from") f.from = v;
        else if (k === "to") f.to = v;
        else if (k === "team") f.meta.push(["team", v]);
        else if (k.startsWith("meta.") && k.length > 5) f.meta.push([k.slice(5), v]);
    }
    f.meta = f.meta.slice(0, MAX_META);
    return f;
}

/** The `#/past?...` hash of `f`: only the filters that are set, in a stable order. */
export function hashOf(f) {
    const p = new URLSearchParams();
    if (f.q.trim()) p.set("q", f.q.trim());
    if (f.state !== "all") p.set("state", f.state);
    if (f.status) p.set("status", f.status);
    if (f.mode) p.set("mode", f.mode);
    for (const [k, v] of f.meta) p.append(k === "team" ? "team" : `meta.${k}`, v);
    if (f.from) p.set("from", f.from);
    if (f.to) p.set("to", f.to);
    const q = p.toString();
    return q ? `#/past?${q}` : "#/past";
}

/** GET /v1/sessions's query for `f` (and a cursor). */
function listQuery(f, after) {
    const p = new URLSearchParams({ limit: String(PAGE), state: f.state });
    if (f.q.trim()) p.set("q", f.q.trim());
    if (f.status) p.set("status", f.status);
    if (f.mode) p.set("mode", f.mode);
    for (const [k, v] of f.meta) p.append(`metadata.${k}`, v);
    if (f.from) p.set("created_after", f.from);
    if (f.to) p.set("created_before", f.to);
    if (after) p.set("after", after);
    return `/v1/sessions?${p}`;
}

/** "team=infra, region=eu" -> [["team", "infra"], ["region", "eu"]]; null when malformed. */
function parseMeta(text) {
    const out = [];
    for (const part of text.split(",")) {
        const t = part.trim();
        if (!t) continue;
        const eq = t.indexOf("=");
        if (eq <= 0) return null;
        out.push([t.slice(0, eq).trim(), t.slice(eq + 1).trim()]);
    }
    return out.length > MAX_META ? null : out;
}

const metaText = (meta) => meta.map(([k, v]) => `${k}=${v}`).join(", ");

const pad = (n) => String(n).padStart(2, "0");

/** An RFC 3339 time as a datetime-local input's value (local time, to the second). */
function toLocalInput(text) {
    const t = Date.parse(text);
    if (Number.isNaN(t)) return "";
    const d = new Date(t);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:` +
        `${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A datetime-local input's value (local time) as RFC 3339 in UTC, or "". */
function fromLocalInput(value) {
    if (!value) return "";
    const t = new Date(value).getTime();  // a date-time form without offset is local time
    return Number.isNaN(t) ? "" : new Date(t).toISOString().replace(".000Z", "Z");
}

/** Whether an input's value shows the RFC 3339 time `text` (to the second). */
const sameTime = (value, text) => fromLocalInput(value) === fromLocalInput(toLocalInput(text));

export class PastView {
    constructor(root) {
        this.root = root;
        this.active = false;
        this.filters = emptyFilters();
        this.rows = [];
        this.next = null;
        this.loading = false;
        this.error = null;
        this.metaError = null;
        this.generation = 0;
        this.typing = 0;
        this.built = false;
    }

    /** Shows the view for `hash` (#/past?...); reads the first page when the filters changed. */
    open(hash) {
        const f = filtersFromHash(hash);
        const same = this.active && hashOf(f) === hashOf(this.filters);
        this.active = true;
        if (!this.built) this.build();
        if (same) return;
        this.filters = f;
        this.fillControls();
        this.load();
    }

    close() {
        this.active = false;
        this.generation++;
        clearTimeout(this.typing);
    }

    build() {
        this.built = true;
        const select = (id, label, options) => [
            h("label", { for: id }, label),
            h("select", { id, name: id }, options.map(([v, text]) => h("option", { value: v }, text))),
        ];
        const c = this.controls = {};
        const form = h("form", { className: "past-filters", id: "past-filters", role: "search",
            "aria-label": "Search past sessions", onsubmit: (e) => { e.preventDefault(); this.apply(); } },
        h("div", { className: "past-field past-search" },
            h("label", { for: "past-q" }, "Search"),
            c.q = h("input", { id: "past-q", type: "search", autocomplete: "off", spellcheck: "false",
                maxlength: "200", placeholder: "A session id, or words of the query" })),
        h("div", { className: "past-field" }, select("past-state", "Sessions", STATES)),
        h("div", { className: "past-field" }, select("past-status", "Status", STATUSES)),
        h("div", { className: "past-field" }, select("past-mode", "Mode", MODES)),
        h("div", { className: "past-field" },
            h("label", { for: "past-meta" }, "Metadata"),
            c.meta = h("input", { id: "past-meta", type: "text", autocomplete: "off", spellcheck: "false",
                placeholder: "team=infra", "aria-describedby": "past-meta-help" })),
        h("div", { className: "past-field" },
            h("label", { for: "past-from" }, "Created after"),
            c.from = h("input", { id: "past-from", type: "datetime-local", step: "1" })),
        h("div", { className: "past-field" },
            h("label", { for: "past-to" }, "Created before"),
            c.to = h("input", { id: "past-to", type: "datetime-local", step: "1" })),
        h("p", { className: "muted small past-help", id: "past-meta-help" },
            "Metadata as key=value, several separated by commas. Times are this browser's local time."));
        c.state = form.querySelector("#past-state");
        c.status = form.querySelector("#past-status");
        c.mode = form.querySelector("#past-mode");
        c.q.addEventListener("input", () => {
            clearTimeout(this.typing);
            this.typing = setTimeout(() => this.apply(), TYPING_MS);
        });
        c.meta.addEventListener("input", () => {
            clearTimeout(this.typing);
            this.typing = setTimeout(() => this.apply(), TYPING_MS);
        });
        for (const el of [c.state, c.status, c.mode, c.from, c.to]) el.addEventListener("change", () => this.apply());

        this.summary = h("p", { className: "table-summary", id: "past-summary", "aria-live": "polite" });
        this.errorBox = h("p", { className: "form-error", id: "past-error", role: "alert", hidden: true });
        this.body = h("tbody", { id: "past-body" });
        this.table = h("table", { className: "past-table", id: "past-table", "aria-labelledby": "past-title" },
            h("thead", {}, h("tr", {},
                ["ID", "Query", "Status", "Mode", "Created", "Ended"].map((t) => h("th", { scope: "col" }, t)))),
            this.body);
        this.more = h("button", { type: "button", className: "ghost-button past-more", id: "past-more", hidden: true,
            onclick: () => this.loadMore() }, "More");
        replaceChildren(this.root,
            h("h1", { id: "past-title" }, "Past sessions"),
            h("p", { className: "muted" }, "Every session of the log, deleted and expired ones included. " +
                "The filters are in the address: copy it to share this view."),
            h("section", { className: "panel past-panel", "aria-labelledby": "past-title" },
                form, this.errorBox, this.summary,
                h("div", { className: "past-table-wrap" }, this.table),
                this.more));
    }

    /** Puts this.filters into the controls. */
    fillControls() {
        const c = this.controls;
        const f = this.filters;
        c.q.value = f.q;
        c.state.value = f.state;
        c.status.value = f.status;
        c.mode.value = f.mode;
        c.meta.value = metaText(f.meta);
        c.from.value = toLocalInput(f.from);
        c.to.value = toLocalInput(f.to);
        this.metaError = null;
    }

    /** Reads the controls into the filters and the URL, and loads the first page if they changed. */
    apply() {
        if (!this.active) return;
        clearTimeout(this.typing);
        const c = this.controls;
        const meta = parseMeta(c.meta.value);
        this.metaError = meta ? null : `Metadata: key=value, at most ${MAX_META}, separated by commas.`;
        const old = this.filters;
        const f = {
            q: c.q.value,
            state: c.state.value,
            status: c.status.value,
            mode: c.mode.value,
            meta: meta ?? old.meta,
            // A time the input shows unchanged keeps its exact value from the URL.
            from: sameTime(c.from.value, old.from) ? old.from : fromLocalInput(c.from.value),
            to: sameTime(c.to.value, old.to) ? old.to : fromLocalInput(c.to.value),
        };
        const hash = hashOf(f);
        const changed = hash !== hashOf(old);
        this.filters = f;
        if (location.hash !== hash) history.replaceState(null, "", hash);
        if (changed) this.load();
        else this.renderStatus();
    }

    async load() {
        const gen = ++this.generation;
        this.rows = [];
        this.next = null;
        this.error = null;
        this.loading = true;
        this.renderRows();
        await this.fetchPage(gen, null);
    }

    async loadMore() {
        if (this.loading || !this.next) return;
        this.loading = true;
        this.renderStatus();
        await this.fetchPage(this.generation, this.next);
    }

    async fetchPage(gen, after) {
        let page = null;
        let error = null;
        try {
            page = await api(listQuery(this.filters, after));
        } catch (e) {
            error = e instanceof ApiError ? e.message : "The server cannot be reached.";
        }
        if (gen !== this.generation) return;
        this.loading = false;
        if (error) {
            this.error = error;
        } else {
            this.rows.push(...page.sessions);
            this.next = page.next ?? null;
        }
        this.renderRows();
    }

    renderRows() {
        if (!this.active) return;
        this.body.replaceChildren(...this.rows.map((s) => this.row(s)));
        this.table.dataset.count = String(this.rows.length);
        this.renderStatus();
    }

    renderStatus() {
        const n = this.rows.length;
        const error = this.metaError ?? this.error;
        this.errorBox.textContent = error ?? "";
        this.errorBox.hidden = !error;
        this.more.hidden = !this.next;
        this.more.disabled = this.loading;
        this.table.hidden = n === 0;
        this.root.dataset.state = this.loading ? "loading" : this.error ? "error" : "ready";
        this.summary.textContent = this.loading && n === 0 ? "Searching…"
            : this.error && n === 0 ? ""
                : n === 0 ? "No session matches."
                    : `${n} session${n === 1 ? "" : "s"}${this.next ? " so far: More reads the next ones" : ""}.`;
    }

    row(s) {
        const href = `#/sessions/${encodeURIComponent(s.session_id)}`;
        const ended = s.ended;
        const open = (e) => {
            if (e.target.closest("a")) return;  // the link does it
            location.hash = href;
        };
        return h("tr", { dataset: { id: s.session_id, status: s.status, mode: s.mode ?? "", ended: ended?.reason ?? "" },
            onclick: open },
        h("td", { className: "past-id", "data-label": "ID" },
            h("a", { href, className: "mono", title: s.session_id }, shortId(s.session_id))),
        h("td", { className: "past-query", "data-label": "Query" }, s.query ?? ""),
        h("td", { className: "past-status", "data-label": "Status" }, statusBadge(s.status)),
        h("td", { className: "past-mode", "data-label": "Mode" }, s.mode ? modeLabel(s.mode) : "—"),
        h("td", { className: "past-created", "data-label": "Created", title: formatFullTime(s.created_at) },
            formatTime(s.created_at)),
        h("td", { className: "past-ended", "data-label": "Ended", title: ended ? formatFullTime(ended.at) : "" },
            ended ? [statusBadge(ended.reason), " ", h("time", { datetime: ended.at }, formatTime(ended.at))] : "—"));
    }
}
