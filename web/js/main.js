// The dashboard's wiring: initial load, the live stream, routing between the overview and one
// session, the connection indicator and the token prompt.
//
// Loading order, so that no event is missed: read the log head (GET /v1/audit/head), then every
// session (GET /v1/sessions, page by page), then stream with after=<that head>. Events the pages
// already include are recognised by their version and skipped (SessionStore.apply).

import { api, ApiError, forgetSeq, getToken, listAllSessions, onUnauthorized, setToken } from "./api.js";
import { RateChart } from "./chart.js";
import { $, formatTime, nf, parseTime } from "./dom.js";
import { EventFeed, MAX_ITEMS as FEED_ITEMS } from "./feed.js";
import { SessionView } from "./session_view.js";
import { SessionStore, STATUSES } from "./store.js";
import { LiveStream } from "./stream.js";
import { SessionsTable } from "./table.js";
import { WebhooksView } from "./webhooks_view.js";
import { AuditView } from "./audit_view.js";
import { PastView } from "./past_view.js";

const SWEEP_EVERY_MS = 5_000;
const LOAD_RETRY_MAX_MS = 10_000;

const store = new SessionStore();
const table = new SessionsTable(store, {
    scroll: $("#table-scroll"),
    table: $("#sessions-table"),
    body: $("#sessions-body"),
    empty: $("#table-empty"),
    summary: $("#table-summary"),
    newRows: $("#new-rows"),
}, (id) => {
    location.hash = `#/sessions/${encodeURIComponent(id)}`;
});
const chart = new RateChart($("#rate-chart"), $("#rate-now"));
const feed = new EventFeed($("#feed"), $("#feed-count"), {
    nameOf: (id) => store.byId.get(id)?.query,
    panel: $("#feed-panel"),
});
const view = new SessionView($("#session-content"));
const webhooksView = new WebhooksView($("#webhooks-view"));

/**
 * Sessions ended by each reason over the whole log: GET /v1/stats's ended_sessions at load, then
 * one more for each deleted or expired event the stream brings (every one is past the load's head).
 */
const ended = { deleted: 0, expired: 0 };

/** The id of the event log this page's positions belong to (from the stream's hello). */
let logId = null;
/** How many times everything was loaded (1 after the first load). */
let loads = 0;
let loading = null;

const stream = new LiveStream({
    onHello(hello) {
        const changed = (logId !== null && hello.log_id !== logId) || hello.head_seq < stream.lastSeq;
        logId = hello.log_id;
        if (changed) {
            // Another log (a new data folder, a restore): this page's positions mean nothing there.
            forgetSeq();
            showBanner("The server's event log changed; the dashboard was reloaded.");
            queueMicrotask(() => reload());
            return "reload";
        }
        return undefined;
    },
    onEvent(ev) {
        chart.record();
        feed.push(ev);
        if (ev.type === "deleted" || ev.type === "expired") ended[ev.type]++;
        if (store.apply(ev)) {
            table.schedule();
            scheduleOverview();
        }
        view.onEvent(ev);
        webhooksView.onEvent(ev);
        scheduleOverview();
    },
    onState: (state, detail) => showConnection(state, detail),
});

// --- loading ------------------------------------------------------------------------------------

/** Resolves the pending wait between load attempts early ("Retry now"). */
let retryNowHook = null;

/** Waits `ms`, or less if "Retry now" is pressed. */
const sleep = (ms) => new Promise((resolve) => {
    retryNowHook = resolve;
    setTimeout(resolve, ms);
});

/** Loads everything and starts the stream; retries with backoff while the server is away. */
function reload() {
    if (loading) return loading;
    loading = (async () => {
        stream.stop();
        if (loads === 0) showConnection("connecting");
        let attempt = 0;
        for (;;) {
            try {
                const head = await api("/v1/audit/head");
                const [stats, sessions, recent] = await Promise.all([
                    api("/v1/stats"), listAllSessions(),
                    // Without the recent past the page still works: it starts blank, as it did.
                    recentEvents(head.seq).catch((err) => {
                        console.warn("backfill: could not read the recent events", err);
                        return [];
                    })]);
                const ttlMs = typeof stats.ttl_hours === "number" ? stats.ttl_hours * 3_600_000 : 0;
                store.reset(sessions, ttlMs);
                ended.deleted = stats.ended_sessions?.deleted ?? 0;
                ended.expired = stats.ended_sessions?.expired ?? 0;
                loads++;
                table.loaded = true;
                table.seenRevision = -1;
                table.schedule();
                // Start with the recent past rather than blank: the feed's last events, and the
                // chart's last 60 s. The stream then continues from the same head.
                feed.backfill(recent);
                chart.reset();
                chart.backfill(recent.map((ev) => parseTime(ev.at)));
                scheduleOverview();
                if (view.id) view.open(view.id);
                hideBanner("load");
                stream.start(head.seq);
                return;
            } catch (err) {
                attempt++;
                const delay = Math.min(LOAD_RETRY_MAX_MS, 500 * 2 ** Math.min(attempt, 6));
                const unreachable = !(err instanceof ApiError);
                showConnection(unreachable && attempt > 3 ? "offline" : "reconnecting",
                    { reason: err.message, retryAt: Date.now() + delay });
                if (!unreachable) showBanner(`Could not load the sessions: ${err.message}`, "load");
                await sleep(delay);
            }
        }
    })().finally(() => {
        loading = null;
    });
    return loading;
}

// --- backfill: the recent events of the log -------------------------------------------------------

/** Events read at one time when reading the log back from its head. */
const BACKFILL_CHUNK = 1_000;
/** At most this many events are read back at load, however busy the last minute was. */
const BACKFILL_MAX = 3_000;
/** How far back the chart reaches (its 60 s, and a second of margin). */
const BACKFILL_SPAN_MS = 61_000;

/**
 * The events of the log up to `head`, oldest first: at least the feed's worth, and back far
 * enough to cover the chart's last 60 s, within BACKFILL_MAX. Read backward in chunks of seqs,
 * each read forward with GET /v1/events (pages may end early: `next` is followed).
 */
async function recentEvents(head) {
    const chunks = [];
    let total = 0;
    let hi = head;
    const since = Date.now() - BACKFILL_SPAN_MS;
    while (hi > 0 && total < BACKFILL_MAX && chunks.length <= BACKFILL_MAX / BACKFILL_CHUNK) {
        const size = Math.min(chunks.length === 0 ? Math.max(FEED_ITEMS, 250) : BACKFILL_CHUNK,
            BACKFILL_MAX - total);
        const lo = Math.max(0, hi - size);
        const chunk = [];
        let after = lo;
        while (after < hi) {
            const page = await api(`/v1/events?after=${after}&limit=${Math.min(1000, hi - after)}`);
            for (const ev of page.events) if (ev.seq <= hi) chunk.push(ev);
            const last = page.events.at(-1)?.seq;
            if (page.next === null || last === undefined || last >= hi) break;
            after = last;
        }
        chunks.push(chunk);
        total += chunk.length;
        hi = lo;
        const oldest = chunk[0] ?? null;
        if (total >= FEED_ITEMS && oldest && parseTime(oldest.at) < since) break;
    }
    return chunks.reverse().flat();
}

// --- overview: counters and the log position ----------------------------------------------------

let overviewFrame = 0;

function scheduleOverview() {
    if (overviewFrame) return;
    overviewFrame = requestAnimationFrame(() => {
        overviewFrame = 0;
        $('[data-count="total"]').textContent = nf.format(store.size);
        for (const s of STATUSES) $(`[data-count="${s}"]`).textContent = nf.format(store.counts[s]);
        for (const reason of ["expired", "deleted"]) $(`[data-count="${reason}"]`).textContent = nf.format(ended[reason]);
        const counters = $("#counters");
        counters.style.setProperty("--total", String(Math.max(1, store.size)));
        for (const s of STATUSES) counters.style.setProperty(`--n-${s}`, String(store.counts[s]));
        $("#log-position").textContent = stream.lastSeq ? `seq ${nf.format(stream.lastSeq)}` : "";
    });
}

// --- connection indicator -----------------------------------------------------------------------

const connection = $("#connection");
const connectionText = $("#connection-text");
const retryButton = $("#connection-retry");
let countdown = null;

function showConnection(state, { retryAt } = {}) {
    connection.dataset.state = state;
    showStale(state);
    clearInterval(countdown);
    const label = {
        connecting: "Connecting…",
        connected: "Connected",
        reconnecting: "Reconnecting…",
        offline: "Offline",
    }[state] ?? state;
    const paint = () => {
        const wait = retryAt ? Math.max(0, Math.ceil((retryAt - Date.now()) / 1000)) : 0;
        connectionText.textContent = state === "offline" && wait > 0 ? `${label} · retrying in ${wait} s` : label;
    };
    paint();
    if (state === "offline" && retryAt) countdown = setInterval(paint, 1000);
    retryButton.hidden = !(state === "offline" || state === "reconnecting");
}

// --- stale data: what the page shows while it is not connected ------------------------------------

const mainElement = $("#main");
const staleNote = $("#stale-note");
/** When the page last lost the stream with data on screen (ms since the epoch), else 0. */
let staleSince = 0;

/**
 * Once data is on screen, every state but "connected" means it may be out of date: the overview
 * is dimmed (main[data-stale]) and a note says since when, until the stream is back.
 */
function showStale(state) {
    if (state === "connected") {
        staleSince = 0;
    } else if (loads > 0 && !staleSince && (state === "reconnecting" || state === "offline")) {
        staleSince = Date.now();
    }
    if (!staleSince) {
        delete mainElement.dataset.stale;
        staleNote.hidden = true;
        connection.removeAttribute("title");
        return;
    }
    mainElement.dataset.stale = state === "offline" ? "offline" : "reconnecting";
    const since = formatTime(new Date(staleSince).toISOString());
    const what = `${state === "offline" ? "Offline" : "Reconnecting"} since ${since}`;
    staleNote.textContent = `${what}. The numbers below are as of then; they catch up when the ` +
        "connection is back.";
    staleNote.dataset.since = new Date(staleSince).toISOString();
    staleNote.hidden = false;
    connection.title = what;
}

retryButton.addEventListener("click", () => {
    stream.retryNow();
    retryNowHook?.();
});

// --- banner -------------------------------------------------------------------------------------

const banner = $("#banner");

function showBanner(text, key = "info") {
    banner.textContent = text;
    banner.dataset.key = key;
    banner.hidden = false;
    if (key === "info") setTimeout(() => hideBanner("info"), 8000);
}

function hideBanner(key) {
    if (banner.dataset.key === key) banner.hidden = true;
}

// --- token prompt -------------------------------------------------------------------------------

const dialog = $("#token-dialog");
const tokenInput = $("#token-input");
const tokenError = $("#token-error");
const tokenButton = $("#token-button");
let tokenWaiters = [];
/** The server refused the request: the dialog cannot be dismissed without a token. */
let tokenRequired = false;

dialog.addEventListener("cancel", (e) => {
    if (tokenRequired) e.preventDefault();  // nothing works without it
    else tokenWaiters = [];                  // "Change token" given up: keep the current one
});
$("#token-form").addEventListener("submit", () => {
    const token = tokenInput.value.trim();
    if (!token) return;
    setToken(token);
    tokenButton.hidden = false;
    const waiters = tokenWaiters;
    tokenWaiters = [];
    tokenRequired = false;
    for (const resolve of waiters) resolve();
});

function askToken(message, required) {
    tokenRequired ||= required;
    tokenError.textContent = message;
    tokenError.hidden = !message;
    tokenInput.value = "";
    if (!dialog.open) dialog.showModal();
    tokenInput.focus();
    return new Promise((resolve) => tokenWaiters.push(resolve));
}

onUnauthorized((rejected) => askToken(rejected ? "That token was not accepted." : "", true));

tokenButton.hidden = !getToken();
tokenButton.addEventListener("click", async () => {
    await askToken("", false);
    reload();
});

// --- routing ------------------------------------------------------------------------------------

const overviewSection = $("#overview-view");
const sessionSection = $("#session-view");
const webhooksSection = $("#webhooks-view");
const webhooksLink = $("#webhooks-link");

const auditSection = $("#audit-view");
const auditLink = $("#audit-link");
const auditView = new AuditView(auditSection);

const pastSection = $("#past-view");
const pastLink = $("#past-link");
const pastView = new PastView(pastSection);

function route() {
    const onPast = /^#\/past(\?|$)/.test(location.hash);
    pastSection.hidden = !onPast;
    if (onPast) pastLink.setAttribute("aria-current", "page");
    else pastLink.removeAttribute("aria-current");
    if (onPast) {
        view.close();
        auditView.close();
        webhooksView.close();
        for (const el of [auditSection, webhooksSection, overviewSection, sessionSection]) el.hidden = true;
        auditLink.removeAttribute("aria-current");
        webhooksLink.removeAttribute("aria-current");
        document.title = "quorum · past sessions";
        pastView.open(location.hash);
        return;
    }
    pastView.close();
    const onAudit = location.hash === "#/audit";
    auditSection.hidden = !onAudit;
    if (onAudit) auditLink.setAttribute("aria-current", "page");
    else auditLink.removeAttribute("aria-current");
    if (onAudit) {
        view.close();
        webhooksView.close();
        webhooksSection.hidden = true;
        webhooksLink.removeAttribute("aria-current");
        overviewSection.hidden = true;
        sessionSection.hidden = true;
        document.title = "quorum · audit";
        auditView.open();
        return;
    }
    auditView.close();
    const onWebhooks = location.hash === "#/webhooks";
    webhooksSection.hidden = !onWebhooks;
    if (onWebhooks) webhooksLink.setAttribute("aria-current", "page");
    else webhooksLink.removeAttribute("aria-current");
    if (onWebhooks) {
        view.close();
        overviewSection.hidden = true;
        sessionSection.hidden = true;
        document.title = "quorum · webhooks";
        webhooksView.open();
        return;
    }
    webhooksView.close();
    const m = /^#\/sessions\/([^/?#]+)$/.exec(location.hash);
    if (m) {
        const id = decodeURIComponent(m[1]);
        overviewSection.hidden = true;
        sessionSection.hidden = false;
        document.title = "quorum · session";
        if (view.id !== id) {
            view.open(id).then(() => {
                if (view.id === id) document.title = `quorum · ${$("#session-title")?.textContent.slice(0, 60) ?? "session"}`;
            });
            window.scrollTo(0, 0);
            $("#back-link").focus({ preventScroll: true });
        }
    } else {
        const wasSession = view.id !== null;
        view.close();
        sessionSection.hidden = true;
        overviewSection.hidden = false;
        document.title = "quorum · live sessions";
        table.schedule();
        if (wasSession) table.table.focus({ preventScroll: true });
    }
}

window.addEventListener("hashchange", route);

// --- filters ------------------------------------------------------------------------------------

const statusFilter = $("#status-filter");
const search = $("#search");
$("#filters").addEventListener("submit", (e) => e.preventDefault());
statusFilter.addEventListener("change", () => table.setFilter({ status: statusFilter.value }));
search.addEventListener("input", () => table.setFilter({ search: search.value }));

// --- timers -------------------------------------------------------------------------------------

setInterval(() => {
    if (store.sweepExpired()) {
        table.schedule();
        scheduleOverview();
    }
    table.tick();
}, SWEEP_EVERY_MS);

// --- diagnostics --------------------------------------------------------------------------------

/** Read-only state for debugging from the console (and for the browser tests). */
window.quorumDashboard = Object.freeze({
    get logId() { return logId; },
    get lastSeq() { return stream.lastSeq; },
    get loads() { return loads; },
    get connection() { return stream.state; },
    /** When the shown data went stale (ISO time), or null while connected. */
    get staleSince() { return staleSince ? new Date(staleSince).toISOString() : null; },
    /** The rate chart's events per second, oldest first (the last second is still filling). */
    chart: () => chart.snapshot(),
    /** Grows with every change to the sessions; the table's data-revision says what it drew. */
    get revision() { return store.revision; },
    get stream() { return { ...stream.stats }; },
    sessions: () => [...store.byId.values()].map((s) => ({
        session_id: s.session_id, status: s.status, version: s.version, query: s.query,
    })),
});

route();
reload();
