// The shared harness of the browser tests (tests/browser/*_test.mjs): the command line, a small
// test runner, the real `quorum` server with REST helpers, headless Chromium (playwright-core) at
// the two viewports the dashboard is tested at, and helpers that read the page's state.
//
// Every test file is run by ctest as
//
//   node <topic>_test.mjs <path to quorum> [--artifacts DIR] [--web-root DIR] [--chromium PATH]
//
// and prints one line per test, then "N passed, M failed" (the exit code is 1 when anything
// failed). Screenshots go to --artifacts (default: $QUORUM_BROWSER_ARTIFACTS, else
// ./browser-artifacts); Chromium is --chromium (default: $QUORUM_CHROMIUM, else /usr/bin/chromium).
//
// A test file:
//
//   import assert from "node:assert/strict";
//   import { runSuite, test, Server, launchBrowser, openPage, forEachViewport, screenshot,
//       waitConnected, expectInSync, VIEWPORTS } from "./harness.mjs";
//
//   await runSuite(async ({ tmp }) => {
//       const server = new Server();        // data folder under tmp, a free port; web/ served
//       await server.start();
//       const s = await server.create("Which queue?");
//       await server.addResponse(s.session_id, "claude", 1, { text: "SQS." });
//       await launchBrowser();               // forEachViewport uses the last launched browser
//       await forEachViewport("the session shows the response", async (page, vp) => {
//           await page.goto(`${server.url}/#/sessions/${s.session_id}`);
//           await waitConnected(page);
//           await expectInSync(page, server);
//           await screenshot(page, `session-${vp.name}`);
//       });
//   });
//
// The API:
//
// - args: {binary, artifacts, webRoot, chromium}, parsed from process.argv when this module is
//   first imported (a missing binary prints the usage and exits with 2).
// - runSuite(body): creates the artifacts folder and a temp folder, runs body({tmp}), and then,
//   whatever happened, closes every browser launched by launchBrowser(), stops every Server made
//   here, removes the temp folder, prints "N passed, M failed" and sets the exit code. An
//   exception out of body counts as one failure ("FAIL setup: ...").
// - test(name, fn): runs one test; prints "ok   name (ms)" or "FAIL name (ms)" with the stack.
//   Never throws. Returns whether the test passed. results: the outcomes so far (booleans).
// - forEachViewport(name, body, {context, viewports}): one test per viewport, named
//   "name [desktop]" and "name [mobile]": a new page of that size (openPage) in `context`
//   (default: the browser launched last), body(page, vp) with vp = {name, width, height}, then a
//   check that the page raised no script error, and the page is closed.
// - timing(what, ms): prints a timing line. pool(items, concurrency, fn): a bounded Promise.all.
// - VIEWPORTS: {desktop: {width: 1280, height: 800}, mobile: {width: 390, height: 844}}.
// - Server: the real server (a QuorumServer of ../support/server.mjs) with --web-root = args.webRoot.
//   new Server({dataDir, port, token, extraArgs}): dataDir defaults to a new folder under the
//   suite's temp folder; port to a new free port at each start (pass one to keep the URL across
//   restarts: the page reconnects to the same URL); token adds --token and sends it on REST calls.
//   REST helpers (each throws on an unexpected status, and returns the parsed body, null for 204):
//   request(method, target, body, {expect}), create(query, extra), get(id), update(id, fields)
//   (PATCH), setStatus(id, status), addResponse(id, provider, round, response),
//   setConsensus(id, summary, agreement), fail(id, error), remove(id) (DELETE), events(id),
//   list({limit, after, status}) (one page), allSessions() (every page), stats(), head() (the
//   audit head's seq), streamServed() (whether GET /v1/stream upgrades to a WebSocket).
//   importSessions(queries), before the first start(): a log of one session per query, written
//   through `quorum import` (thousands of sessions in seconds); returns the sessions made.
//   Requests go over keep-alive connections (QuorumServer.httpRequest), closed at each stop.
// - launchBrowser({viewport, colorScheme}): headless Chromium with a fresh profile in a temp
//   folder (removed on close()); returns the persistent BrowserContext. Its first page is
//   context.pages()[0]; pageErrors(page) works for it too.
// - openPage(context, {width, height}): a new page of that viewport (deviceScaleFactor 1) whose
//   script errors are collected: pageErrors(page) returns them (an array of messages).
// - screenshot(page, name): saves <artifacts>/<name>.png (the viewport) and returns the path.
//   Names used by docs/dashboard.md are listed in update_doc_images.sh; keep them stable.
// - dashboard(page): {logId, lastSeq, loads, connection, stream} of window.quorumDashboard.
// - waitConnected(page, timeout): the connection indicator says "connected".
// - waitTotal(page, n) / waitShown(page, n): the table holds n sessions / shows n after filters.
// - renderedRows(page): the table's rows in the DOM, [{id, status, query}] in display order.
// - expectInSync(page, server): waits until the page has applied every event up to the audit head
//   and asserts that its model equals GET /v1/sessions (ids, statuses, versions), that the table
//   was drawn from it, and that the stream had no gap and no duplicate; returns the listed sessions.
// - TIMEOUT: the default wait (15 s).

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { chromium } from "playwright-core";

import { GENESIS, nextLink } from "../support/chain.mjs";
import { QuorumServer, freePort, makeTempDir, removeTempDir, sleep } from "../support/server.mjs";

export { freePort, makeTempDir, removeTempDir, sleep };

const here = path.dirname(fileURLToPath(import.meta.url));
const execFileAsync = promisify(execFile);

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
        const script = path.basename(process.argv[1] ?? "<topic>_test.mjs");
        console.error(`usage: node ${script} <quorum binary> [--artifacts DIR] [--web-root DIR] [--chromium PATH]`);
        process.exit(2);
    }
    return out;
}

export const args = parseArgs(process.argv.slice(2));

// --- the runner ---------------------------------------------------------------------------------

export const results = [];
export const TIMEOUT = 15_000;

/**
 * A tokens file in `dir` made with `quorum token new`, one token per [name, scopes] pair: returns
 * the file's path and the tokens' secrets by name.
 */
export async function makeTokensFile(dir, pairs) {
    const tokens = {};
    const lines = [];
    for (const [name, scopes] of pairs) {
        const { stdout } = await execFileAsync(args.binary, ["token", "new", name, scopes]);
        const [value, line] = stdout.trim().split("\n");
        tokens[name] = value;
        lines.push(line);
    }
    const file = path.join(dir, "tokens");
    await writeFile(file, `${lines.join("\n")}\n`, { mode: 0o600 });
    return { file, tokens };
}

/** Makes the page start with `token` in its tab's storage (as the token prompt leaves it). */
export const withToken = (page, token) =>
    page.addInitScript((t) => sessionStorage.setItem("quorum.token", t), token);

export async function test(name, fn) {
    const t0 = Date.now();
    try {
        await fn();
        results.push(true);
        console.log(`ok   ${name} (${Date.now() - t0} ms)`);
        return true;
    } catch (err) {
        results.push(false);
        console.log(`FAIL ${name} (${Date.now() - t0} ms)\n     ${String(err?.stack ?? err).split("\n").join("\n     ")}`);
        return false;
    }
}

export function timing(what, ms) {
    console.log(`     time: ${what}: ${ms} ms`);
}

/** Runs `fn` over `items` with at most `concurrency` at a time; returns the results in order. */
export async function pool(items, concurrency, fn) {
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

/** What runSuite() cleans up: servers made and browsers launched while it runs. */
const servers = new Set();
const contexts = [];
let suiteTmp = null;

export async function runSuite(body) {
    const started = Date.now();
    await mkdir(args.artifacts, { recursive: true });
    suiteTmp = await makeTempDir("browser");
    try {
        await body({ tmp: suiteTmp });
    } catch (err) {
        results.push(false);
        console.log(`FAIL setup: ${err?.stack ?? err}`);
    } finally {
        for (const c of contexts.splice(0)) await c.close().catch(() => {});
        for (const s of servers) await s.stop().catch(() => {});
        servers.clear();
        await removeTempDir(suiteTmp).catch(() => {});
        suiteTmp = null;
    }
    console.log(`     screenshots: ${args.artifacts}`);
    console.log(`     total: ${Date.now() - started} ms`);
    const passed = results.filter(Boolean).length;
    const failed = results.length - passed;
    console.log(`${passed} passed, ${failed} failed`);
    process.exitCode = failed ? 1 : 0;
}

// --- the server ---------------------------------------------------------------------------------

let dataDirs = 0;

/** The server under the page, web/ served; see the API at the top. */
export class Server extends QuorumServer {
    constructor({ dataDir = null, port = null, token = null, extraArgs = [], name = "quorum" } = {}) {
        if (!dataDir) {
            if (!suiteTmp) throw new Error("Server: no dataDir outside runSuite()");
            dataDir = path.join(suiteTmp, `data-${++dataDirs}`);
        }
        super({ binary: args.binary, name, dataDir, port,
            args: ["--web-root", args.webRoot, ...(token ? ["--token", token] : []), ...extraArgs] });
        this.token = token;
        servers.add(this);
    }

    /** A JSON request; returns the parsed body (null for 204). Throws on an unexpected status. */
    async request(method, target, body, { expect } = {}) {
        const headers = {};
        if (this.token) headers.authorization = `Bearer ${this.token}`;
        if (body !== undefined) headers["content-type"] = "application/json";
        const { status, text } = await this.httpRequest(method, target, {
            headers, body: body === undefined ? undefined : JSON.stringify(body),
        });
        const ok = expect ? status === expect : status >= 200 && status < 300;
        if (!ok) throw new Error(`${method} ${target}: ${status} ${text}`);
        return text ? JSON.parse(text) : null;
    }

    create(query, extra = {}) {
        return this.request("POST", "/v1/sessions", { query, ...extra }, { expect: 201 });
    }

    get(id) {
        return this.request("GET", `/v1/sessions/${id}`);
    }

    update(id, fields) {
        return this.request("PATCH", `/v1/sessions/${id}`, fields);
    }

    setStatus(id, status) {
        return this.update(id, { status });
    }

    addResponse(id, provider, round, response) {
        return this.request("POST", `/v1/sessions/${id}/responses`, { provider, round, response });
    }

    setConsensus(id, summary, agreement) {
        return this.request("PUT", `/v1/sessions/${id}/consensus`, { summary, agreement });
    }

    fail(id, error) {
        return this.request("POST", `/v1/sessions/${id}/fail`, { error });
    }

    remove(id) {
        return this.request("DELETE", `/v1/sessions/${id}`, undefined, { expect: 204 });
    }

    events(id) {
        return this.request("GET", `/v1/sessions/${id}/events`);
    }

    list({ limit = 100, after = null, status = null } = {}) {
        const q = new URLSearchParams({ limit: String(limit) });
        if (after) q.set("after", after);
        if (status) q.set("status", status);
        return this.request("GET", `/v1/sessions?${q}`);
    }

    async allSessions() {
        const out = [];
        let after = null;
        for (;;) {
            const page = await this.list({ limit: 1000, after });
            out.push(...page.sessions);
            if (!page.next) return out;
            after = page.next;
        }
    }

    stats() {
        return this.request("GET", "/v1/stats");
    }

    async head() {
        return (await this.request("GET", "/v1/audit/head")).seq;
    }

    /**
     * Fills the server's empty data folder, before its first start, with one `created` event per
     * query, through `quorum import`: a log of thousands of sessions in seconds, where creating
     * them over REST takes the sanitizer build a minute of CPU. The export is written here as
     * docs/events.md specifies it (the canonical envelope, the SHA-256 chain), and import checks
     * every line as `quorum verify` does. Sessions are one millisecond apart, the last a second
     * ago. Returns [{session_id, query, created_at}] in creation order.
     */
    async importSessions(queries) {
        if (this.child) throw new Error("importSessions: the server has started already");
        const end = Date.now() - 1000;
        const header = JSON.stringify({ log_id: randomUUID(), format: "quorum-export", version: 1 });
        const lines = [header];
        const sessions = [];
        let link = GENESIS;
        queries.forEach((query, i) => {
            const at = new Date(end - (queries.length - 1 - i)).toISOString().replace("Z", "000Z");
            const session = { session_id: randomUUID(), query, created_at: at };
            const data = JSON.stringify({ query, mode: "full_deliberation", metadata: {} });
            const envelope = `{"seq":${i + 1},"event_id":"${randomUUID()}","session_id":"${session.session_id}",` +
                `"version":1,"type":"created","at":"${at}","data":${data}}`;
            link = nextLink(link, envelope);
            lines.push(`${envelope.slice(0, -1)},"hash":"${link.toString("hex")}"}`);
            sessions.push(session);
        });
        const file = `${this.dataDir}.export.jsonl`;
        await writeFile(file, `${lines.join("\n")}\n`);
        await execFileAsync(this.binary, ["import", "--data", this.dataDir, "--input", file]);
        await rm(file);
        return sessions;
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

// --- the browser --------------------------------------------------------------------------------

export const VIEWPORTS = Object.freeze({
    desktop: Object.freeze({ width: 1280, height: 800 }),
    mobile: Object.freeze({ width: 390, height: 844 }),
});

const CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const errorsOf = new WeakMap();

function collectErrors(page) {
    if (errorsOf.has(page)) return page;
    const errors = [];
    errorsOf.set(page, errors);
    page.on("pageerror", (err) => errors.push(err.message));
    return page;
}

/** The script errors a page raised so far (pages from openPage() or launchBrowser()). */
export function pageErrors(page) {
    return errorsOf.get(page) ?? [];
}

export async function launchBrowser({ viewport = VIEWPORTS.desktop, colorScheme = "light" } = {}) {
    const profile = await makeTempDir("chromium-profile");
    let context;
    try {
        context = await chromium.launchPersistentContext(profile, {
            executablePath: args.chromium,
            headless: true,
            args: CHROMIUM_FLAGS,
            viewport: { width: viewport.width, height: viewport.height },
            deviceScaleFactor: 1,
            colorScheme,
        });
    } catch (err) {
        await removeTempDir(profile).catch(() => {});
        throw err;
    }
    context.on("page", collectErrors);
    for (const p of context.pages()) collectErrors(p);
    const close = context.close.bind(context);
    let closed = null;
    context.close = () => {
        closed ??= close().finally(() => removeTempDir(profile).catch(() => {}));
        return closed;
    };
    contexts.push(context);
    return context;
}

export async function openPage(context, { width, height } = VIEWPORTS.desktop) {
    const page = collectErrors(await context.newPage());
    await page.setViewportSize({ width, height });
    return page;
}

export async function forEachViewport(name, body, { context = null, viewports = VIEWPORTS } = {}) {
    const ok = {};
    for (const [vpName, size] of Object.entries(viewports)) {
        const vp = { name: vpName, width: size.width, height: size.height };
        ok[vpName] = await test(`${name} [${vpName}]`, async () => {
            const ctx = context ?? contexts[contexts.length - 1];
            if (!ctx) throw new Error("forEachViewport: no browser (call launchBrowser() first)");
            const page = await openPage(ctx, vp);
            try {
                await body(page, vp);
                assert.deepEqual(pageErrors(page), [], "the page raised no script error");
            } finally {
                await page.close().catch(() => {});
            }
        });
    }
    return ok;
}

// --- page helpers -------------------------------------------------------------------------------

/**
 * Presses a mouse button over the middle of `selector`, runs `during` while it is held, then
 * releases it there: a press and a release with whatever `during` makes the page do between them
 * (a click needs both on the same element).
 */
export async function holdPressOn(page, selector, during, { button = "left" } = {}) {
    const box = await page.locator(selector).boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down({ button });
    try {
        await during();
    } finally {
        await page.mouse.up({ button });
    }
}

export async function screenshot(page, name) {
    const file = path.join(args.artifacts, `${name}.png`);
    await page.screenshot({ path: file });
    return file;
}

export const dashboard = (page) => page.evaluate(() => {
    const d = window.quorumDashboard;
    return {
        logId: d.logId, lastSeq: d.lastSeq, loads: d.loads, connection: d.connection,
        stream: d.stream,
    };
});

export const waitConnected = (page, timeout = TIMEOUT) =>
    page.waitForSelector('#connection[data-state="connected"]', { timeout });

export const waitTotal = (page, n, timeout = TIMEOUT) => page.waitForFunction(
    (want) => document.querySelector("#sessions-table")?.dataset.total === String(want), n, { timeout });

export const waitShown = (page, n, timeout = TIMEOUT) => page.waitForFunction(
    (want) => document.querySelector("#sessions-table")?.dataset.shown === String(want), n, { timeout });

/** The rows in the DOM (the visible window): [{id, status, query}] in display order. */
export const renderedRows = (page) => page.$$eval("#sessions-body tr[data-id]", (trs) => trs.map((tr) => ({
    id: tr.dataset.id,
    status: tr.dataset.status,
    query: tr.querySelector("td.query")?.textContent ?? "",
})));

/** Waits until the page has applied every event of the log and holds what the server lists. */
export async function expectInSync(page, server) {
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
