// The dashboard's wiring: initial load, the live stream, routing between the overview and one
// session, the connection indicator and the token prompt.
//
// Loading order, so that no event is missed: read the log head (GET /v1/audit/head), then every
// session (GET /v1/sessions, page by page), then stream with after=<that head>. Events the pages
// already include are recognised by their version and skipped (SessionStore.apply).

import { api, ApiError, getToken, listAllSessions, onUnauthorized, setToken } from "./api.js";
import { RateChart } from "./chart.js";
import { $, nf } from "./dom.js";
import { EventFeed } from "./feed.js";
import { SessionView } from "./session_view.js";
import { SessionStore, STATUSES } from "./store.js";
import { LiveStream } from "./stream.js";
import { SessionsTable } from "./table.js";

const SWEEP_EVERY_MS = 5_000;
const LOAD_RETRY_MAX_MS = 10_000;

const store = new SessionStore();
const table = new SessionsTable(store, {
    scroll: $("#table-scroll"),
    table: $("#sessions-table"),
    body: $("#sessions-body"),
    empty: $("#table-empty"),
    summary: $("#table-summary"),
}, (id) => {
    location.hash = `#/sessions/${encodeURIComponent(id)}`;
});
const chart = new RateChart($("#rate-chart"), $("#rate-now"));
const feed = new EventFeed($("#feed"), $("#feed-count"));
const view = new SessionView($("#session-content"));

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
            showBanner("The server's event log changed; the dashboard was reloaded.");
            queueMicrotask(() => reload());
            return "reload";
        }
        return undefined;
    },
    onEvent(ev) {
        chart.record();
        feed.push(ev);
        if (store.apply(ev)) {
            table.schedule();
            scheduleOverview();
        }
        view.onEvent(ev);
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
                const [stats, sessions] = await Promise.all([api("/v1/stats"), listAllSessions()]);
                const ttlMs = typeof stats.ttl_hours === "number" ? stats.ttl_hours * 3_600_000 : 0;
                store.reset(sessions, ttlMs);
                loads++;
                table.loaded = true;
                table.seenRevision = -1;
                table.schedule();
                if (loads > 1) feed.clear();
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

// --- overview: counters and the log position ----------------------------------------------------

let overviewFrame = 0;

function scheduleOverview() {
    if (overviewFrame) return;
    overviewFrame = requestAnimationFrame(() => {
        overviewFrame = 0;
        $('[data-count="total"]').textContent = nf.format(store.size);
        for (const s of STATUSES) $(`[data-count="${s}"]`).textContent = nf.format(store.counts[s]);
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

function route() {
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
    /** Grows with every change to the sessions; the table's data-revision says what it drew. */
    get revision() { return store.revision; },
    get stream() { return { ...stream.stats }; },
    sessions: () => [...store.byId.values()].map((s) => ({
        session_id: s.session_id, status: s.status, version: s.version, query: s.query,
    })),
});

route();
reload();
