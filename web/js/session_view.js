// One session (#/sessions/<id>): its query, mode, status and times, a providers-by-rounds grid
// of responses, the consensus or the error, the metadata, and its event timeline with a
// time-travel slider. The slider's position k shows the session as it was right after its k-th
// event, read from the server (GET /v1/sessions/{id}?at_seq=<seq of that event>); at the right
// end it follows the live session, which the page keeps current from the stream.

import { api, ApiError } from "./api.js";
import {
    compactValue, formatFullTime, formatTime, h, modeLabel, nf, parseTime, prettyJson, PressHold,
    replaceChildren, statusBadge, statusLabel, svg,
} from "./dom.js";
import { describeEvent, eventLabel } from "./feed.js";
import { renderMarkdown } from "./markdown.js";
import { metricMembers, metricsLine } from "./rounds.js";
import { applyEvent, sessionFromCreated, ttlMsBetween } from "./store.js";

const TIME_TRAVEL_DEBOUNCE_MS = 90;
/** setTimeout's longest delay; a later expiry is re-checked after it. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** The time-travel slider's thumb width (app.css); the timeline's ends sit under its centre. */
const THUMB_PX = 16;

export class SessionView {
    constructor(root) {
        this.root = root;
        this.id = null;
        this.generation = 0;
        this.resizeObserver = new ResizeObserver(() => {
            this.renderTimeline();
            this.updateCuts();
        });
        // A press held over a live change of the session is not lost to its redraw (dom.js).
        this.press = new PressHold(root, () => this.render(), { except: "#time-travel" });
    }

    /** Shows session `id`, loading it and its events. */
    async open(id) {
        this.close();
        const generation = ++this.generation;
        this.id = id;
        this.live = null;         // the newest state (null when gone)
        this.gone = null;         // "deleted" | "expired" | null
        this.final = null;        // when gone: the state right before the deleted/expired event
        this.events = [];
        this.buffer = [];         // stream events that arrived while loading
        this.loading = true;
        this.index = null;        // time travel: 1-based event position, null = the newest state
        this.past = null;         // the state fetched for `index`
        this.pastError = null;
        this.fetching = false;
        this.openCells = new Set();
        this.focusProvider = null;  // a provider whose rounds show side by side, or null: all
        this.openEvents = new Set();  // seqs of the events whose detail is expanded
        this.folded = null;           // this page's fold of the history: {ttlMs, states}
        this.queryExpanded = false;
        this.expiredByClock = false;
        this.build();
        replaceChildren(this.refs.body, h("p", { className: "muted loading" }, "Loading session…"));

        let session = null;
        let events = null;
        let failure = null;
        const [sRes, eRes] = await Promise.allSettled([
            api(`/v1/sessions/${encodeURIComponent(id)}`),
            api(`/v1/sessions/${encodeURIComponent(id)}/events`),
        ]);
        if (generation !== this.generation) return;
        if (sRes.status === "fulfilled") session = sRes.value;
        else failure = sRes.reason;
        if (eRes.status === "fulfilled") events = eRes.value.events;
        else failure ??= eRes.reason;

        if (!events) {
            this.loading = false;
            this.renderMissing(failure);
            return;
        }
        this.events = events.slice().sort((a, b) => a.seq - b.seq);
        if (session) {
            this.live = session;
        } else if (failure instanceof ApiError && failure.status === 404) {
            this.gone = failure.code === "session_expired" ? "expired" : "deleted";
        } else {
            this.loading = false;
            this.renderMissing(failure);
            return;
        }
        // Events that came on the stream while loading: keep those the answers did not include.
        const lastSeq = this.events.length ? this.events[this.events.length - 1].seq : 0;
        for (const ev of this.buffer) {
            if (ev.seq > lastSeq) this.ingest(ev);
        }
        this.buffer = [];
        this.loading = false;
        this.render();
        if (!this.live) this.loadFinalState();
    }

    /** For a session that is gone: its state right before it went, read from the log. */
    async loadFinalState() {
        const k = this.lastStateIndex();
        if (k < 1) return;
        const generation = this.generation;
        try {
            this.final = await api(`/v1/sessions/${encodeURIComponent(this.id)}?at_seq=${this.events[k - 1].seq}`);
        } catch (err) {
            if (generation !== this.generation) return;
            this.pastError = `could not load its last state: ${err.message}`;
        }
        if (generation === this.generation) this.render();
    }

    close() {
        this.generation++;
        this.press.drop();
        clearTimeout(this.travelTimer);
        clearTimeout(this.expiryTimer);
        this.resizeObserver.disconnect();
        this.id = null;
        this.root.replaceChildren();
    }

    /** An event from the stream (any session); only this session's are used. */
    onEvent(ev) {
        if (!this.id || ev.session_id !== this.id) return;
        if (this.loading) {
            this.buffer.push(ev);
            return;
        }
        const lastSeq = this.events.length ? this.events[this.events.length - 1].seq : 0;
        if (ev.seq <= lastSeq) return;
        this.ingest(ev);
        this.render();
    }

    ingest(ev) {
        this.events.push(ev);
        if (ev.type === "deleted" || ev.type === "expired") {
            this.gone = ev.type;
            this.final = this.live;
            this.live = null;
        } else if (this.live) {
            const next = structuredClone(this.live);
            applyEvent(next, ev);
            this.live = next;
        }
    }

    /** The position of the newest state that can be shown (before a deleted or expired event). */
    lastStateIndex() {
        const n = this.events.length;
        if (this.gone && n > 0 && ["deleted", "expired"].includes(this.events[n - 1].type)) return n - 1;
        return n;
    }

    /**
     * "deleted", "expired" or null. A session past its expires_at is expired by this page's clock
     * before the expiry sweep writes its `expired` event (up to --cleanup-interval later): the
     * API already answers 404 session_expired for it.
     */
    goneKind() {
        return this.gone ?? (this.expiredByClock ? "expired" : null);
    }

    /** The deleted or expired event that ended the session, if the history has it. */
    endEvent() {
        const ev = this.events[this.events.length - 1];
        return ev && ["deleted", "expired"].includes(ev.type) ? ev : null;
    }

    /** When the session ended (or null): the deleted event's time, or its expires_at. */
    endTime() {
        const kind = this.goneKind();
        if (!kind) return null;
        const ev = this.endEvent();
        if (kind === "deleted") return ev?.at ?? null;
        return (this.live ?? this.final)?.expires_at ?? ev?.at ?? null;
    }

    /** Compares the live session's expires_at with the clock; wakes up to render when it passes. */
    checkExpiry() {
        clearTimeout(this.expiryTimer);
        this.expiredByClock = false;
        if (!this.live) return;
        const at = parseTime(this.live.expires_at);
        if (Number.isNaN(at)) return;
        const left = at - Date.now();
        if (left <= 0) {
            this.expiredByClock = true;
            return;
        }
        const generation = this.generation;
        this.expiryTimer = setTimeout(() => {
            if (generation === this.generation) this.render();
        }, Math.min(left + 1, MAX_TIMER_MS));
    }

    // --- building and rendering ---------------------------------------------------------------

    build() {
        const slider = h("input", {
            type: "range", id: "time-travel", min: "1", max: "1", step: "1", value: "1",
            "aria-describedby": "time-travel-label",
        });
        slider.addEventListener("input", () => this.travelTo(Number(slider.value)));
        slider.addEventListener("change", () => this.travelTo(Number(slider.value)));
        const liveButton = h("button", { type: "button", className: "ghost-button", id: "back-to-live" },
            "Back to live");
        liveButton.addEventListener("click", () => this.travelTo(null));

        this.refs = {
            head: h("header", { className: "session-head" }),
            banner: h("div", { className: "travel-banner", role: "status", "aria-live": "polite" }),
            timelineSvg: h("div", { className: "timeline-plot" }),
            slider,
            sliderLabel: h("p", { className: "time-travel-label", id: "time-travel-label" }),
            liveButton,
            body: h("div", { className: "session-body" }),
            eventList: h("ol", { className: "event-list", "aria-label": "Events of this session" }),
        };
        const r = this.refs;
        const timeline = h("section", { className: "card timeline-card", "aria-labelledby": "timeline-title" },
            h("div", { className: "card-head" },
                h("h2", { id: "timeline-title" }, "Timeline"),
                r.liveButton),
            r.timelineSvg,
            // The slider spans the plot's width: its ends are the first and the last event.
            h("div", { className: "time-travel" },
                h("label", { for: "time-travel", className: "visually-hidden" }, "Time travel"),
                r.slider),
            r.sliderLabel,
        );
        const eventsCard = h("section", { className: "card", "aria-labelledby": "events-title" },
            h("div", { className: "card-head" }, h("h2", { id: "events-title" }, "Events")),
            r.eventList);
        this.root.replaceChildren(r.head, r.banner, timeline, r.body, eventsCard);
        this.resizeObserver.observe(r.timelineSvg);
    }

    renderMissing(err) {
        const notFound = err instanceof ApiError && err.status === 404;
        replaceChildren(this.refs.head,
            h("h1", { id: "session-title", className: "session-title" },
                notFound ? "Session not found" : "Could not load the session"),
            h("p", { className: "muted mono" }, this.id));
        replaceChildren(this.refs.body, h("p", { className: "muted" },
            notFound ? "No session has this id." : String(err?.message ?? err)));
        this.root.querySelector(".timeline-card").hidden = true;
        this.refs.eventList.closest("section").hidden = true;
        this.refs.banner.hidden = true;
    }

    /**
     * The state to show: the one fetched for the slider position (while the next one loads, the
     * previous one, dimmed), or the newest one.
     */
    shown() {
        const newest = this.live ?? this.final;
        if (this.index === null) return newest;
        return this.past ?? newest;
    }

    render() {
        if (!this.id || this.loading) return;
        if (this.press.holds()) return;
        this.checkExpiry();
        const n = this.events.length;
        const r = this.refs;
        const maxIndex = Math.max(1, n);
        r.slider.max = String(maxIndex);
        r.slider.value = String(this.index ?? this.lastStateIndex());
        r.slider.disabled = n <= 1;
        r.liveButton.hidden = this.index === null;
        r.liveButton.textContent = this.goneKind() ? "Back to last state" : "Back to live";

        const s = this.shown();
        this.renderHead(s);
        this.renderBanner();
        this.renderBody(s);
        this.updateCuts();
        this.renderTimeline();
        this.renderEventList();
        this.renderSliderLabel();
        const settled = !this.fetching && (this.index === null || this.past || this.pastError);
        this.refs.body.classList.toggle("stale", !settled);
        this.refs.body.setAttribute("aria-busy", settled ? "false" : "true");
        this.root.dataset.version = settled ? String(s?.version ?? "") : "";
        this.root.dataset.mode = this.index === null ? (this.goneKind() ? "gone" : "live") : "past";
        this.root.dataset.gone = this.goneKind() ?? "";
        this.root.dataset.status = s?.status ?? "";
    }

    renderHead(s) {
        const query = s?.query ?? this.events[0]?.data?.query ?? "";
        const gone = this.goneKind();
        const status = this.index === null && gone ? gone : s?.status;
        const mode = s?.mode ?? this.events[0]?.data?.mode;
        replaceChildren(this.refs.head,
            h("div", { className: "session-kicker" },
                status ? statusBadge(status) : null,
                mode ? h("span", { className: "chip" }, modeLabel(mode)) : null,
                h("span", { className: "mono muted small", title: "Session id" }, this.id)),
            h("h1", { id: "session-title", className: `session-title${this.queryExpanded ? " expanded" : ""}` }, query),
            query.length > 280 ? expandButton(this) : null,
            h("dl", { className: "facts" },
                fact("Created", s?.created_at ?? this.events[0]?.at),
                fact("Updated", s?.updated_at),
                // A session that is gone no longer expires: say when it ended instead.
                gone === "deleted" ? fact("Deleted", this.endTime())
                    : gone === "expired" ? fact("Expired", this.endTime())
                        : fact("Expires", s?.expires_at),
                h("div", {}, h("dt", {}, "Version"), h("dd", { className: "mono" },
                    s ? String(s.version) : "—"))),
        );
    }

    renderBanner() {
        const b = this.refs.banner;
        b.hidden = false;
        if (this.index !== null) {
            const ev = this.events[this.index - 1];
            b.dataset.kind = "past";
            replaceChildren(b, h("strong", {}, "Time travel: "),
                `the session as it was after event ${this.index} of ${this.events.length} `,
                h("span", { className: "mono" }, `(seq ${ev.seq}, ${eventLabel(ev.type)}, ${formatFullTime(ev.at)})`),
                this.pastError ? h("span", { className: "banner-error" }, ` — ${this.pastError}`) : null);
        } else if (this.goneKind()) {
            const kind = this.goneKind();
            const at = this.endTime();
            b.dataset.kind = "gone";
            replaceChildren(b, h("strong", {}, kind === "deleted" ? "Deleted. " : "Expired. "),
                `This session ${kind === "deleted" ? "was deleted" : "expired"}`,
                at ? ` at ${formatFullTime(at)}` : "",
                ". Move the slider to see its earlier states.");
        } else {
            b.hidden = true;
            b.replaceChildren();
        }
    }

    renderBody(s) {
        const body = this.refs.body;
        if (!s) {
            replaceChildren(body, h("p", { className: "muted loading" },
                this.pastError ? `Cannot show this state: ${this.pastError}.` : "Loading…"));
            return;
        }
        replaceChildren(body,
            h("section", { className: "card responses-card", "aria-labelledby": "responses-title" },
                h("div", { className: "card-head" },
                    h("h2", { id: "responses-title" }, "Responses"),
                    h("span", { className: "muted small" }, responsesSummary(s.provider_responses)),
                    this.providerPicker(s.provider_responses)),
                this.focusProvider !== null
                    ? this.providerRounds(s.provider_responses, this.focusProvider)
                    : this.responsesGrid(s.provider_responses)),
            h("div", { className: "two-col" },
                outcomeCard(s),
                h("section", { className: "card", "aria-labelledby": "metadata-title" },
                    h("div", { className: "card-head" }, h("h2", { id: "metadata-title" }, "Metadata")),
                    metadataList(s.metadata))),
        );
    }

    responsesGrid(responses) {
        const providers = Object.keys(responses ?? {}).sort((a, b) => a.localeCompare(b));
        if (!providers.length) return h("p", { className: "muted empty-note" }, "No responses yet.");
        const rounds = new Set();
        for (const p of providers) for (const r of Object.keys(responses[p])) rounds.add(Number(r));
        const roundList = [...rounds].sort((a, b) => a - b);
        const table = h("table", { className: "responses-grid" },
            h("thead", {}, h("tr", {},
                h("th", { scope: "col" }, "Provider"),
                roundList.map((r) => h("th", { scope: "col" }, `Round ${r}`)))),
            h("tbody", {}, providers.map((p) => h("tr", { dataset: { provider: p } },
                h("th", { scope: "row" }, h("button", {
                    type: "button", className: "link-button provider-button",
                    title: `${p}: its rounds side by side`, onclick: () => this.focusOn(p),
                }, p)),
                roundList.map((r) => {
                    const key = String(r);
                    if (!Object.hasOwn(responses[p], key)) {
                        return h("td", { className: "no-response" }, h("span", { "aria-label": "no response" }, "—"));
                    }
                    return h("td", { dataset: { round: key } },
                        this.responseCell(responses[p][key], `${p}\u0000${key}`));
                })))));
        return h("div", { className: "grid-scroll" }, table);
    }

    /** Shows one provider's rounds side by side (`p`), or every provider's (null). */
    focusOn(p) {
        this.focusProvider = p;
        this.render();
        this.refs.body.querySelector("#provider-view")?.focus({ preventScroll: true });
    }

    /** "All providers" or one of them: the one chosen has its rounds in columns. */
    providerPicker(responses) {
        const providers = Object.keys(responses ?? {}).sort((a, b) => a.localeCompare(b));
        const focus = this.focusProvider;
        if (focus !== null && !providers.includes(focus)) providers.push(focus);
        if (!providers.length) return null;
        const select = h("select", { id: "provider-view", className: "provider-picker" },
            h("option", { value: "" }, "All providers"),
            providers.map((p) => h("option", { value: p }, `${p}: rounds side by side`)));
        select.value = focus ?? "";
        select.addEventListener("change", () => this.focusOn(select.value === "" ? null : select.value));
        return h("label", { className: "provider-picker-label" },
            h("span", { className: "visually-hidden" }, "Show"), select);
    }

    /** One provider's answers, a column per round (full width), each with its numbers on top. */
    providerRounds(responses, p) {
        const byRound = responses?.[p] ?? {};
        const rounds = Object.keys(byRound).map(Number).filter(Number.isInteger).sort((a, b) => a - b);
        const back = h("button", { type: "button", className: "ghost-button", id: "all-providers" }, "All providers");
        back.addEventListener("click", () => this.focusOn(null));
        return h("div", { className: "provider-view", dataset: { provider: p } },
            h("div", { className: "provider-view-head" },
                h("h3", {}, p, h("span", { className: "muted small" },
                    ` · ${rounds.length} round${rounds.length === 1 ? "" : "s"}`)),
                back),
            rounds.length === 0
                ? h("p", { className: "muted empty-note" }, `No responses from ${p} at this point.`)
                : h("div", { className: "provider-rounds", role: "list", "aria-label": `${p}, round by round` },
                    rounds.map((r) => h("div", { className: "provider-round", role: "listitem", dataset: { round: String(r) } },
                        h("h4", { className: "provider-round-title" }, `Round ${r}`),
                        this.responseCell(byRound[String(r)], `${p}\u0000${r}`)))));
    }

    /**
     * One response: a string as markdown (rendered, then sanitized); an object with a string
     * `text` member (the usual `{"text": ...}` shape) as that markdown, its other members as
     * formatted JSON under it (less the numbers the numbers line shows); any other value as
     * formatted JSON. Clamped to a few lines; "Show
     * full" appears only when the clamp cuts something (updateCuts, once it is laid out). The
     * numbers an object reports (confidence, tokens, latency) head the cell on one line, so that
     * in a provider's row they line up across the rounds whatever the answers' lengths.
     */
    responseCell(value, cellKey) {
        const isObject = value !== null && typeof value === "object" && !Array.isArray(value);
        const text = typeof value === "string" ? value
            : isObject && typeof value.text === "string" ? value.text : null;
        let content;
        if (text !== null) {
            const rendered = text.trim() ? renderMarkdown(text) : h("span", { className: "muted" }, "(empty)");
            // The members the numbers line says in full are not repeated in the JSON.
            const shown = metricMembers(value);
            const rest = isObject ? Object.fromEntries(Object.entries(value).filter(([k]) => k !== "text" && !shown.has(k))) : {};
            content = h("div", { className: "response-body markdown" }, rendered,
                Object.keys(rest).length > 0 ? h("pre", { className: "response-json response-extra" }, prettyJson(rest)) : null);
        } else {
            content = h("pre", { className: "response-body response-json" }, prettyJson(value));
        }
        const expanded = this.openCells.has(cellKey);
        const box = h("div", {
            className: `response${expanded ? " expanded" : ""}`,
            dataset: { kind: text !== null ? "text" : "json" },
        }, metricsLine(value), content);
        const toggle = h("button", {
            type: "button", className: "link-button response-toggle", hidden: true,
            "aria-expanded": String(expanded),
        }, expanded ? "Show less" : "Show full");
        toggle.addEventListener("click", () => {
            const open = !box.classList.contains("expanded");
            box.classList.toggle("expanded", open);
            toggle.setAttribute("aria-expanded", String(open));
            toggle.textContent = open ? "Show less" : "Show full";
            if (open) this.openCells.add(cellKey);
            else this.openCells.delete(cellKey);
            this.updateCuts();
        });
        box.append(toggle);
        return box;
    }

    /** Shows "Show full" on the responses the clamp cuts (and "Show less" on expanded ones). */
    updateCuts() {
        for (const box of this.refs?.body.querySelectorAll(".response") ?? []) {
            const body = box.querySelector(".response-body");
            const toggle = box.querySelector(".response-toggle");
            const expanded = box.classList.contains("expanded");
            const cut = !expanded && body.scrollHeight > body.clientHeight + 1;
            box.classList.toggle("cut", cut);
            toggle.hidden = !(cut || expanded);
        }
    }

    renderTimeline() {
        const box = this.refs?.timelineSvg;
        if (!box || !this.events.length) return;
        const width = Math.max(240, box.clientWidth || 600);
        const height = 64;
        // The slider below spans the same width; its thumb's centre runs from THUMB_PX / 2 to
        // width - THUMB_PX / 2, so the first and the last event sit where its ends put the thumb.
        const pad = THUMB_PX / 2;
        const events = this.events;
        const times = events.map((e) => parseTime(e.at));
        const t0 = times[0];
        const t1 = times[times.length - 1];
        const span = Math.max(1, t1 - t0);
        // x by time; events of one batch share a time, so keep a minimum gap and then fit.
        const minGap = 16;
        const xs = [];
        for (let i = 0; i < events.length; i++) {
            let x = ((times[i] - t0) / span) * (width - 2 * pad);
            if (events.length === 1) x = 0;  // where a slider with min = max puts its thumb
            if (i > 0 && x < xs[i - 1] + minGap) x = xs[i - 1] + minGap;
            xs.push(x);
        }
        const extent = xs[xs.length - 1] || 1;
        const scale = extent > width - 2 * pad ? (width - 2 * pad) / extent : 1;
        const selected = (this.index ?? this.lastStateIndex()) - 1;
        const axisY = 30;
        const dots = events.map((ev, i) => {
            const cx = pad + xs[i] * scale;
            const isSel = i === selected;
            const dot = svg("circle", {
                cx: cx.toFixed(1), cy: axisY, r: isSel ? 7 : 5,
                class: `dot${isSel ? " selected" : ""}${i > selected ? " future" : ""}`,
                dataset: { type: ev.type, index: i + 1 },
                onclick: () => this.travelTo(i + 1),
            }, svg("title", {}, `#${i + 1} · seq ${ev.seq} · ${eventLabel(ev.type)} · ${formatFullTime(ev.at)}`));
            return dot;
        });
        const plot = svg("svg", {
            viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
            "aria-label": `${events.length} events from ${formatFullTime(events[0].at)} to ${formatFullTime(events[events.length - 1].at)}`,
        },
        svg("line", { x1: pad, x2: width - pad, y1: axisY, y2: axisY, class: "axis" }),
        dots,
        svg("text", { x: pad, y: height - 6, class: "axis-label" }, formatFullTime(events[0].at)),
        svg("text", { x: width - pad, y: height - 6, class: "axis-label", "text-anchor": "end" },
            span > 1 ? `+${formatSpan(span)}` : ""));
        replaceChildren(box, plot);
    }

    renderSliderLabel() {
        const k = this.index ?? this.lastStateIndex();
        const ev = this.events[k - 1];
        if (!ev) {
            this.refs.sliderLabel.textContent = "";
            return;
        }
        const where = this.index === null
            ? (this.goneKind() ? "Last state" : "Live")
            : `Event ${k} of ${this.events.length}`;
        replaceChildren(this.refs.sliderLabel,
            h("strong", {}, where), " · ",
            h("span", { className: "type-chip", dataset: { type: ev.type } }, eventLabel(ev.type)), " ",
            describeEvent(ev), " · ",
            ...(ev.actor ? [h("span", { className: "event-actor" }, `by ${ev.actor}`), " · "] : []),
            h("span", { className: "mono" }, `seq ${ev.seq}`), " · ", formatFullTime(ev.at));
        this.refs.slider.setAttribute("aria-valuetext", `${where}: ${eventLabel(ev.type)}, seq ${ev.seq}`);
    }

    renderEventList() {
        const selected = (this.index ?? this.lastStateIndex()) - 1;
        const list = this.refs.eventList;
        // Redrawn on every change: keep the keyboard focus on the same control.
        const focusKey = list.contains(document.activeElement) ? document.activeElement.dataset.focus : null;
        replaceChildren(list, this.events.map((ev, i) => {
            const button = h("button", { type: "button", className: "event-row", dataset: { focus: `row:${ev.seq}` } },
                h("span", { className: "event-version mono muted" }, `#${ev.version}`),
                h("span", { className: "type-chip", dataset: { type: ev.type } }, eventLabel(ev.type)),
                h("span", { className: "event-text" }, describeEvent(ev)),
                // Who caused it: the token's name (absent on a server without tokens).
                h("span", { className: "event-actor muted small", title: ev.actor ? "actor" : null },
                    ev.actor ? `by ${ev.actor}` : ""),
                h("time", { className: "event-time muted small", datetime: ev.at, title: formatFullTime(ev.at) },
                    formatTime(ev.at)),
                h("span", { className: "event-seq mono muted small" }, `seq ${ev.seq}`));
            button.addEventListener("click", () => this.travelTo(i + 1));
            const open = this.openEvents.has(ev.seq);
            const detailId = `event-detail-${ev.seq}`;
            const toggle = h("button", {
                type: "button", className: "event-toggle", "aria-expanded": String(open),
                "aria-controls": detailId, "aria-label": `Details of event #${ev.version} (seq ${ev.seq})`,
                title: "Details", dataset: { focus: `toggle:${ev.seq}` },
            }, h("span", { "aria-hidden": "true" }, "\u25B8"));
            const li = h("li", {
                className: i > selected ? "future" : "",
                "aria-current": i === selected ? "step" : null,
                dataset: { seq: ev.seq },
            }, h("div", { className: "event-line" }, button, toggle),
            open ? this.eventDetail(ev, i, detailId) : null);
            // Expanding or collapsing changes only this item (no redraw, the focus stays).
            toggle.addEventListener("click", () => {
                const nowOpen = !this.openEvents.has(ev.seq);
                if (nowOpen) this.openEvents.add(ev.seq);
                else this.openEvents.delete(ev.seq);
                toggle.setAttribute("aria-expanded", String(nowOpen));
                li.querySelector(".event-detail")?.remove();
                if (nowOpen) li.append(this.eventDetail(ev, i, detailId));
            });
            return li;
        }));
        if (focusKey) list.querySelector(`[data-focus="${CSS.escape(focusKey)}"]`)?.focus({ preventScroll: true });
    }

    /**
     * The session as this page's fold (store.js) makes it right after the history's `k`-th event
     * (1-based); null for k = 0, or when the history does not start with `created`. Computed from
     * the events already loaded, once per event, never fetched.
     */
    stateAfter(k) {
        if (k < 1) return null;
        // expires_at is created_at plus the TTL, which only the resource itself tells.
        const known = this.live ?? this.final;
        const ttl = known ? ttlMsBetween(known.created_at, known.expires_at) : NaN;
        const ttlMs = Number.isFinite(ttl) && ttl > 0 ? ttl : 0;
        if (!this.folded || this.folded.ttlMs !== ttlMs) this.folded = { ttlMs, states: [] };
        const states = this.folded.states;
        while (states.length < k) {
            const j = states.length;
            const ev = this.events[j];
            const prev = j === 0 ? null : states[j - 1];
            let next = null;
            if (j === 0) {
                next = ev.type === "created" ? sessionFromCreated(ev, ttlMs) : null;
            } else if (prev) {
                next = structuredClone(prev);
                applyEvent(next, ev);
            }
            states.push(next);
        }
        return states[k - 1];
    }

    /** The expanded detail of event `i`: its fields, its data and what it changed. */
    eventDetail(ev, i, id) {
        const before = this.stateAfter(i);
        const after = this.stateAfter(i + 1);
        let changes;
        if (!after) {
            changes = h("p", { className: "muted small" }, "The history does not start with its created event: no changes to show.");
        } else {
            const diffs = diffValues(before ?? undefined, after, "");
            changes = diffs.length === 0
                ? h("p", { className: "muted small" }, "No field changed.")
                : h("ul", { className: "event-diff" }, diffs.map((d) => h("li", { dataset: { path: d.path } },
                    h("code", { className: "diff-path" }, d.path),
                    h("div", { className: "diff-values" },
                        diffValue(d.old, "diff-old", "before"),
                        h("span", { className: "diff-arrow", "aria-hidden": "true" }, "\u2192"),
                        diffValue(d.new, "diff-new", "after")))));
        }
        return h("div", { className: "event-detail", id, role: "region", "aria-label": `Event #${ev.version} in detail` },
            h("dl", { className: "kv event-facts" },
                detailFact("Type", ev.type, "type"),
                detailFact("Seq", String(ev.seq), "seq"),
                detailFact("Version", String(ev.version), "version"),
                h("div", { dataset: { field: "time" } }, h("dt", {}, "Time"),
                    h("dd", {}, h("time", { datetime: ev.at }, formatFullTime(ev.at)), " ",
                        h("span", { className: "mono muted small" }, ev.at))),
                detailFact("Actor", ev.actor ? ev.actor : "no actor", "actor")),
            h("h3", { className: "detail-title" }, "Data"),
            h("pre", { className: "json event-data" }, prettyJson(ev.data ?? null)),
            h("h3", { className: "detail-title" }, before ? "Session before \u2192 after" : "Session as created"),
            changes);
    }

    // --- time travel --------------------------------------------------------------------------

    /**
     * Moves to event position `k` (1-based); null, or the newest position that has a state, is
     * the newest state (live, or the last one of a session that is gone).
     */
    travelTo(k) {
        if (k !== null && k >= this.lastStateIndex()) k = null;
        if (k === this.index) return;
        this.index = k;
        this.pastError = null;
        clearTimeout(this.travelTimer);
        if (k === null) {
            this.past = null;
            this.fetching = false;
            this.render();
            return;
        }
        // Show the position at once; fetch its state after a short pause, so that dragging the
        // slider asks only for the positions it rests on.
        this.fetching = true;
        this.render();
        const ev = this.events[k - 1];
        const generation = this.generation;
        const id = this.id;
        this.travelTimer = setTimeout(async () => {
            let state = null;
            let error = null;
            try {
                state = await api(`/v1/sessions/${encodeURIComponent(id)}?at_seq=${ev.seq}`);
            } catch (err) {
                error = err instanceof ApiError && err.status === 404
                    ? `at this point the session is ${err.code === "session_expired" ? "expired" : "deleted"}`
                    : `could not load this state: ${err.message}`;
            }
            if (generation !== this.generation || this.index !== k) return;
            this.past = state;
            this.pastError = error;
            this.fetching = false;
            this.render();
        }, TIME_TRAVEL_DEBOUNCE_MS);
    }
}

// --- pieces -------------------------------------------------------------------------------------

/** Shows the whole of a long query (the title is clamped to a few lines). */
function expandButton(view) {
    const label = () => (view.queryExpanded ? "Show less" : "Show the full query");
    const button = h("button", { type: "button", className: "link-button expand-query",
        "aria-controls": "session-title", "aria-expanded": String(Boolean(view.queryExpanded)) }, label());
    button.addEventListener("click", () => {
        view.queryExpanded = !view.queryExpanded;
        document.getElementById("session-title").classList.toggle("expanded", view.queryExpanded);
        button.setAttribute("aria-expanded", String(view.queryExpanded));
        button.textContent = label();
    });
    return button;
}

function fact(label, time) {
    return h("div", {}, h("dt", {}, label),
        h("dd", {}, time ? h("time", { datetime: time }, formatFullTime(time)) : "—"));
}

function responsesSummary(responses) {
    const providers = Object.keys(responses ?? {});
    let n = 0;
    for (const p of providers) n += Object.keys(responses[p]).length;
    if (!n) return "";
    return `${nf.format(n)} response${n === 1 ? "" : "s"} from ${providers.length} provider${providers.length === 1 ? "" : "s"}`;
}

/** The consensus, or the error of a failed session. */
function outcomeCard(s) {
    const title = !s.consensus && s.error ? "Error" : "Consensus";
    const parts = [];
    if (s.error) {
        parts.push(h("div", { className: "error-box", role: "note" },
            h("strong", {}, s.status === "failed" ? "Failed: " : "Error: "), String(s.error)));
    }
    if (s.consensus && typeof s.consensus === "object") {
        const agreement = findAgreement(s.consensus);
        const summary = compactValue(s.consensus, 400);
        parts.push(h("div", { className: "consensus" },
            h("p", { className: "consensus-text" }, summary),
            agreement ? agreementBar(agreement) : null,
            h("details", { className: "raw" }, h("summary", {}, "Raw consensus"),
                h("pre", { className: "json" }, prettyJson(s.consensus)))));
    } else if (!s.error) {
        parts.push(h("p", { className: "muted empty-note" },
            s.status === "completed" ? "Completed without a consensus." : `No consensus yet (${statusLabel(s.status).toLowerCase()}).`));
    }
    return h("section", { className: "card outcome-card", "aria-labelledby": "outcome-title", dataset: { outcome: title.toLowerCase() } },
        h("div", { className: "card-head" }, h("h2", { id: "outcome-title" }, title)),
        parts);
}

const AGREEMENT_KEYS = ["agreement", "agreement_level", "agreement_score", "confidence", "score", "level"];

/** A number in [0, 1] (or a percentage) under a well-known name, as {key, value 0..1}. */
function findAgreement(consensus) {
    for (const key of AGREEMENT_KEYS) {
        const v = consensus[key];
        if (typeof v !== "number" || !Number.isFinite(v) || v < 0) continue;
        if (v <= 1) return { key, value: v };
        if (v <= 100) return { key, value: v / 100 };
    }
    return null;
}

function agreementBar({ key, value }) {
    const pct = Math.round(value * 100);
    const label = key.replace(/_/g, " ");
    const fill = h("div", { className: "meter-fill" });
    fill.style.width = `${pct}%`;
    fill.dataset.level = value >= 0.75 ? "high" : value >= 0.5 ? "medium" : "low";
    return h("div", { className: "agreement" },
        h("div", { className: "agreement-label" },
            h("span", {}, label[0].toUpperCase() + label.slice(1)), h("strong", {}, `${pct}%`)),
        h("div", {
            className: "meter", role: "meter", "aria-valuemin": "0", "aria-valuemax": "100",
            "aria-valuenow": String(pct), "aria-label": label,
        }, fill));
}

function metadataList(metadata) {
    const keys = Object.keys(metadata ?? {});
    if (!keys.length) return h("p", { className: "muted empty-note" }, "No metadata.");
    return h("dl", { className: "kv" }, keys.map((k) => {
        const v = metadata[k];
        return h("div", {}, h("dt", {}, k),
            h("dd", { className: typeof v === "string" ? "" : "mono" },
                typeof v === "string" ? v : JSON.stringify(v)));
    }));
}

function formatSpan(ms) {
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
    if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
    return `${(ms / 3_600_000).toFixed(1)} h`;
}

function detailFact(label, value, field) {
    return h("div", { dataset: { field } }, h("dt", {}, label), h("dd", { className: "mono" }, value));
}

/**
 * The differences between two values as [{path, old, new}] (undefined = absent): plain objects
 * are compared member by member (paths like `provider_responses.claude.1`), anything else whole.
 */
function diffValues(a, b, path) {
    const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
    if (isObj(a) && isObj(b)) {
        const out = [];
        const keys = [...Object.keys(a), ...Object.keys(b).filter((k) => !Object.hasOwn(a, k))];
        for (const k of keys) out.push(...diffValues(a[k], b[k], path ? `${path}.${k}` : k));
        return out;
    }
    if (a === undefined && isObj(b) && path === "") return diffValues({}, b, path);
    return JSON.stringify(a) === JSON.stringify(b) ? [] : [{ path, old: a, new: b }];
}

function diffValue(v, className, label) {
    const text = v === undefined ? "(none)" : prettyJson(v);
    return h("pre", { className: `diff-value ${className}`, "aria-label": label,
        dataset: v === undefined ? { absent: "true" } : {} }, text);
}
