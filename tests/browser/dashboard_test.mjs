// Browser tests of the live dashboard (web/): the real `quorum` binary serves the page and the API
// on a free loopback port, and Debian's Chromium (headless, driven by playwright-core) shows it.
// Sessions are created through the REST API from here and must appear on the page through the
// live stream; the server is stopped and restarted under the page, replaced by one with a new log,
// and loaded with 10,000 sessions.
//
//   node dashboard_test.mjs <path to quorum> [--artifacts DIR] [--web-root DIR] [--chromium PATH]
//
// Screenshots go to --artifacts (default: $QUORUM_BROWSER_ARTIFACTS, else ./browser-artifacts).
// The last line of the output is "N passed, M failed"; the exit code is 1 when anything failed.

import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { QuorumServer, freePort, makeTempDir, removeTempDir, sleep } from "../support/server.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));

// --- command line -------------------------------------------------------------------------------

function parseArgs(argv) {
    const out = {
        binary: null,
        artifacts: process.env.QUORUM_BROWSER_ARTIFACTS || path.resolve("browser-artifacts"),
        webRoot: path.resolve(here, "../../web"),
        chromium: process.env.QUORUM_CHROMIUM || "/usr/bin/chromium",
    };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--artifacts") out.artifacts = path.resolve(argv[++i]);
        else if (a === "--web-root") out.webRoot = path.resolve(argv[++i]);
        else if (a === "--chromium") out.chromium = argv[++i];
        else if (!out.binary) out.binary = path.resolve(a);
        else throw new Error(`unexpected argument: ${a}`);
    }
    if (!out.binary) {
        console.error("usage: node dashboard_test.mjs <quorum binary> [--artifacts DIR] [--web-root DIR]");
        process.exit(2);
    }
    return out;
}

const args = parseArgs(process.argv.slice(2));

// --- the server ---------------------------------------------------------------------------------

/** The server under the page: a fixed port (the page reconnects to the same URL), web/ served. */
class Server extends QuorumServer {
    constructor({ dataDir, port, token = null }) {
        super({ binary: args.binary, dataDir, port,
            args: ["--web-root", args.webRoot, ...(token ? ["--token", token] : [])] });
        this.token = token;
    }

    /** A JSON request; returns the parsed body (null for 204). Throws on an unexpected status. */
    async request(method, target, body, { expect } = {}) {
        const headers = {};
        if (this.token) headers.authorization = `Bearer ${this.token}`;
        if (body !== undefined) headers["content-type"] = "application/json";
        const res = await fetch(this.url + target, {
            method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        const ok = expect ? res.status === expect : res.ok;
        if (!ok) throw new Error(`${method} ${target}: ${res.status} ${text}`);
        return text ? JSON.parse(text) : null;
    }

    create(query, extra = {}) {
        return this.request("POST", "/v1/sessions", { query, ...extra }, { expect: 201 });
    }

    async allSessions() {
        const out = [];
        let after = null;
        for (;;) {
            const page = await this.request("GET", `/v1/sessions?limit=1000${after ? `&after=${after}` : ""}`);
            out.push(...page.sessions);
            if (!page.next) return out;
            after = page.next;
        }
    }

    async head() {
        return (await this.request("GET", "/v1/audit/head")).seq;
    }

    /** Whether GET /v1/stream upgrades to a WebSocket (101), by a raw handshake. */
    streamServed() {
        return new Promise((resolve) => {
            const socket = net.connect(this.port, "127.0.0.1");
            let data = "";
            socket.setTimeout(3000, () => { socket.destroy(); resolve(false); });
            socket.on("error", () => resolve(false));
            socket.on("data", (chunk) => {
                data += chunk.toString("latin1");
                if (data.includes("\r\n")) {
                    socket.destroy();
                    resolve(/^HTTP\/1\.1 101/.test(data));
                }
            });
            const auth = this.token ? `Authorization: Bearer ${this.token}\r\n` : "";
            socket.write("GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n" +
                "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
                `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${auth}\r\n`);
        });
    }
}

// --- the runner ---------------------------------------------------------------------------------

const results = [];
const timings = [];

async function test(name, fn) {
    const t0 = Date.now();
    try {
        await fn();
        results.push(true);
        console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    } catch (err) {
        results.push(false);
        console.log(`FAIL ${name} (${Date.now() - t0} ms)\n     ${String(err?.stack ?? err).split("\n").join("\n     ")}`);
    }
}

function timing(what, ms) {
    timings.push([what, ms]);
    console.log(`     time: ${what}: ${ms} ms`);
}

/** Runs `fn` over `items` with at most `concurrency` at a time; returns the results in order. */
async function pool(items, concurrency, fn) {
    const out = new Array(items.length);
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const i = next++;
            out[i] = await fn(items[i], i);
        }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
    return out;
}

// --- page helpers -------------------------------------------------------------------------------

const TIMEOUT = 15_000;

async function screenshot(page, name) {
    const file = path.join(args.artifacts, `${name}.png`);
    await page.screenshot({ path: file });
    return file;
}

const dashboard = (page) => page.evaluate(() => {
    const d = window.quorumDashboard;
    return {
        logId: d.logId, lastSeq: d.lastSeq, loads: d.loads, connection: d.connection,
        stream: d.stream,
    };
});

const waitConnected = (page, timeout = TIMEOUT) =>
    page.waitForSelector('#connection[data-state="connected"]', { timeout });

const waitTotal = (page, n, timeout = TIMEOUT) => page.waitForFunction(
    (want) => document.querySelector("#sessions-table")?.dataset.total === String(want), n, { timeout });

const waitShown = (page, n, timeout = TIMEOUT) => page.waitForFunction(
    (want) => document.querySelector("#sessions-table")?.dataset.shown === String(want), n, { timeout });

/** The rows in the DOM (the visible window): [{id, status, query}] in display order. */
const renderedRows = (page) => page.$$eval("#sessions-body tr[data-id]", (trs) => trs.map((tr) => ({
    id: tr.dataset.id,
    status: tr.dataset.status,
    query: tr.querySelector("td.query")?.textContent ?? "",
})));

/** Waits until the page has applied every event of the log and holds what the server lists. */
async function expectInSync(page, server) {
    const head = await server.head();
    await page.waitForFunction((seq) => window.quorumDashboard.lastSeq >= seq, head, { timeout: TIMEOUT });
    const listed = await server.allSessions();
    const want = new Map(listed.map((s) => [s.session_id, `${s.status}/${s.version}`]));
    // The page may still be drawing the last frame; its model is what we compare.
    const have = new Map((await page.evaluate(() => window.quorumDashboard.sessions()))
        .map((s) => [s.session_id, `${s.status}/${s.version}`]));
    assert.equal(have.size, want.size, "the page holds as many sessions as GET /v1/sessions lists");
    for (const [id, v] of want) assert.equal(have.get(id), v, `session ${id}: status/version`);
    await waitTotal(page, listed.length);
    await page.waitForFunction(() => document.querySelector("#sessions-table").dataset.revision ===
        String(window.quorumDashboard.revision), null, { timeout: TIMEOUT });
    const d = await dashboard(page);
    assert.equal(d.lastSeq, head, "the page saw every event up to the head");
    assert.equal(d.stream.gaps, 0, "no gap in the stream's seqs");
    assert.equal(d.stream.duplicates, 0, "no event delivered twice");
    return listed;
}

// --- the tests ----------------------------------------------------------------------------------

const QUERIES = [
    "Should we use microservices or a modular monolith for the payments platform?",
    "Which database fits our analytics workload: PostgreSQL, ClickHouse or DuckDB?",
    "Is it time to move the mobile app to a shared Kotlin Multiplatform core?",
    "How should we roll out passkeys to existing customers?",
    "Rewrite the billing service in Rust, or keep improving the Go version?",
    "Should the public API version in the URL or in a header?",
    "What is the right on-call rotation size for a team of six?",
    "Can we drop support for Android 9 next quarter?",
];

async function main() {
    await mkdir(args.artifacts, { recursive: true });
    const tmp = await makeTempDir("browser");
    const port = await freePort();
    let server = new Server({ dataDir: path.join(tmp, "data-a"), port });
    const profile = path.join(tmp, "chromium-profile");
    let context = null;
    const started = Date.now();

    try {
        await server.start();
        let streamServed = false;
        await test("GET /v1/stream upgrades to a WebSocket", async () => {
            streamServed = await server.streamServed();
            assert.ok(streamServed, "the server does not serve the live stream: the page cannot be live");
        });
        if (!streamServed) return;  // every later test needs the stream

        context = await chromium.launchPersistentContext(profile, {
            executablePath: args.chromium,
            headless: true,
            args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            viewport: { width: 1440, height: 900 },
            colorScheme: "light",
        });
        const page = context.pages()[0] ?? await context.newPage();
        const pageErrors = [];
        page.on("pageerror", (err) => pageErrors.push(err.message));
        const url = `${server.url}/`;

        // Two sessions exist before the page opens (the initial load), the rest arrive live.
        // One at a time, so that their order in the log is the order of the array.
        const early = await pool(QUERIES.slice(0, 2), 1, (q) => server.create(q));
        let focus = null;  // the session the session view follows
        let hostile = null;  // the session whose query looks like markup

        await test("the dashboard loads the sessions and connects to the stream", async () => {
            await page.goto(url);
            await waitConnected(page);
            await waitTotal(page, 2);
            const rows = await renderedRows(page);
            assert.deepEqual(rows.map((r) => r.id), early.map((s) => s.session_id).reverse(),
                "newest first");
            const d = await dashboard(page);
            assert.match(d.logId ?? "", /^[0-9a-f-]{36}$/, "the hello's log id is known");
        });

        await test("sessions created through the API appear live, as text", async () => {
            const markup = '<img src=x onerror="window.__injected=1">Robust HTML & "quotes"';
            const created = [];
            for (const q of [...QUERIES.slice(2, 6), markup]) {
                created.push(await server.create(q, { mode: created.length % 2 ? "quick_consensus" : "devils_advocate" }));
            }
            await waitTotal(page, 7);
            const rows = await renderedRows(page);
            assert.deepEqual(rows.slice(0, 5).map((r) => r.query),
                created.map((s) => s.query).reverse(), "the new sessions lead the table");
            assert.equal(await page.evaluate(() => window.__injected), undefined, "no markup ran");
            await page.waitForSelector(`#feed li[data-seq="${(await server.head())}"]`);
            assert.equal(await page.locator("#sessions-body img, #feed img").count(), 0, "no markup was parsed");
            assert.equal(await page.textContent('[data-count="pending"]'), "7");
            focus = created[3];  // "Should the public API version...", the second newest
            hostile = created[4];
        });

        await test("status filter and search narrow the table", async () => {
            const victim = early[0];
            await server.request("POST", `/v1/sessions/${victim.session_id}/fail`, { error: "provider timeout" });
            await page.waitForFunction(() => document.querySelector('[data-count="failed"]').textContent === "1");
            await page.selectOption("#status-filter", "failed");
            await waitShown(page, 1);
            assert.deepEqual((await renderedRows(page)).map((r) => r.id), [victim.session_id]);
            await page.selectOption("#status-filter", "");
            await page.fill("#search", "PASSKEYS");
            await waitShown(page, 1);
            assert.match((await renderedRows(page))[0].query, /passkeys/);
            await page.fill("#search", "");
            await waitShown(page, 7);
        });

        await test("a session opens from the keyboard and shows responses and consensus live", async () => {
            // The focus session is the second newest row: Home, ArrowDown, Enter.
            await page.focus("#sessions-table");
            await page.keyboard.press("Home");
            await page.keyboard.press("ArrowDown");
            await page.keyboard.press("Enter");
            await page.waitForFunction((id) => location.hash === `#/sessions/${id}`, focus.session_id);
            await page.waitForSelector("#session-title");
            assert.equal(await page.textContent("#session-title"), focus.query);
            await page.waitForFunction(() => document.querySelector("#session-content").dataset.version === "1");

            const id = focus.session_id;
            await server.request("PATCH", `/v1/sessions/${id}`, { status: "in_progress" });
            const answers = [
                ["claude", 1, { text: "Put the major version in the URL path: it is visible, cacheable and easy to route." }],
                ["gpt-4o", 1, { text: "Headers keep URLs stable, but most clients and proxies handle path versions better." }],
                ["gemini", 1, { text: "URL versioning; reserve headers for content negotiation of representations." }],
                ["claude", 2, { text: "Agreed: /v1 in the path, additive changes within a version, a sunset header for old ones." }],
                ["gpt-4o", 2, { text: "Path versions, with a deprecation policy of at least twelve months." }],
                ["gemini", 2, { text: "Same conclusion; document the policy in the API guide." }],
            ];
            for (const [provider, round, response] of answers) {
                await server.request("POST", `/v1/sessions/${id}/responses`, { provider, round, response });
            }
            await server.request("PUT", `/v1/sessions/${id}/consensus`,
                { summary: "Version the public API in the URL path (/v1), with a 12-month deprecation policy.", agreement: 0.86 });
            await page.waitForFunction(() => document.querySelector("#session-content").dataset.version === "10");
            const grid = await page.$$eval(".responses-grid tbody tr", (trs) => trs.map((tr) => ({
                provider: tr.dataset.provider,
                rounds: [...tr.querySelectorAll("td[data-round]")].map((td) => td.dataset.round),
            })));
            assert.deepEqual(grid, ["claude", "gemini", "gpt-4o"].map((provider) => ({ provider, rounds: ["1", "2"] })));
            assert.match(await page.textContent(".consensus-text"), /Version the public API in the URL path/);
            assert.equal(await page.getAttribute(".agreement .meter", "aria-valuenow"), "86");
            assert.equal(await page.textContent(".session-kicker .badge"), "Completed");
            assert.equal(await page.locator(".event-list li").count(), 10);
            // A cell expands to the full response.
            await page.click('.responses-grid tr[data-provider="gpt-4o"] td[data-round="2"] summary');
            assert.match(await page.textContent('.responses-grid tr[data-provider="gpt-4o"] td[data-round="2"] pre'),
                /twelve months/);
            await screenshot(page, "session");
        });

        await test("the time-travel slider shows the state as of an earlier event", async () => {
            // Position 4: created, status in_progress, claude round 1, gpt-4o round 1.
            await page.focus("#time-travel");
            await page.keyboard.press("Home");
            for (let i = 0; i < 3; i++) await page.keyboard.press("ArrowRight");
            await page.waitForFunction(() => {
                const c = document.querySelector("#session-content");
                return c.dataset.mode === "past" && c.dataset.version === "4";
            });
            const grid = await page.$$eval(".responses-grid tbody tr", (trs) => trs.map((tr) => ({
                provider: tr.dataset.provider,
                rounds: [...tr.querySelectorAll("td[data-round]")].map((td) => td.dataset.round),
            })));
            assert.deepEqual(grid, [{ provider: "claude", rounds: ["1"] }, { provider: "gpt-4o", rounds: ["1"] }]);
            assert.equal(await page.textContent(".session-kicker .badge"), "In progress");
            assert.equal(await page.locator(".consensus-text").count(), 0, "no consensus yet then");
            assert.match(await page.textContent(".travel-banner"), /after event 4 of 10/);
            await screenshot(page, "time-travel");

            await page.click("#back-to-live");
            await page.waitForFunction(() => {
                const c = document.querySelector("#session-content");
                return c.dataset.mode === "live" && c.dataset.version === "10";
            });
            assert.equal(await page.textContent(".session-kicker .badge"), "Completed");
        });

        await test("a session is addressable by its URL", async () => {
            const other = await context.newPage();
            try {
                await other.goto(`${url}#/sessions/${early[0].session_id}`);
                await other.waitForFunction(() => document.querySelector("#session-content")?.dataset.status === "failed");
                assert.equal(await other.textContent("#session-title"), early[0].query);
                assert.match(await other.textContent(".error-box"), /provider timeout/);
                await other.goto(`${url}#/sessions/00000000-0000-4000-8000-000000000000`);
                await other.waitForFunction(() => document.querySelector("#session-title")?.textContent === "Session not found");
            } finally {
                await other.close();
            }
        });

        await test("after a restart the page reconnects and catches up without missing an event", async () => {
            await page.click("#back-link");
            await page.waitForSelector("#overview-view:not([hidden])");
            const before = await dashboard(page);
            await server.stop();
            await page.waitForFunction(() => ["reconnecting", "offline"].includes(
                document.querySelector("#connection").dataset.state), null, { timeout: TIMEOUT });
            await screenshot(page, "reconnecting");
            await sleep(1500);  // stays down for a moment: several reconnection attempts fail

            const t0 = Date.now();
            await server.start();
            // While the page has not reconnected yet, the log moves on.
            const more = await pool(QUERIES.slice(6).concat([
                "Do we need a staging environment per team?",
                "Which feature flags can be removed this sprint?",
                "Should incident reviews be public inside the company?",
            ]), 3, (q) => server.create(q, { metadata: { source: "after-restart" } }));
            await server.request("PATCH", `/v1/sessions/${more[0].session_id}`, { status: "in_progress", metadata: { source: "after-restart", owner: "platform" } });
            await server.request("POST", `/v1/sessions/${more[1].session_id}/responses`, { provider: "claude", round: 1, response: { text: "Yes." } });
            await server.request("PUT", `/v1/sessions/${more[2].session_id}/consensus`, { summary: "Remove four flags", agreement: 0.7 });
            await server.request("DELETE", `/v1/sessions/${more[3].session_id}`, undefined, { expect: 204 });
            await server.request("DELETE", `/v1/sessions/${hostile.session_id}`, undefined, { expect: 204 });
            await server.request("POST", `/v1/sessions/${more[4].session_id}/fail`, { error: "quota exceeded" });

            await waitConnected(page, 30_000);
            const listed = await expectInSync(page, server);
            timing("restart to caught up", Date.now() - t0);
            assert.deepEqual((await renderedRows(page)).map((r) => `${r.id} ${r.status}`),
                listed.map((s) => `${s.session_id} ${s.status}`), "the table shows what the server lists");
            const after = await dashboard(page);
            assert.equal(after.logId, before.logId, "the same log");
            assert.equal(after.loads, 1, "resumed without reloading");
            assert.ok(after.stream.connects > before.stream.connects, "it reconnected");
            assert.ok(!listed.some((s) => s.session_id === more[3].session_id));
            // Some of the events that came after the restart are in the feed.
            assert.ok(await page.locator(`#feed li[data-seq="${after.lastSeq}"]`).count() === 1,
                "the newest event is in the feed");
            await page.mouse.move(0, 0);
            await screenshot(page, "overview");
            await page.emulateMedia({ colorScheme: "dark" });
            await sleep(1100);  // the chart redraws once a second
            const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
            assert.notEqual(bg, "rgb(245, 246, 248)", "the dark scheme has its own background");
            await screenshot(page, "overview-dark");
            await page.emulateMedia({ colorScheme: "light" });
        });

        await test("a new event log makes the page reload everything", async () => {
            await server.stop();
            server = new Server({ dataDir: path.join(tmp, "data-b"), port });
            await server.start();
            await server.create("The only session of the new log");
            await page.waitForFunction(() => window.quorumDashboard.loads === 2, null, { timeout: 30_000 });
            await waitConnected(page);
            const listed = await expectInSync(page, server);
            assert.equal(listed.length, 1);
            assert.deepEqual((await renderedRows(page)).map((r) => r.query), ["The only session of the new log"]);
        });

        await test("10,000 sessions: the table fills live, filters and scrolls", async () => {
            const n = 10_000;
            const topics = ["latency", "pricing", "hiring", "security", "storage"];
            const t0 = Date.now();
            const created = await pool(Array.from({ length: n }, (_, i) => i), 48, (i) =>
                server.create(`Load ${String(i).padStart(5, "0")}: ${topics[i % topics.length]} review #${i % 100}`));
            const createdMs = Date.now() - t0;
            timing(`create ${n} sessions through REST (48 concurrent)`, createdMs);
            await waitTotal(page, n + 1, 60_000);
            timing("first create to all 10,001 shown in the table (live)", Date.now() - t0);

            // A few change status, so that the status filter has something to find.
            await pool(created.filter((_, i) => i % 500 === 0), 8, (s) =>
                server.request("POST", `/v1/sessions/${s.session_id}/fail`, { error: "load test" }));
            await page.waitForFunction(() => document.querySelector('[data-count="failed"]').textContent === "20");

            let t = Date.now();
            await page.fill("#search", "security review #7");  // i % 5 == 3 and i % 100 in {7, 70..79}
            const expected = created.filter((s) => s.query.includes("security review #7")).length;
            await waitShown(page, expected);
            timing(`search over ${n + 1} sessions (${expected} match)`, Date.now() - t);
            const rows = await renderedRows(page);
            assert.ok(rows.length > 0 && rows.every((r) => r.query.includes("security review #7")));

            t = Date.now();
            await page.fill("#search", "");
            await page.selectOption("#status-filter", "failed");
            await waitShown(page, 20);
            timing("status filter", Date.now() - t);
            await page.selectOption("#status-filter", "");
            await waitShown(page, n + 1);

            const domRows = await page.locator("#sessions-body tr[data-id]").count();
            assert.ok(domRows < 100, `only the visible window is in the DOM (${domRows} rows)`);
            t = Date.now();
            await page.$eval("#table-scroll", (el) => { el.scrollTop = el.scrollHeight; });
            await page.waitForFunction(() => {
                const rows = document.querySelectorAll("#sessions-body tr[data-id]");
                return rows.length && rows[rows.length - 1].querySelector("td.query").textContent ===
                    "The only session of the new log";
            });
            timing("scroll to the end", Date.now() - t);
            await page.$eval("#table-scroll", (el) => { el.scrollTop = 0; });

            await expectInSync(page, server);
            await screenshot(page, "overview-10000");

            t = Date.now();
            await page.reload();
            await waitTotal(page, n + 1, 60_000);
            await waitConnected(page);
            timing(`reload with ${n + 1} sessions (paged GET /v1/sessions)`, Date.now() - t);
            await expectInSync(page, server);
        });

        await test("with --token the page asks for a token and uses it for REST and the stream", async () => {
            const secured = new Server({ dataDir: path.join(tmp, "data-c"), port: await freePort(), token: "s3cret-token" });
            await secured.start();
            const p = await context.newPage();
            // The stream's URLs: a one-time ticket, never the token itself.
            const socketUrls = [];
            p.on("websocket", (ws) => socketUrls.push(ws.url()));
            try {
                await secured.create("Visible only with the token");
                await p.goto(`${secured.url}/`);
                await p.waitForSelector("#token-dialog[open]");
                await screenshot(p, "token");
                await p.fill("#token-input", "wrong");
                await p.click('#token-form button[type="submit"]');
                await p.waitForSelector("#token-dialog[open] #token-error:not([hidden])");
                assert.match(await p.textContent("#token-error"), /not accepted/);
                await p.fill("#token-input", "s3cret-token");
                await p.click('#token-form button[type="submit"]');
                await waitTotal(p, 1);
                await waitConnected(p);
                assert.equal(await p.evaluate(() => sessionStorage.getItem("quorum.token")), "s3cret-token");
                const made = await secured.create("Created after the token was given");
                await waitTotal(p, 2);
                await expectInSync(p, secured);
                assert.ok(socketUrls.length > 0);
                for (const u of socketUrls) {
                    assert.ok(!u.includes("s3cret-token") && !u.includes("access_token"), u);
                    assert.match(u, /[?&]ticket=[A-Za-z0-9_-]{43}(&|$)/);
                }
                // The history names who did each change (the --token acts as "token").
                await p.goto(`${secured.url}/#/sessions/${made.session_id}`);
                await p.waitForSelector(".event-list li .event-actor");
                assert.equal((await p.textContent(".event-list li .event-actor")).trim(), "by token");
            } finally {
                await p.close();
                await secured.stop();
            }
        });

        await test("the page raised no script error", async () => {
            assert.deepEqual(pageErrors, []);
        });
    } catch (err) {
        results.push(false);
        console.log(`FAIL setup: ${err?.stack ?? err}`);
    } finally {
        if (context) await context.close().catch(() => {});
        await server.stop().catch(() => {});
        await removeTempDir(tmp).catch(() => {});
    }

    console.log(`     screenshots: ${args.artifacts}`);
    console.log(`     total: ${Date.now() - started} ms`);
    const passed = results.filter(Boolean).length;
    const failed = results.length - passed;
    console.log(`${passed} passed, ${failed} failed`);
    process.exitCode = failed ? 1 : 0;
}

await main();
