// The REST contract test: starts the real server, drives every documented endpoint and error
// case over HTTP, and checks every response (status, documented headers, body) against
// docs/openapi.yaml. An undocumented status, a missing documented header or a body that does not
// match its schema fails the test, as does a documented status that no request produced (apart
// from the few that cannot be provoked from outside, listed in NOT_PROVOKED).
//
// Usage: node tests/contract/contract_test.mjs <quorum binary> [--openapi <openapi.yaml>]
//                                             [--store postgres]
//
// With --store postgres every server runs in cluster mode (`serve --store <URI>`) on a database
// of its own, created on the tests' PostgreSQL server (tests/support/server.mjs:
// postgresAdminUri) and dropped at the end. The same requests must get the same answers: the
// document describes both stores alike.
//
// Three servers run, one after the other, each on a free loopback port with a fresh data folder:
//   A: default options (24 h TTL, 1 MiB bodies, no token) and a dashboard folder with an index;
//      stopped with SIGTERM and started again on the same data to check that replay restores
//      the same state (and that MCP sessions survive it). The MCP endpoint (/mcp) is driven here
//      as HTTP: JSON-RPC bodies, the statuses of its transport, the GET notification stream.
//   B: --token, a --tokens-file with a read-only token, --ttl-seconds 1, --cleanup-interval 4,
//      --max-body-bytes 1024, --mcp-max-streams 1 and an empty dashboard folder: authentication
//      and scopes (on /v1 and /mcp), the body limit, expiry before and after cleanup, the limit of
//      MCP streams.
//   C: --allow-private-webhooks and --webhook-retry-scale 0.001, with a webhook receiver in this
//      process on loopback: the webhook endpoints, signed deliveries, retries, replay, 410.
// Every server is stopped by its pid with SIGTERM when its suite ends, whatever happened.
import assert from "node:assert/strict";
import { createHash, createHmac, randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import { GENESIS, nextLink } from "../support/chain.mjs";
import { QuorumServer, createTestDatabase, makeTempDir, removeTempDir, sleep }
    from "../support/server.mjs";
import { ResponseChecker, loadDocument, truncate } from "./openapi_lib.mjs";

// ---- arguments and the document ------------------------------------------------------------

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const binary = args.find((a, i) => !a.startsWith("--") && args[i - 1] !== "--openapi" &&
    args[i - 1] !== "--store");
const openapiArg = args.indexOf("--openapi");
const openapiPath = openapiArg >= 0 ? args[openapiArg + 1]
    : path.join(here, "..", "..", "docs", "openapi.yaml");
const storeArg = args.indexOf("--store");
const store = storeArg >= 0 ? args[storeArg + 1] : "embedded";
if (!binary || !["embedded", "postgres"].includes(store)) {
    console.error("usage: contract_test.mjs <quorum binary> [--openapi <openapi.yaml>] " +
        "[--store postgres]");
    process.exit(2);
}
/// Cluster mode: every server on a PostgreSQL database of its own.
const onPostgres = store === "postgres";
/// The databases made for the servers, dropped when every test has run.
const databases = [];
after(async () => {
    for (const db of databases) await db.drop();
});

const doc = await loadDocument(openapiPath);
const checker = new ResponseChecker(doc);

// Documented statuses that a client cannot provoke on a healthy server: they are still checked
// whenever they happen, but their absence does not fail the coverage test.
const NOT_PROVOKED = {
    "500": "internal: only a bug produces it",
    "503": "not_ready / unavailable: only while replaying at start or when the store fails",
};

const NIL_UUID = "00000000-0000-0000-0000-000000000000";
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const FIELD_NOT_UPDATABLE = (name) => `Field '${name}' cannot be updated directly. Allowed ` +
    "fields: consensus, error, metadata, provider_responses, status";

// ---- the server process ----------------------------------------------------------------------

/// A server of these tests: `serve` with extraArgs on a new free port at every start. `token`,
/// when given, goes with every request (see rawFetch). With --store postgres its first start
/// creates its database, and every start uses it (`--store <URI>`).
class Server extends QuorumServer {
    constructor(name, { dataDir, extraArgs = [], token = null }) {
        super({ binary, name, dataDir, args: extraArgs });
        this.token = token;
        /// Responses seen while waiting for readiness (validated as they come).
        this.startupStatuses = [];
        this.database = null;
    }

    async start() {
        if (onPostgres && !this.database) {
            this.database = await createTestDatabase();
            databases.push(this.database);
            this.args = [...this.args, "--store", this.database.uri];
        }
        await super.start();
    }

    /// /readyz (and /v1 while replaying) may answer 503 before the server is ready; whatever
    /// comes is checked against the document.
    async isReady() {
        let res;
        try {
            res = await rawFetch(this, "GET", "/readyz");
        } catch {
            return false;  // not listening yet
        }
        expectDocumented("GET", "/readyz", res);
        this.startupStatuses.push(res.status);
        if (res.status === 200) return true;
        // Still replaying: /v1 must say not_ready (checked when it happens).
        expectDocumented("GET", "/v1/stats", await rawFetch(this, "GET", "/v1/stats"));
        return false;
    }
}

// ---- HTTP and the document -------------------------------------------------------------------

/// A request with fetch. `json` is serialized; `body` is sent as is. The server's token, when it
/// has one, is sent unless `token` is false or another Authorization header is given.
async function rawFetch(srv, method, target, { json, body, headers = {}, token = true } = {}) {
    const h = { ...headers };
    let payload = body;
    if (json !== undefined) {
        payload = JSON.stringify(json);
        if (!Object.keys(h).some((k) => k.toLowerCase() === "content-type")) {
            h["content-type"] = "application/json";
        }
    }
    if (srv.token && token && !Object.keys(h).some((k) => k.toLowerCase() === "authorization")) {
        h.authorization = `Bearer ${srv.token}`;
    }
    const res = await fetch(srv.url + target, { method, headers: h, body: payload, redirect: "manual" });
    const text = method === "HEAD" ? "" : await res.text();
    let parsed;
    try {
        parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
        parsed = undefined;
    }
    return { status: res.status, headers: res.headers, text, body: parsed, method, target };
}

/// The documented path template a request path falls under ("/v1/sessions/{id}"), or null.
function templateOf(requestPath) {
    const parts = requestPath.split("/");
    let best = null;
    for (const template of Object.keys(doc.paths)) {
        const tparts = template.split("/");
        if (tparts.length !== parts.length) continue;
        let literal = 0;
        let ok = true;
        for (let i = 0; i < parts.length && ok; ++i) {
            if (/^\{.+\}$/.test(tparts[i])) ok = parts[i].length > 0;
            else if (tparts[i] === parts[i]) ++literal;
            else ok = false;
        }
        if (ok && (!best || literal > best.literal)) best = { template, literal };
    }
    return best?.template ?? null;
}

/// Checks a response against the document and fails the test with every problem found. A path
/// the document does not have must get 404 not_found (401 or 503 first under /v1); a method the
/// path does not have must get 405 method_not_allowed with an Allow header that lists exactly
/// the documented methods.
function expectDocumented(method, target, res) {
    const requestPath = target.split("?")[0];
    const template = templateOf(requestPath);
    const op = template ? checker.operation(template, method) : undefined;
    let problems;
    if (op) {
        problems = checker.checkOperation(method, template, res);
    } else {
        const v1 = requestPath === "/v1" || requestPath.startsWith("/v1/");
        const named = { 404: "NotFound", 405: "MethodNotAllowed" };
        if (v1) Object.assign(named, { 401: "Unauthorized", 503: "Unavailable" });
        const expected = template ? 405 : 404;
        const name = named[res.status] ?? named[expected];
        problems = checker.checkNamed(name, res.status === 401 || res.status === 503
            ? res.status : expected, res);
        if (res.status === 405 && template) {
            const documented = Object.keys(doc.paths[template])
                .filter((k) => ["get", "put", "post", "delete", "patch", "head", "options"].includes(k))
                .map((k) => k.toUpperCase()).sort();
            const allow = (res.headers.get("allow") ?? "").split(",").map((s) => s.trim()).sort();
            if (JSON.stringify(allow) !== JSON.stringify(documented)) {
                problems.push(`405 on ${template}: Allow is ${allow.join(", ")}, the document has ` +
                    documented.join(", "));
            }
        }
    }
    if (problems.length > 0) {
        assert.fail(`${method} ${target} -> ${res.status}:\n  ${problems.join("\n  ")}`);
    }
}

/// A request whose response is checked against the document; `status` (when given) is asserted.
async function call(srv, method, target, opts = {}) {
    const res = await rawFetch(srv, method, target, opts);
    expectDocumented(method, target, res);
    if (opts.status !== undefined) {
        assert.equal(res.status, opts.status,
            `${method} ${target}: expected ${opts.status}, got ${res.status}: ${truncate(res.text)}`);
    }
    return res;
}

/// A request that must fail with `status` and error `code` (and, when given, `message`, a string
/// that must be equal or a RegExp that must match).
async function callError(srv, method, target, status, code, opts = {}) {
    const res = await call(srv, method, target, { ...opts, status });
    assert.equal(res.body?.error?.code, code, `${method} ${target}: ${truncate(res.text)}`);
    if (opts.message instanceof RegExp) assert.match(res.body.error.message, opts.message);
    else if (opts.message !== undefined) assert.equal(res.body.error.message, opts.message);
    return res;
}

/// One request over a raw socket (for what fetch cannot send). Returns the parsed response.
function rawHttp(srv, requestText) {
    return new Promise((resolve, reject) => {
        const socket = net.connect(srv.port, "127.0.0.1");
        const chunks = [];
        socket.setTimeout(10_000, () => socket.destroy(new Error("raw request timed out")));
        socket.on("data", (c) => chunks.push(c));
        socket.on("error", reject);
        socket.on("close", () => {
            const text = Buffer.concat(chunks).toString("latin1");
            const split = text.indexOf("\r\n\r\n");
            if (split < 0) return reject(new Error(`no HTTP response: ${JSON.stringify(text)}`));
            const [statusLine, ...lines] = text.slice(0, split).split("\r\n");
            const headers = new Headers();
            for (const l of lines) {
                const c = l.indexOf(":");
                headers.append(l.slice(0, c).trim(), l.slice(c + 1).trim());
            }
            const body = text.slice(split + 4);
            let parsed;
            try {
                parsed = JSON.parse(body);
            } catch {
                parsed = undefined;
            }
            resolve({ status: Number(statusLine.split(" ")[1]), headers, text: body, body: parsed,
                raw: text });
        });
        socket.write(requestText);
    });
}

/// RFC 3339 text with microseconds -> microseconds since the epoch (BigInt).
function micros(text) {
    const m = /^(.*T\d{2}:\d{2}:\d{2})\.(\d{6})Z$/.exec(text);
    assert.ok(m, `not a microsecond UTC timestamp: ${text}`);
    return BigInt(Date.parse(`${m[1]}Z`)) * 1000n + BigInt(m[2]);
}

/// The raw text of each element of the top-level "events" array of a response body (the
/// canonical envelopes, byte for byte, as the server sent them).
function rawEvents(text) {
    const out = [];
    let depth = 0;
    let inString = false;
    let start = -1;
    let inEvents = false;
    let lastKey = null;
    let keyStart = -1;
    for (let i = 0; i < text.length; ++i) {
        const ch = text[i];
        if (inString) {
            if (ch === "\\") ++i;
            else if (ch === '"') {
                inString = false;
                if (depth === 1 && keyStart >= 0) {
                    lastKey = JSON.parse(text.slice(keyStart, i + 1));
                    keyStart = -1;
                }
            }
            continue;
        }
        if (ch === '"') {
            inString = true;
            if (depth === 1) keyStart = i;
            continue;
        }
        if (ch === "{" || ch === "[") {
            if (depth === 1 && ch === "[" && lastKey === "events") inEvents = true;
            else if (inEvents && depth === 2) start = i;
            ++depth;
        } else if (ch === "}" || ch === "]") {
            --depth;
            if (inEvents && depth === 2) out.push(text.slice(start, i + 1));
            if (inEvents && depth === 1) inEvents = false;
        }
    }
    return out;
}

/// Every event of the log through GET /v1/events, page by page; returns {events, raw}.
async function readLog(srv, limit = 1000) {
    const events = [];
    const raw = [];
    let afterSeq = 0;
    for (;;) {
        const res = await call(srv, "GET", `/v1/events?after=${afterSeq}&limit=${limit}`, { status: 200 });
        events.push(...res.body.events);
        raw.push(...rawEvents(res.text));
        if (res.body.next === null) break;
        afterSeq = res.body.next;
    }
    assert.equal(raw.length, events.length);
    return { events, raw };
}

function chainHead(rawEnvelopes) {
    return rawEnvelopes.reduce(nextLink, GENESIS).toString("hex");
}

// ---- server A: the API with default options ------------------------------------------------

describe("server A (defaults)", () => {
    let tmp;
    let srv;
    const ids = {};
    /// The MCP session and the session made over MCP, shared by the MCP tests.
    const mcp = {};

    before(async () => {
        tmp = await makeTempDir("contract-a");
        const web = path.join(tmp, "web");
        await mkdir(web);
        await writeFile(path.join(web, "index.html"), "<!doctype html><title>quorum</title>\n");
        srv = new Server("server A", { dataDir: path.join(tmp, "data"), extraArgs: ["--web-root", web] });
        await srv.start();
    });

    after(async () => {
        try {
            if (srv) await srv.stop();
        } finally {
            await removeTempDir(tmp);
        }
    });

    it("answers health, readiness, metrics and the dashboard", async () => {
        const h = await call(srv, "GET", "/healthz", { status: 200 });
        assert.deepEqual(h.body, { status: "ok" });
        const r = await call(srv, "GET", "/readyz", { status: 200 });
        assert.deepEqual(r.body, { status: "ready" });
        const page = await call(srv, "GET", "/", { status: 200 });
        assert.match(page.text, /<title>quorum<\/title>/);
        const head = await call(srv, "HEAD", "/", { status: 200 });
        assert.equal(head.text, "");
        await callError(srv, "GET", "/no-such-file.html", 404, "not_found");
        await callError(srv, "GET", "/../etc/passwd", 404, "not_found");
    });

    it("starts with an empty log", async () => {
        const head = await call(srv, "GET", "/v1/audit/head", { status: 200 });
        assert.deepEqual(head.body, { seq: 0, hash: "0".repeat(64) });
        const events = await call(srv, "GET", "/v1/events", { status: 200 });
        assert.deepEqual(events.body, { events: [], next: null });
        const list = await call(srv, "GET", "/v1/sessions", { status: 200 });
        assert.deepEqual(list.body, { sessions: [], next: null });
        const stats = await call(srv, "GET", "/v1/stats", { status: 200 });
        assert.deepEqual(stats.body, {
            total_sessions: 0, active_sessions: 0, expired_sessions: 0,
            by_status: { pending: 0, in_progress: 0, completed: 0, failed: 0 },
            ended_sessions: { deleted: 0, expired: 0 }, ttl_hours: 24,
        });
    });

    it("checks the whole log on the server (POST and GET /v1/audit/verify)", async () => {
        const idle = await call(srv, "GET", "/v1/audit/verify", { status: 200 });
        assert.equal(idle.body.state, "idle");
        const started = await call(srv, "POST", "/v1/audit/verify", { status: 202 });
        assert.equal(started.body.state, "running");
        let last = started;
        for (let i = 0; i < 200 && last.body.state === "running"; ++i) {
            await new Promise((r) => setTimeout(r, 20));
            last = await call(srv, "GET", "/v1/audit/verify", { status: 200 });
        }
        assert.equal(last.body.state, "done");
        assert.equal(last.body.ok, true);
        assert.deepEqual(last.body.problems, []);
        // One check at a time: POSTs sent together race; all but the one that starts a check
        // while none runs are refused (a small log is checked within milliseconds, so this
        // takes a few rounds at most).
        let refused = 0;
        for (let round = 0; round < 50 && refused === 0; ++round) {
            const all = await Promise.all(Array.from({ length: 8 },
                () => call(srv, "POST", "/v1/audit/verify")));
            for (const res of all) {
                assert.ok(res.status === 202 || res.status === 409, `${res.status}: ${res.text}`);
                if (res.status === 409) {
                    assert.equal(res.body.error.code, "limit_reached");
                    ++refused;
                }
            }
        }
        assert.ok(refused > 0, "a POST while a check runs is 409");
    });

    it("creates sessions (POST /v1/sessions)", async () => {
        const res = await call(srv, "POST", "/v1/sessions", {
            status: 201,
            json: { query: "Should we use microservices or monolith?", mode: "quick_consensus",
                metadata: { team: "platform" } },
        });
        const s = res.body;
        assert.match(s.session_id, UUID_V4);
        assert.equal(res.headers.get("location"), `/v1/sessions/${s.session_id}`);
        assert.equal(res.headers.get("etag"), '"1"');
        assert.equal(s.status, "pending");
        assert.equal(s.mode, "quick_consensus");
        assert.equal(s.query, "Should we use microservices or monolith?");
        assert.deepEqual(s.metadata, { team: "platform" });
        assert.deepEqual(s.provider_responses, {});
        assert.equal(s.consensus, null);
        assert.equal(s.error, null);
        assert.equal(s.version, 1);
        assert.equal(s.updated_at, s.created_at);
        assert.equal(micros(s.expires_at) - micros(s.created_at), 24n * 3600n * 1_000_000n);
        ids.main = s.session_id;

        const d = await call(srv, "POST", "/v1/sessions", { status: 201, json: { query: "defaults" } });
        assert.equal(d.body.mode, "full_deliberation");
        assert.deepEqual(d.body.metadata, {});
        ids.plain = d.body.session_id;

        // The longest query, counted in characters (code points), not bytes.
        const longest = await call(srv, "POST", "/v1/sessions",
            { status: 201, json: { query: "é".repeat(50_000) } });
        ids.longest = longest.body.session_id;

        const got = await call(srv, "GET", `/v1/sessions/${ids.main}`, { status: 200 });
        assert.deepEqual(got.body, s);
        assert.equal(got.headers.get("etag"), '"1"');
    });

    it("refuses malformed creates with invalid_json and invalid_argument", async () => {
        const head = (await call(srv, "GET", "/v1/audit/head")).body.seq;
        const post = (opts, code, message) =>
            callError(srv, "POST", "/v1/sessions", 400, code, { ...opts, message });
        await post({ body: "{not json", headers: { "content-type": "application/json" } }, "invalid_json");
        await post({ body: "", headers: { "content-type": "application/json" } }, "invalid_json");
        await post({ json: ["query"] }, "invalid_json");
        await post({ json: "query" }, "invalid_json");
        await post({ body: Buffer.from([0x7b, 0x22, 0x71, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]),
            headers: { "content-type": "application/json" } }, "invalid_json");
        // Deeper than the default limit of 64 levels.
        await post({ body: `{"query":"q","metadata":${'{"a":'.repeat(70)}1${"}".repeat(70)}}`,
            headers: { "content-type": "application/json" } }, "invalid_json");
        await post({ json: {} }, "invalid_argument", /query/);
        await post({ json: { query: 42 } }, "invalid_argument", /query/);
        await post({ json: { query: " \t\n " } }, "invalid_argument", /query/);
        await post({ json: { query: "x".repeat(50_001) } }, "invalid_argument", /query/);
        await post({ json: { query: "q", mode: "consensus" } }, "invalid_argument", /mode/);
        await post({ json: { query: "q", mode: 1 } }, "invalid_argument", /mode/);
        await post({ json: { query: "q", metadata: [] } }, "invalid_argument", /metadata/);
        await post({ json: { query: "q", metadata: "x" } }, "invalid_argument", /metadata/);
        const after = (await call(srv, "GET", "/v1/audit/head")).body.seq;
        assert.equal(after, head, "a refused request must append nothing");
    });

    it("creates once per Idempotency-Key", async () => {
        const key = `key-${randomUUID()}`;
        const first = await call(srv, "POST", "/v1/sessions",
            { status: 201, json: { query: "idempotent" }, headers: { "Idempotency-Key": key } });
        const head = (await call(srv, "GET", "/v1/audit/head")).body.seq;
        const again = await call(srv, "POST", "/v1/sessions",
            { status: 201, json: { query: "another body" }, headers: { "Idempotency-Key": key } });
        assert.equal(again.body.session_id, first.body.session_id);
        assert.equal(again.body.query, "idempotent");
        assert.equal(again.headers.get("location"), first.headers.get("location"));
        assert.equal((await call(srv, "GET", "/v1/audit/head")).body.seq, head, "a repeat appends nothing");
        await callError(srv, "POST", "/v1/sessions", 400, "invalid_argument",
            { json: { query: "q" }, headers: { "Idempotency-Key": "k".repeat(256) }, message: /Idempotency-Key/ });
        ids.idempotent = first.body.session_id;

        // A key whose session is gone answers as reading that session would.
        const key2 = `key-${randomUUID()}`;
        const gone = await call(srv, "POST", "/v1/sessions",
            { status: 201, json: { query: "to delete" }, headers: { "Idempotency-Key": key2 } });
        await call(srv, "DELETE", `/v1/sessions/${gone.body.session_id}`, { status: 204 });
        await callError(srv, "POST", "/v1/sessions", 404, "session_not_found",
            { json: { query: "to delete" }, headers: { "Idempotency-Key": key2 },
                message: `Session not found: ${gone.body.session_id}` });
    });

    it("reads sessions and reports unknown ones", async () => {
        await callError(srv, "GET", "/v1/sessions/not-a-uuid", 404, "session_not_found",
            { message: "Session not found: not-a-uuid" });
        const unknown = randomUUID();
        await callError(srv, "GET", `/v1/sessions/${unknown}`, 404, "session_not_found",
            { message: `Session not found: ${unknown}` });
        await callError(srv, "GET", `/v1/sessions/${NIL_UUID}`, 404, "session_not_found");
        await callError(srv, "GET", `/v1/sessions/${ids.main}?at_seq=abc`, 400, "invalid_argument",
            { message: /at_seq/ });
        await callError(srv, "GET", `/v1/sessions/${ids.main}?at_seq=-1`, 400, "invalid_argument");
    });

    it("updates sessions (PATCH) atomically, with If-Match", async () => {
        const url = `/v1/sessions/${ids.main}`;
        const r1 = await call(srv, "PATCH", url,
            { status: 200, json: { status: "in_progress" }, headers: { "If-Match": '"1"' } });
        assert.equal(r1.body.status, "in_progress");
        assert.equal(r1.body.version, 2);
        assert.equal(r1.headers.get("etag"), '"2"');

        await callError(srv, "PATCH", url, 412, "version_mismatch",
            { json: { metadata: { a: 1 } }, headers: { "If-Match": '"1"' } });
        await callError(srv, "PATCH", url, 400, "invalid_argument",
            { json: { metadata: { a: 1 } }, headers: { "If-Match": "2" }, message: /If-Match/ });
        await callError(srv, "PATCH", url, 400, "invalid_argument",
            { json: { metadata: { a: 1 } }, headers: { "If-Match": 'W/"2"' } });

        // Same status: a no-op that appends nothing.
        const same = await call(srv, "PATCH", url, { status: 200, json: { status: "in_progress" } });
        assert.equal(same.body.version, 2);

        await callError(srv, "PATCH", url, 400, "invalid_field",
            { json: { colour: "red" }, message: "Invalid session field: colour" });
        for (const f of ["session_id", "created_at", "updated_at", "expires_at", "query", "mode", "version"]) {
            await callError(srv, "PATCH", url, 400, "field_not_updatable",
                { json: { [f]: "x" }, message: FIELD_NOT_UPDATABLE(f) });
        }
        await callError(srv, "PATCH", url, 400, "invalid_argument", { json: { status: "done" }, message: /status/ });
        await callError(srv, "PATCH", url, 400, "invalid_argument", { json: { status: 3 }, message: /status/ });
        await callError(srv, "PATCH", url, 400, "invalid_argument", { json: { metadata: [] }, message: /metadata/ });
        await callError(srv, "PATCH", url, 400, "invalid_argument", { json: { consensus: "yes" }, message: /consensus/ });
        await callError(srv, "PATCH", url, 400, "invalid_argument", { json: { error: 5 }, message: /error/ });
        await callError(srv, "PATCH", url, 400, "invalid_argument",
            { json: { provider_responses: { claude: { "0": "x" } } }, message: /provider_responses/ });
        await callError(srv, "PATCH", url, 400, "invalid_argument",
            { json: { provider_responses: { claude: "x" } }, message: /provider_responses/ });
        await callError(srv, "PATCH", url, 400, "invalid_json", { json: [1] });
        await callError(srv, "PATCH", url, 400, "invalid_json",
            { body: "nope", headers: { "content-type": "application/json" } });

        // All or nothing: a valid metadata change with a forbidden transition changes nothing.
        await callError(srv, "PATCH", url, 409, "invalid_transition",
            { json: { metadata: { changed: true }, status: "pending" } });
        const unchanged = await call(srv, "GET", url, { status: 200 });
        assert.deepEqual(unchanged.body.metadata, { team: "platform" });
        assert.equal(unchanged.body.version, 2);

        // Several fields: one event each, in the documented order, status last.
        const before = (await call(srv, "GET", "/v1/audit/head")).body.seq;
        const many = await call(srv, "PATCH", url, {
            status: 200,
            headers: { "If-Match": "*" },
            json: { status: "in_progress", error: "transient", metadata: { team: "core" },
                consensus: { draft: true }, provider_responses: { gpt: { "1": "hi" } } },
        });
        assert.equal(many.body.version, 6);
        assert.equal(many.body.error, "transient");
        assert.deepEqual(many.body.consensus, { draft: true });
        assert.deepEqual(many.body.provider_responses, { gpt: { "1": "hi" } });
        const page = await call(srv, "GET", `/v1/events?after=${before}`, { status: 200 });
        assert.deepEqual(page.body.events.map((e) => e.type),
            ["responses_replaced", "consensus_set", "metadata_updated", "error_set"]);
        assert.deepEqual(page.body.events.map((e) => e.version), [3, 4, 5, 6]);
        assert.ok(page.body.events.every((e) => e.at === page.body.events[0].at), "one batch, one time");

        // null clears error and consensus.
        const cleared = await call(srv, "PATCH", url, { status: 200, json: { error: null, consensus: null } });
        assert.equal(cleared.body.error, null);
        assert.equal(cleared.body.consensus, null);
        assert.equal(cleared.body.version, 8);
        assert.equal(cleared.body.updated_at >= many.body.updated_at, true);

        await callError(srv, "PATCH", `/v1/sessions/${randomUUID()}`, 404, "session_not_found",
            { json: { status: "in_progress" } });
    });

    it("adds provider responses (POST .../responses)", async () => {
        const url = `/v1/sessions/${ids.main}/responses`;
        const r = await call(srv, "POST", url, {
            status: 200, json: { provider: "claude", round: 1, response: { text: "monolith first" } },
        });
        assert.deepEqual(r.body.provider_responses.claude, { "1": { text: "monolith first" } });
        assert.equal(r.body.status, "in_progress");
        const r2 = await call(srv, "POST", url, {
            status: 200, json: { provider: "claude", round: 2, response: "plain text" },
            headers: { "If-Match": `"${r.body.version}"` },
        });
        assert.deepEqual(r2.body.provider_responses.claude, { "1": { text: "monolith first" }, "2": "plain text" });
        assert.deepEqual(r2.body.provider_responses.gpt, { "1": "hi" });
        await callError(srv, "POST", url, 412, "version_mismatch",
            { json: { provider: "claude", round: 3, response: 1 }, headers: { "If-Match": '"1"' } });
        for (const [body, field] of [
            [{ round: 1, response: 1 }, "provider"],
            [{ provider: 7, round: 1, response: 1 }, "provider"],
            [{ provider: "", round: 1, response: 1 }, "provider"],
            [{ provider: "p", response: 1 }, "round"],
            [{ provider: "p", round: 0, response: 1 }, "round"],
            [{ provider: "p", round: "1", response: 1 }, "round"],
            [{ provider: "p", round: 1.5, response: 1 }, "round"],
            [{ provider: "p", round: 1 }, "response"],
        ]) {
            await callError(srv, "POST", url, 400, "invalid_argument", { json: body, message: new RegExp(field) });
        }
        await callError(srv, "POST", url, 400, "invalid_json", { json: null });
        await callError(srv, "POST", `/v1/sessions/${randomUUID()}/responses`, 404, "session_not_found",
            { json: { provider: "p", round: 1, response: 1 } });
        ids.mainVersion = r2.body.version;
    });

    it("sets the consensus and completes (PUT .../consensus)", async () => {
        const url = `/v1/sessions/${ids.main}/consensus`;
        await callError(srv, "PUT", url, 412, "version_mismatch",
            { json: { decision: "x" }, headers: { "If-Match": '"2"' } });
        await callError(srv, "PUT", url, 400, "invalid_json", { json: ["not", "an", "object"] });
        const before = (await call(srv, "GET", "/v1/audit/head")).body.seq;
        const r = await call(srv, "PUT", url, { status: 200, json: { decision: "modular monolith", confidence: 0.8 } });
        assert.equal(r.body.status, "completed");
        assert.deepEqual(r.body.consensus, { decision: "modular monolith", confidence: 0.8 });
        const page = await call(srv, "GET", `/v1/events?after=${before}`, { status: 200 });
        assert.deepEqual(page.body.events.map((e) => [e.type, e.data]), [
            ["consensus_set", { consensus: { decision: "modular monolith", confidence: 0.8 } }],
            ["status_changed", { from: "in_progress", to: "completed" }],
        ]);
        // Final states stay final.
        await callError(srv, "PATCH", `/v1/sessions/${ids.main}`, 409, "invalid_transition",
            { json: { status: "in_progress" } });
        await callError(srv, "POST", `/v1/sessions/${ids.main}/fail`, 409, "invalid_transition",
            { json: { error: "too late" } });
        // A second consensus on a completed session replaces it without a status change.
        const again = await call(srv, "PUT", url, { status: 200, json: { decision: "revised" } });
        assert.equal(again.body.version, r.body.version + 1);
        await callError(srv, "PUT", `/v1/sessions/${randomUUID()}/consensus`, 404, "session_not_found",
            { json: {} });
    });

    it("fails sessions (POST .../fail)", async () => {
        const url = `/v1/sessions/${ids.plain}/fail`;
        await callError(srv, "POST", url, 400, "invalid_argument", { json: {}, message: /error/ });
        await callError(srv, "POST", url, 400, "invalid_argument", { json: { error: 1 }, message: /error/ });
        await callError(srv, "POST", url, 400, "invalid_json", { json: "boom" });
        await callError(srv, "POST", url, 412, "version_mismatch",
            { json: { error: "boom" }, headers: { "If-Match": '"7"' } });
        const r = await call(srv, "POST", url, { status: 200, json: { error: "provider timeout" } });
        assert.equal(r.body.status, "failed");
        assert.equal(r.body.error, "provider timeout");
        assert.equal(r.body.version, 2);
        const same = await call(srv, "POST", url, { status: 200, json: { error: "provider timeout" } });
        assert.equal(same.body.version, 2, "the same message again appends nothing");
        const other = await call(srv, "POST", url, { status: 200, json: { error: "quota exceeded" } });
        assert.equal(other.body.version, 3);
        assert.equal(other.body.error, "quota exceeded");
        await callError(srv, "PUT", `/v1/sessions/${ids.plain}/consensus`, 409, "invalid_transition",
            { json: { decision: "x" } });
        const events = await call(srv, "GET", `/v1/sessions/${ids.plain}/events`, { status: 200 });
        assert.deepEqual(events.body.events.map((e) => [e.type, e.data]), [
            ["created", { query: "defaults", mode: "full_deliberation", metadata: {} }],
            ["status_changed", { from: "pending", to: "failed", error: "provider timeout" }],
            ["error_set", { error: "quota exceeded" }],
        ]);
        await callError(srv, "POST", `/v1/sessions/${randomUUID()}/fail`, 404, "session_not_found",
            { json: { error: "x" } });
    });

    it("lists a session's events (GET .../events)", async () => {
        const res = await call(srv, "GET", `/v1/sessions/${ids.main}/events`, { status: 200 });
        const evs = res.body.events;
        assert.deepEqual(evs.map((e) => e.version), evs.map((_, i) => i + 1));
        assert.ok(evs.every((e) => e.session_id === ids.main));
        assert.equal(evs[0].type, "created");
        assert.deepEqual(evs[0].data, { query: "Should we use microservices or monolith?",
            mode: "quick_consensus", metadata: { team: "platform" } });
        for (let i = 1; i < evs.length; ++i) assert.ok(evs[i].seq > evs[i - 1].seq);
        const current = await call(srv, "GET", `/v1/sessions/${ids.main}`, { status: 200 });
        assert.equal(evs.length, current.body.version);
        await callError(srv, "GET", `/v1/sessions/${randomUUID()}/events`, 404, "session_not_found");
        await callError(srv, "GET", "/v1/sessions/nope/events", 404, "session_not_found",
            { message: "Session not found: nope" });
    });

    it("travels in time (GET ?at_seq=N)", async () => {
        const { body } = await call(srv, "GET", `/v1/sessions/${ids.main}/events`, { status: 200 });
        const created = body.events[0];
        const past = await call(srv, "GET", `/v1/sessions/${ids.main}?at_seq=${created.seq}`, { status: 200 });
        assert.equal(past.body.version, 1);
        assert.equal(past.body.status, "pending");
        assert.equal(past.headers.get("etag"), '"1"');
        const third = body.events[2];
        const mid = await call(srv, "GET", `/v1/sessions/${ids.main}?at_seq=${third.seq}`, { status: 200 });
        assert.equal(mid.body.version, 3);
        await callError(srv, "GET", `/v1/sessions/${ids.main}?at_seq=${created.seq - 1}`, 404,
            "session_not_found");
        await callError(srv, "GET", `/v1/sessions/${ids.main}?at_seq=0`, 404, "session_not_found");
        const future = await call(srv, "GET", `/v1/sessions/${ids.main}?at_seq=999999999`, { status: 200 });
        const now = await call(srv, "GET", `/v1/sessions/${ids.main}`, { status: 200 });
        assert.deepEqual(future.body, now.body);
    });

    it("pages through the global log (GET /v1/events)", async () => {
        const all = await call(srv, "GET", "/v1/events?limit=1000", { status: 200 });
        const evs = all.body.events;
        assert.equal(all.body.next, null);
        assert.deepEqual(evs.map((e) => e.seq), evs.map((_, i) => i + 1), "seq is gapless from 1");
        const head = await call(srv, "GET", "/v1/audit/head", { status: 200 });
        assert.equal(head.body.seq, evs.length);

        // Paging with next.
        const paged = [];
        let afterSeq = 0;
        for (;;) {
            const p = await call(srv, "GET", `/v1/events?after=${afterSeq}&limit=3`, { status: 200 });
            paged.push(...p.body.events);
            if (p.body.next === null) break;
            assert.equal(p.body.next, p.body.events.at(-1).seq);
            afterSeq = p.body.next;
        }
        assert.deepEqual(paged, evs);
        // Default page size is 100.
        const def = await call(srv, "GET", "/v1/events", { status: 200 });
        assert.equal(def.body.events.length, Math.min(100, evs.length));

        // Filters.
        const mine = await call(srv, "GET", `/v1/events?session_id=${ids.main}`, { status: 200 });
        assert.ok(mine.body.events.length > 0 && mine.body.events.every((e) => e.session_id === ids.main));
        const types = await call(srv, "GET", "/v1/events?type=created,deleted", { status: 200 });
        assert.deepEqual([...new Set(types.body.events.map((e) => e.type))].sort(), ["created", "deleted"]);
        const one = await call(srv, "GET", "/v1/events?type=status_changed&limit=1", { status: 200 });
        assert.equal(one.body.events.length, 1);
        assert.equal(one.body.events[0].type, "status_changed");
        assert.equal(one.body.next, one.body.events[0].seq);
        const tail = await call(srv, "GET", `/v1/events?after=${evs.length}`, { status: 200 });
        assert.deepEqual(tail.body, { events: [], next: null });

        for (const q of ["after=-1", "after=x", "limit=0", "limit=1001", "session_id=nope",
            "type=bogus", "type=created,", "after=%zz"]) {
            await callError(srv, "GET", `/v1/events?${q}`, 400, "invalid_argument");
        }
    });

    it("keeps a hash chain that ends at the audit head", async () => {
        const { events, raw } = await readLog(srv, 7);
        for (let i = 0; i < raw.length; ++i) {
            // The raw envelope is the event's JSON, keys in the canonical order.
            assert.deepEqual(JSON.parse(raw[i]), events[i]);
            assert.deepEqual(Object.keys(JSON.parse(raw[i])),
                ["seq", "event_id", "session_id", "version", "type", "at", "data"]);
        }
        const head = await call(srv, "GET", "/v1/audit/head", { status: 200 });
        assert.equal(head.body.seq, events.length);
        assert.equal(head.body.hash, chainHead(raw));
    });

    it("lists sessions newest first with cursors (GET /v1/sessions)", async () => {
        for (let i = 0; i < 4; ++i) {
            await call(srv, "POST", "/v1/sessions", { status: 201, json: { query: `list ${i}` } });
        }
        const all = await call(srv, "GET", "/v1/sessions?limit=1000", { status: 200 });
        assert.equal(all.body.next, null);
        const list = all.body.sessions;
        for (let i = 1; i < list.length; ++i) {
            assert.ok(list[i - 1].created_at >= list[i].created_at, "newest first");
        }
        assert.equal(list[0].query, "list 3");
        const stats = await call(srv, "GET", "/v1/stats", { status: 200 });
        assert.equal(stats.body.total_sessions, list.length);

        const paged = [];
        let cursor = null;
        for (;;) {
            const q = cursor === null ? "limit=2" : `limit=2&after=${encodeURIComponent(cursor)}`;
            const p = await call(srv, "GET", `/v1/sessions?${q}`, { status: 200 });
            assert.ok(p.body.sessions.length <= 2);
            paged.push(...p.body.sessions);
            if (p.body.next === null) break;
            cursor = p.body.next;
        }
        assert.deepEqual(paged.map((s) => s.session_id), list.map((s) => s.session_id));

        const completed = await call(srv, "GET", "/v1/sessions?status=completed", { status: 200 });
        assert.deepEqual(completed.body.sessions.map((s) => s.session_id), [ids.main]);
        const failed = await call(srv, "GET", "/v1/sessions?status=failed", { status: 200 });
        assert.deepEqual(failed.body.sessions.map((s) => s.session_id), [ids.plain]);
        const withExpired = await call(srv, "GET", "/v1/sessions?include_expired=true&limit=1000", { status: 200 });
        assert.equal(withExpired.body.sessions.length, list.length);

        for (const q of ["status=done", "limit=0", "limit=1001", "limit=x", "after=garbage",
            "include_expired=maybe", "after="]) {
            await callError(srv, "GET", `/v1/sessions?${q}`, 400, "invalid_argument");
        }
    });

    it("counts sessions (GET /v1/stats)", async () => {
        const list = (await call(srv, "GET", "/v1/sessions?limit=1000", { status: 200 })).body.sessions;
        const ended = (await call(srv, "GET", "/v1/sessions?state=ended&limit=1000", { status: 200 }))
            .body.sessions;
        const s = (await call(srv, "GET", "/v1/stats", { status: 200 })).body;
        expectSchema("Stats", s);
        const count = (st) => list.filter((x) => x.status === st).length;
        const endedBy = (reason) => ended.filter((x) => x.ended.reason === reason).length;
        assert.deepEqual(s, {
            total_sessions: list.length, active_sessions: list.length, expired_sessions: 0,
            by_status: { pending: count("pending"), in_progress: count("in_progress"),
                completed: count("completed"), failed: count("failed") },
            ended_sessions: { deleted: endedBy("deleted"), expired: endedBy("expired") },
            ttl_hours: 24,
        });
    });

    it("deletes sessions (DELETE)", async () => {
        const created = await call(srv, "POST", "/v1/sessions", { status: 201, json: { query: "delete me" } });
        const id = created.body.session_id;
        const url = `/v1/sessions/${id}`;
        await callError(srv, "DELETE", url, 412, "version_mismatch", { headers: { "If-Match": '"5"' } });
        await callError(srv, "DELETE", url, 400, "invalid_argument", { headers: { "If-Match": "five" } });
        const del = await call(srv, "DELETE", url, { status: 204, headers: { "If-Match": '"1"' } });
        assert.equal(del.text, "");
        await callError(srv, "GET", url, 404, "session_not_found", { message: `Session not found: ${id}` });
        await callError(srv, "DELETE", url, 404, "session_not_found");
        await callError(srv, "PATCH", url, 404, "session_not_found", { json: { status: "failed" } });
        const events = await call(srv, "GET", `${url}/events`, { status: 200 });
        assert.deepEqual(events.body.events.map((e) => [e.type, e.data, e.version]),
            [["created", { query: "delete me", mode: "full_deliberation", metadata: {} }, 1],
                ["deleted", {}, 2]]);
        const past = await call(srv, "GET", `${url}?at_seq=${events.body.events[0].seq}`, { status: 200 });
        assert.equal(past.body.session_id, id);
        await callError(srv, "GET", `${url}?at_seq=${events.body.events[1].seq}`, 404, "session_not_found");
        const list = (await call(srv, "GET", "/v1/sessions?limit=1000&include_expired=true")).body.sessions;
        assert.ok(!list.some((s) => s.session_id === id));

        // Listed as a past session: its last state and its ending (validated as PastSession).
        const ended = (await call(srv, "GET", `/v1/sessions?state=ended&q=${id}`, { status: 200 })).body;
        assert.equal(ended.sessions.length, 1);
        const pastSession = ended.sessions[0];
        expectSchema("PastSession", pastSession);
        assert.equal(pastSession.session_id, id);
        assert.equal(pastSession.version, 1);
        assert.deepEqual(pastSession.ended,
            { reason: "deleted", at: events.body.events[1].at, seq: events.body.events[1].seq });
        const all = (await call(srv, "GET", `/v1/sessions?state=all&q=${id.slice(0, 8).toUpperCase()}`,
            { status: 200 })).body.sessions;
        assert.deepEqual(all.map((x) => x.session_id), [id]);
        const stats = (await call(srv, "GET", "/v1/stats", { status: 200 })).body;
        assert.ok(stats.ended_sessions.deleted >= 1);
    });

    it("filters sessions, live and ended (GET /v1/sessions)", async () => {
        const make = async (json) =>
            (await call(srv, "POST", "/v1/sessions", { status: 201, json })).body;
        const a = await make({ query: "Filter ALPHA zqxprobe", mode: "quick_consensus",
            metadata: { team: "filters", n: 7, ok: true } });
        const b = await make({ query: "filter beta zqxprobe", mode: "devils_advocate",
            metadata: { team: "filters" } });
        await call(srv, "DELETE", `/v1/sessions/${b.session_id}`, { status: 204 });
        const ids = async (q) =>
            (await call(srv, "GET", `/v1/sessions?${q}`, { status: 200 })).body.sessions
                .map((x) => x.session_id);
        assert.deepEqual(await ids("q=filter+alpha"), [a.session_id]);
        assert.deepEqual(await ids("q=filter+beta"), []);
        assert.deepEqual(await ids("state=all&q=ZQXPROBE"), [b.session_id, a.session_id]);
        assert.deepEqual(await ids("state=ended&metadata.team=filters"), [b.session_id]);
        assert.deepEqual(await ids("state=all&metadata.team=filters&metadata.n=7&metadata.ok=true"),
            [a.session_id]);
        assert.deepEqual(await ids("state=all&mode=devils_advocate&metadata.team=filters"), [b.session_id]);
        assert.deepEqual(await ids("state=all&status=pending&metadata.team=filters"),
            [b.session_id, a.session_id]);
        assert.deepEqual(await ids(`state=all&metadata.team=filters&created_after=${a.created_at}`),
            b.created_at > a.created_at ? [b.session_id] : []);
        assert.deepEqual(await ids(`state=all&metadata.team=filters&created_before=${b.created_at}`),
            b.created_at > a.created_at ? [a.session_id] : []);
        const page = await call(srv, "GET", "/v1/sessions?state=all&metadata.team=filters&limit=1",
            { status: 200 });
        assert.notEqual(page.body.next, null);
        assert.deepEqual(await ids(`state=all&metadata.team=filters&limit=1&after=${page.body.next}`),
            [a.session_id]);
        for (const q of ["state=gone", "mode=fast", "created_after=yesterday",
            "created_before=2026-13-01T00:00:00Z", `q=${"x".repeat(201)}`, "metadata.=x",
            "metadata.a=1&metadata.b=1&metadata.c=1&metadata.d=1&metadata.e=1"]) {
            await callError(srv, "GET", `/v1/sessions?${q}`, 400, "invalid_argument");
        }
    });

    it("refuses webhook URLs on private addresses (no --allow-private-webhooks)", async () => {
        const head = (await call(srv, "GET", "/v1/audit/head")).body.seq;
        for (const url of ["http://127.0.0.1:9/hook", "http://10.0.0.8/hook", "http://[::1]/hook",
            "http://169.254.169.254/latest/meta-data", "http://localhost:9/hook"]) {
            await callError(srv, "POST", "/v1/webhooks", 400, "invalid_argument",
                { json: { url }, message: /^url: / });
        }
        assert.equal((await call(srv, "GET", "/v1/audit/head")).body.seq, head,
            "a refused registration must append nothing");
        assert.deepEqual((await call(srv, "GET", "/v1/webhooks", { status: 200 })).body, { webhooks: [] });
    });

    it("answers unknown routes with 404 and wrong methods with 405 and Allow", async () => {
        await callError(srv, "GET", "/v1/nope", 404, "not_found");
        await callError(srv, "GET", "/v1", 404, "not_found");
        await callError(srv, "GET", "/v1/sessions/a/b/c", 404, "not_found");
        await callError(srv, "DELETE", "/v1/stats", 405, "method_not_allowed");
        await callError(srv, "PUT", "/v1/sessions", 405, "method_not_allowed");
        await callError(srv, "POST", `/v1/sessions/${ids.main}`, 405, "method_not_allowed");
        await callError(srv, "POST", `/v1/sessions/${ids.main}/events`, 405, "method_not_allowed");
        await callError(srv, "GET", `/v1/sessions/${ids.main}/consensus`, 405, "method_not_allowed");
        await callError(srv, "GET", `/v1/sessions/${ids.main}/fail`, 405, "method_not_allowed");
        await callError(srv, "POST", "/v1/events", 405, "method_not_allowed");
        await callError(srv, "POST", "/v1/audit/head", 405, "method_not_allowed");
        await callError(srv, "POST", "/healthz", 405, "method_not_allowed");
        await callError(srv, "DELETE", "/readyz", 405, "method_not_allowed");
        await callError(srv, "POST", "/metrics", 405, "method_not_allowed");
        await callError(srv, "POST", "/", 405, "method_not_allowed");
    });

    it("answers malformed HTTP with bad_request and huge headers with header_too_large", async () => {
        const bad = await rawHttp(srv, "GARBAGE\r\n\r\n");
        assertNamed("BadHttp", 400, bad);
        assert.equal(bad.body.error.code, "bad_request");
        const big = await rawHttp(srv, `GET /v1/stats HTTP/1.1\r\nHost: localhost\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
        assertNamed("HeaderTooLarge", 431, big);
        assert.equal(big.body.error.code, "header_too_large");
        // The server is unharmed.
        await call(srv, "GET", "/healthz", { status: 200 });
    });

    it("serves Prometheus metrics", async () => {
        const m = await call(srv, "GET", "/metrics", { status: 200 });
        for (const family of ["quorum_http_requests_total", "quorum_http_request_duration_seconds",
            "quorum_http_open_connections", "quorum_events_appended_total", "quorum_log_head_seq",
            "quorum_sessions", "quorum_ready"]) {
            assert.match(m.text, new RegExp(`^# TYPE ${family} `, "m"), family);
        }
        const sample =
            /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (-?[0-9.]+([eE][+-]?[0-9]+)?|NaN|[+-]Inf)$/;
        for (const line of m.text.split("\n")) {
            if (line === "" || line.startsWith("#")) continue;
            assert.match(line, sample, `not a Prometheus sample line: ${line}`);
        }
        const head = (await call(srv, "GET", "/v1/audit/head")).body.seq;
        assert.match(m.text, new RegExp(`^quorum_log_head_seq ${head}$`, "m"));
        assert.match(m.text, /^quorum_ready 1$/m);
    });

    // ---- MCP ----

    it("opens MCP sessions (POST /mcp initialize) and negotiates the protocol version", async () => {
        mcp.session = await mcpOpen(srv);
        const init = await mcpRequest(srv, null, "initialize", { protocolVersion: "2025-11-25",
            capabilities: {}, clientInfo: { name: "c", version: "1" } });
        assert.deepEqual(init.body.result.capabilities,
            { tools: { listChanged: false }, resources: { subscribe: true, listChanged: false } });
        assert.equal(init.body.result.serverInfo.name, "quorum");
        for (const version of ["2025-06-18", "2025-03-26"]) {
            const r = await mcpResult(srv, null, "initialize", { protocolVersion: version,
                capabilities: {}, clientInfo: { name: "c", version: "1" } });
            assert.equal(r.protocolVersion, version);
        }
        const newest = await mcpResult(srv, null, "initialize", { protocolVersion: "2024-11-05",
            capabilities: {}, clientInfo: { name: "c", version: "1" } });
        assert.equal(newest.protocolVersion, "2025-11-25");
        assert.deepEqual(await mcpResult(srv, mcp.session, "ping"), {});
        // Any supported MCP-Protocol-Version may be sent, not only the one agreed.
        assert.deepEqual(await mcpResult(srv, mcp.session, "ping", undefined,
            { headers: { "mcp-protocol-version": "2025-03-26" } }), {});

        // A client that accepts only an event stream gets the response as one SSE event.
        const sse = await call(srv, "POST", "/mcp", { status: 200,
            json: { jsonrpc: "2.0", id: "sse-1", method: "ping" },
            headers: { accept: "text/event-stream", "mcp-session-id": mcp.session } });
        assert.match(sse.headers.get("content-type"), /^text\/event-stream/);
        const m = /^event: message\ndata: (.*)\n\n$/.exec(sse.text);
        assert.ok(m, `one SSE event: ${JSON.stringify(sse.text)}`);
        assert.deepEqual(JSON.parse(m[1]), { jsonrpc: "2.0", id: "sse-1", result: {} });
    });

    it("lists and calls the MCP tools, with the REST API's errors as isError results", async () => {
        const { tools } = await mcpResult(srv, mcp.session, "tools/list");
        expectSchema("McpToolList", { tools });
        assert.deepEqual(tools.map((t) => t.name).sort(), ["add_response", "create_session",
            "delete_session", "fail_session", "get_session", "get_stats", "list_sessions",
            "session_events", "set_consensus", "update_session"]);

        const created = await mcpTool(srv, mcp.session, "create_session",
            { query: "Over MCP?", mode: "devils_advocate", metadata: { via: "mcp" } });
        expectSchema("Session", created);
        assert.equal(created.mode, "devils_advocate");
        mcp.sid = created.session_id;
        // The same session over REST.
        assert.deepEqual((await call(srv, "GET", `/v1/sessions/${mcp.sid}`, { status: 200 })).body, created);

        for (const [provider, round] of [["claude", 1], ["gpt", 1], ["claude", 2]]) {
            await mcpTool(srv, mcp.session, "add_response",
                { session_id: mcp.sid, provider, round, response: { text: `${provider} ${round}` } });
        }
        const read = await mcpTool(srv, mcp.session, "get_session", { session_id: mcp.sid });
        assert.deepEqual(read.provider_responses,
            { claude: { 1: { text: "claude 1" }, 2: { text: "claude 2" } }, gpt: { 1: { text: "gpt 1" } } });
        assert.equal(read.version, 4);
        const past = await mcpTool(srv, mcp.session, "get_session",
            { session_id: mcp.sid, at_seq: (await call(srv, "GET", "/v1/audit/head")).body.seq - 2 });
        assert.equal(past.version, 2);

        const updated = await mcpTool(srv, mcp.session, "update_session",
            { session_id: mcp.sid, status: "in_progress", if_version: 4 });
        assert.equal(updated.status, "in_progress");
        await mcpToolError(srv, mcp.session, "update_session",
            { session_id: mcp.sid, metadata: {}, if_version: 1 }, "version_mismatch");
        const done = await mcpTool(srv, mcp.session, "set_consensus",
            { session_id: mcp.sid, consensus: { decision: "yes" } });
        assert.equal(done.status, "completed");
        await mcpToolError(srv, mcp.session, "fail_session", { session_id: mcp.sid, error: "late" },
            "invalid_transition", "Invalid status transition: completed -> failed");
        await mcpToolError(srv, mcp.session, "update_session", { session_id: mcp.sid, query: "x" },
            "field_not_updatable", FIELD_NOT_UPDATABLE("query"));
        await mcpToolError(srv, mcp.session, "create_session", { query: "  " }, "invalid_argument", /query/);
        await mcpToolError(srv, mcp.session, "add_response",
            { session_id: mcp.sid, provider: "x", round: 0, response: 1 }, "invalid_argument", /round/);
        await mcpToolError(srv, mcp.session, "get_session", { session_id: NIL_UUID }, "session_not_found",
            `Session not found: ${NIL_UUID}`);

        const history = await mcpTool(srv, mcp.session, "session_events", { session_id: mcp.sid });
        const rest = (await call(srv, "GET", `/v1/sessions/${mcp.sid}/events`, { status: 200 })).body;
        assert.deepEqual(history.events, rest.events);
        const stats = await mcpTool(srv, mcp.session, "get_stats", {});
        assert.deepEqual(stats, (await call(srv, "GET", "/v1/stats", { status: 200 })).body);
        const page = await mcpTool(srv, mcp.session, "list_sessions", { status: "completed", limit: 1 });
        expectSchema("SessionList", page);
        assert.equal(page.sessions[0].session_id, mcp.sid);
        await mcpToolError(srv, mcp.session, "list_sessions", { limit: 0 }, "invalid_argument", /limit/);

        const victim = await mcpTool(srv, mcp.session, "create_session", { query: "to delete over MCP" });
        assert.deepEqual(await mcpTool(srv, mcp.session, "delete_session", { session_id: victim.session_id }),
            { deleted: true, session_id: victim.session_id });
        await mcpToolError(srv, mcp.session, "delete_session", { session_id: victim.session_id },
            "session_not_found");
        await callError(srv, "GET", `/v1/sessions/${victim.session_id}`, 404, "session_not_found");

        // Protocol errors: an unknown tool or method, params of the wrong shape.
        await mcpRpcError(srv, mcp.session, "tools/call", { name: "no_such_tool", arguments: {} }, -32602);
        await mcpRpcError(srv, mcp.session, "prompts/list", {}, -32601);
        await mcpRpcError(srv, mcp.session, "logging/setLevel", { level: "info" }, -32601);
    });

    it("serves sessions as MCP resources", async () => {
        const templates = await mcpResult(srv, mcp.session, "resources/templates/list");
        expectSchema("McpResourceTemplateList", templates);
        const uri = `quorum://sessions/${mcp.sid}`;
        const read = await mcpResult(srv, mcp.session, "resources/read", { uri });
        expectSchema("McpReadResourceResult", read);
        assert.equal(read.contents[0].uri, uri);
        assert.deepEqual(JSON.parse(read.contents[0].text),
            (await call(srv, "GET", `/v1/sessions/${mcp.sid}`, { status: 200 })).body);
        await mcpRpcError(srv, mcp.session, "resources/read", { uri: `quorum://sessions/${NIL_UUID}` }, -32002);
        await mcpRpcError(srv, mcp.session, "resources/read", { uri: "file:///etc/passwd" }, -32002);

        const list = await mcpResult(srv, mcp.session, "resources/list");
        expectSchema("McpResourceList", list);
        const rest = (await call(srv, "GET", "/v1/sessions?limit=1000", { status: 200 })).body.sessions;
        assert.deepEqual(list.resources.slice(0, rest.length).map((r) => r.uri),
            rest.slice(0, list.resources.length).map((s) => `quorum://sessions/${s.session_id}`));
    });

    it("notifies subscribers on the GET /mcp stream and resumes with Last-Event-ID", async () => {
        const stream = await mcpStream(srv, mcp.session);
        assert.equal(stream.status, 200);
        assert.match(stream.headers.get("content-type"), /^text\/event-stream/);
        const head = (await call(srv, "GET", "/v1/audit/head")).body.seq;
        const priming = await stream.next("the priming event", (e) => e.id !== undefined);
        assert.equal(priming.id, String(head));

        const target = await mcpTool(srv, mcp.session, "create_session", { query: "watched" });
        const uri = `quorum://sessions/${target.session_id}`;
        assert.deepEqual(await mcpResult(srv, mcp.session, "resources/subscribe", { uri }), {});
        // A change made over REST reaches the subscriber, with the event's seq as the SSE id.
        const patched = await call(srv, "PATCH", `/v1/sessions/${target.session_id}`,
            { status: 200, json: { status: "in_progress" } });
        const seq = Number(patched.headers.get("quorum-seq") ??
            (await call(srv, "GET", "/v1/audit/head")).body.seq);
        const first = await stream.next("the notification", (e) => updatedFor(e, target.session_id));
        assert.equal(first.id, String(seq));
        // Other sessions' events are not sent.
        await call(srv, "POST", "/v1/sessions", { status: 201, json: { query: "unwatched" } });
        await stream.close();
        assert.ok(!stream.events.some((e) => e.data && !updatedFor(e, target.session_id) && e.event === "message"));

        // While no stream is open, two events; a new stream with Last-Event-ID gets both, in order.
        await mcpTool(srv, mcp.session, "add_response",
            { session_id: target.session_id, provider: "p", round: 1, response: 1 });
        await call(srv, "POST", `/v1/sessions/${target.session_id}/fail`, { status: 200, json: { error: "x" } });
        const events = (await call(srv, "GET", `/v1/sessions/${target.session_id}/events`)).body.events;
        const resumed = await mcpStream(srv, mcp.session, { headers: { "last-event-id": first.id } });
        const expected = events.filter((e) => e.seq > seq).map((e) => String(e.seq));
        assert.equal(expected.length, 2);
        await resumed.next("the missed notifications",
            () => resumed.events.filter((e) => updatedFor(e, target.session_id)).length >= 2);
        assert.deepEqual(resumed.events.filter((e) => updatedFor(e, target.session_id)).map((e) => e.id), expected);

        // One GET stream per MCP session: a newer one ends the older.
        const newer = await mcpStream(srv, mcp.session);
        await resumed.ended();
        await resumed.close();
        // Unsubscribed: nothing more is sent for that session.
        assert.deepEqual(await mcpResult(srv, mcp.session, "resources/unsubscribe", { uri }), {});
        await newer.close();
    });

    it("refuses malformed MCP requests with the transport's statuses", async () => {
        const s = mcp.session;
        const json = "application/json";
        await mcpRefused(srv, 400, -32700, { body: "{nope", headers: mcpHeaders(s, { "content-type": json }) });
        await mcpRefused(srv, 400, -32600, { json: [{ jsonrpc: "2.0", id: 1, method: "ping" }], headers: mcpHeaders(s) });
        await mcpRefused(srv, 400, -32600, { json: { jsonrpc: "1.0", id: 1, method: "ping" }, headers: mcpHeaders(s) });
        await mcpRefused(srv, 400, -32600, { json: { jsonrpc: "2.0", id: 1, method: "ping" }, headers: mcpHeaders(null) });
        await mcpRefused(srv, 400, -32600, { json: { jsonrpc: "2.0", id: 1, method: "ping" },
            headers: mcpHeaders(s, { "mcp-protocol-version": "1999-01-01" }) });
        await mcpRefused(srv, 404, -32001, { json: { jsonrpc: "2.0", id: 1, method: "ping" },
            headers: mcpHeaders("q1.forged.session") });
        await mcpRefused(srv, 406, -32600, { json: { jsonrpc: "2.0", id: 1, method: "ping" },
            headers: { accept: "text/html", "mcp-session-id": s } });
        await mcpRefused(srv, 415, -32600, { body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
            headers: mcpHeaders(s, { "content-type": "text/plain" }) });
        // GET: no session, an unknown one, no event stream in Accept.
        assert.equal((await mcpStream(srv, null)).status, 400);
        assert.equal((await mcpStream(srv, "q1.forged.session")).status, 404);
        assert.equal((await mcpStream(srv, s, { headers: { "last-event-id": "yesterday" } })).status, 400);
        const notSse = await call(srv, "GET", "/mcp", { headers: { accept: "application/json", "mcp-session-id": s } });
        assert.equal(notSse.status, 406);
        // DELETE without a session id, with a forged one.
        await mcpRefused(srv, 400, -32600, { method: "DELETE", headers: {} });
        await mcpRefused(srv, 404, -32001, { method: "DELETE", headers: { "mcp-session-id": "q1.forged.session" } });
        // Cross-site pages may not call tools, open the stream or end sessions.
        const evil = { origin: "http://evil.example" };
        for (const method of ["POST", "DELETE"]) {
            const res = await mcpRefused(srv, 403, undefined, { method,
                json: method === "POST" ? { jsonrpc: "2.0", id: 1, method: "ping" } : undefined,
                headers: mcpHeaders(s, evil) });
            assert.equal(res.body.error.code, "forbidden_origin");
        }
        const cross = await mcpStream(srv, s, { headers: evil });
        assert.equal(cross.status, 403);
        assert.equal(cross.body.error.code, "forbidden_origin");
        // Other methods.
        await callError(srv, "PUT", "/mcp", 405, "method_not_allowed", { json: {} });
    });

    it("ends MCP sessions (DELETE /mcp)", async () => {
        const session = await mcpOpen(srv);
        const stream = await mcpStream(srv, session);
        const del = await call(srv, "DELETE", "/mcp", { status: 204, headers: { "mcp-session-id": session } });
        assert.equal(del.text, "");
        await stream.ended();
        await stream.close();
        await mcpRefused(srv, 404, -32001, { json: { jsonrpc: "2.0", id: 1, method: "ping" }, headers: mcpHeaders(session) });
        await mcpRefused(srv, 404, -32001, { method: "DELETE", headers: { "mcp-session-id": session } });
    });

    it("replays the log to the same state after a restart", async () => {
        const sessionsBefore = (await call(srv, "GET", "/v1/sessions?limit=1000&include_expired=true")).body;
        const headBefore = (await call(srv, "GET", "/v1/audit/head")).body;
        const statsBefore = (await call(srv, "GET", "/v1/stats")).body;
        const stopped = await srv.stop();
        assert.deepEqual(stopped, { code: 0, signal: null }, `clean exit on SIGTERM:\n${srv.output}`);
        await srv.start();
        assert.deepEqual((await call(srv, "GET", "/v1/audit/head", { status: 200 })).body, headBefore);
        assert.deepEqual((await call(srv, "GET", "/v1/sessions?limit=1000&include_expired=true",
            { status: 200 })).body, sessionsBefore);
        assert.deepEqual((await call(srv, "GET", "/v1/stats", { status: 200 })).body, statsBefore);
        // Idempotency keys survive the restart too.
        const { events } = await readLog(srv);
        const again = await call(srv, "POST", "/v1/sessions", { status: 201, json: { query: "x" },
            headers: { "Idempotency-Key": "after-restart" } });
        const repeat = await call(srv, "POST", "/v1/sessions", { status: 201, json: { query: "x" },
            headers: { "Idempotency-Key": "after-restart" } });
        assert.equal(repeat.body.session_id, again.body.session_id);
        assert.equal((await readLog(srv)).events.length, events.length + 1);
    });

    it("keeps MCP sessions across a restart (stateless signed ids)", async () => {
        // The restart above kept the key file: the session opened before it still works.
        const stats = await mcpTool(srv, mcp.session, "get_stats", {});
        assert.deepEqual(stats, (await call(srv, "GET", "/v1/stats", { status: 200 })).body);
    });
});

function assertNamed(name, status, res) {
    const problems = checker.checkNamed(name, status, res);
    if (problems.length > 0) assert.fail(`${name}:\n  ${problems.join("\n  ")}\n${truncate(res.raw ?? res.text)}`);
}

// ---- MCP (/mcp): JSON-RPC over Streamable HTTP -------------------------------------------------

const MCP_ACCEPT = "application/json, text/event-stream";
let mcpRequestId = 0;

/// Checks `value` against a schema of components/schemas.
function expectSchema(name, value) {
    const validate = checker.compile({ $ref: `#/components/schemas/${name}` });
    if (!validate(value)) {
        assert.fail(`${name}: ${checker.ajv.errorsText(validate.errors, { separator: "; " })}` +
            ` (value: ${truncate(JSON.stringify(value))})`);
    }
}

/// Headers of an MCP request: Accept, and the session id when given.
function mcpHeaders(session, headers = {}) {
    const h = { accept: MCP_ACCEPT, ...headers };
    if (session) h["mcp-session-id"] = session;
    return h;
}

/// POST /mcp with one JSON-RPC request (checked against the document). With status 200 (the
/// default), the answer must be the response to this request.
async function mcpRequest(srv, session, method, params, opts = {}) {
    const message = { jsonrpc: "2.0", id: ++mcpRequestId, method };
    if (params !== undefined) message.params = params;
    const res = await call(srv, "POST", "/mcp", { json: message, headers: mcpHeaders(session, opts.headers),
        token: opts.token, status: opts.status ?? 200 });
    if (res.status === 200) {
        assert.equal(res.body?.jsonrpc, "2.0", truncate(res.text));
        assert.equal(res.body.id, message.id, truncate(res.text));
    }
    return res;
}

/// A request whose JSON-RPC result is returned (a JSON-RPC error fails the test).
async function mcpResult(srv, session, method, params, opts = {}) {
    const res = await mcpRequest(srv, session, method, params, opts);
    assert.ok(res.body.result !== undefined, `${method}: ${truncate(res.text)}`);
    return res.body.result;
}

/// A request that must fail with the JSON-RPC error `code` inside a 200 answer.
async function mcpRpcError(srv, session, method, params, code, opts = {}) {
    const res = await mcpRequest(srv, session, method, params, opts);
    assert.equal(res.body.error?.code, code, `${method}: ${truncate(res.text)}`);
    return res.body.error;
}

/// tools/call: the CallToolResult, checked (schema, text = JSON of structuredContent, isError).
async function mcpTool(srv, session, name, args, { isError = false, ...opts } = {}) {
    const result = await mcpResult(srv, session, "tools/call", { name, arguments: args }, opts);
    expectSchema("McpToolResult", result);
    assert.deepEqual(JSON.parse(result.content[0].text), result.structuredContent);
    assert.equal(result.isError, isError, `${name}: ${truncate(JSON.stringify(result))}`);
    return result.structuredContent;
}

/// A tool call that must be a domain error: an isError result with the REST error object.
async function mcpToolError(srv, session, name, args, code, message, opts = {}) {
    const value = await mcpTool(srv, session, name, args, { ...opts, isError: true });
    expectSchema("Error", value);
    assert.equal(value.error.code, code, JSON.stringify(value));
    if (message instanceof RegExp) assert.match(value.error.message, message);
    else if (message !== undefined) assert.equal(value.error.message, message);
    return value;
}

/// initialize + notifications/initialized: the new session id.
async function mcpOpen(srv, opts = {}) {
    const res = await mcpRequest(srv, null, "initialize", {
        protocolVersion: opts.protocolVersion ?? "2025-11-25", capabilities: {},
        clientInfo: { name: "contract-test", version: "1" },
    }, opts);
    expectSchema("McpInitializeResult", res.body.result);
    const session = res.headers.get("mcp-session-id");
    assert.match(session ?? "", /^[\x21-\x7e]+$/, "initialize answers with Mcp-Session-Id");
    const ack = await call(srv, "POST", "/mcp", { json: { jsonrpc: "2.0", method: "notifications/initialized" },
        headers: mcpHeaders(session, opts.headers), token: opts.token, status: 202 });
    assert.equal(ack.text, "");
    return session;
}

/// A POST /mcp that the transport refuses: `status` and, for JSON-RPC refusals, `rpcCode`.
async function mcpRefused(srv, status, rpcCode, opts) {
    const res = await call(srv, opts.method ?? "POST", "/mcp", { ...opts, status });
    if (rpcCode !== undefined) {
        assert.equal(res.body?.jsonrpc, "2.0", truncate(res.text));
        assert.equal(res.body.id, null, truncate(res.text));
        assert.equal(res.body.error?.code, rpcCode, truncate(res.text));
    }
    return res;
}

/// GET /mcp as an SSE stream. Resolves once the response head is in: {status, headers, events,
/// next(predicate), close()}; a refusal (not 200) is read whole and checked at once.
async function mcpStream(srv, session, { headers = {}, token = true } = {}) {
    const h = { accept: "text/event-stream", ...headers };
    if (session) h["mcp-session-id"] = session;
    if (srv.token && token && !Object.keys(h).some((k) => k.toLowerCase() === "authorization")) {
        h.authorization = `Bearer ${srv.token}`;
    }
    const abort = new AbortController();
    const res = await fetch(`${srv.url}/mcp`, { headers: h, signal: abort.signal });
    if (res.status !== 200) {
        const text = await res.text();
        let body;
        try {
            body = JSON.parse(text);
        } catch {
            body = undefined;
        }
        const out = { status: res.status, headers: res.headers, text, body, method: "GET" };
        expectDocumented("GET", "/mcp", out);
        return out;
    }
    const stream = { status: 200, headers: res.headers, text: "", events: [], comments: 0,
        closed: false };
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let pending = "";
    const pump = (async () => {
        try {
            for (;;) {
                const { done, value } = await reader.read();
                if (done) break;
                const chunk = decoder.decode(value, { stream: true });
                stream.text += chunk;
                pending += chunk;
                for (let end = pending.indexOf("\n\n"); end >= 0; end = pending.indexOf("\n\n")) {
                    const block = pending.slice(0, end);
                    pending = pending.slice(end + 2);
                    const event = { id: undefined, event: undefined, data: undefined };
                    let fields = 0;
                    for (const line of block.split("\n")) {
                        if (line.startsWith(":")) {
                            ++stream.comments;
                            continue;
                        }
                        const colon = line.indexOf(":");
                        const name = colon < 0 ? line : line.slice(0, colon);
                        let value = colon < 0 ? "" : line.slice(colon + 1);
                        if (value.startsWith(" ")) value = value.slice(1);
                        ++fields;
                        if (name === "data") event.data = event.data === undefined ? value : `${event.data}\n${value}`;
                        else event[name] = value;
                    }
                    if (fields > 0) stream.events.push(event);
                }
            }
        } catch {
            // aborted by close()
        } finally {
            stream.closed = true;
        }
    })();
    stream.next = (what, predicate, ms = 10_000) =>
        waitFor(what, () => stream.events.find(predicate) ?? (stream.closed && assert.fail(
            `the stream ended while waiting for ${what}: ${truncate(stream.text)}`)), ms);
    stream.close = async () => {
        abort.abort();
        await pump;
        expectDocumented("GET", "/mcp", { status: 200, headers: res.headers, text: stream.text, method: "GET" });
    };
    stream.ended = () => waitFor("the stream to end", () => stream.closed);
    return stream;
}

/// The notification an SSE event of the GET stream carries for `sessionId`, or undefined.
function updatedFor(event, sessionId) {
    if (event.event !== "message" || !event.data) return undefined;
    const message = JSON.parse(event.data);
    expectSchema("McpResourceUpdated", message);
    return message.params.uri === `quorum://sessions/${sessionId}` ? message : undefined;
}

// ---- server B: token, small bodies, a one-second TTL ------------------------------------------

describe("server B (--token, --max-body-bytes 1024, --ttl-seconds 1)", () => {
    const TOKEN = "s3cret-token";
    const READ_TOKEN = "read-only-token";
    let tmp;
    let srv;
    const mcpB = {};

    before(async () => {
        tmp = await makeTempDir("contract-b");
        const web = path.join(tmp, "empty-web");
        await mkdir(web);
        const tokens = path.join(tmp, "tokens");
        const digest = createHash("sha256").update(READ_TOKEN).digest("hex");
        await writeFile(tokens, `# contract test\nreader read sha256:${digest}\n`);
        srv = new Server("server B", {
            dataDir: path.join(tmp, "data"),
            token: TOKEN,
            extraArgs: ["--token", TOKEN, "--tokens-file", tokens, "--max-body-bytes", "1024",
                "--ttl-seconds", "1", "--cleanup-interval", "4", "--web-root", web,
                "--mcp-max-streams", "1"],
        });
        await srv.start();
    });

    after(async () => {
        try {
            if (srv) await srv.stop();
        } finally {
            await removeTempDir(tmp);
        }
    });

    it("answers 403 forbidden when the token's scope is too narrow", async () => {
        const someId = randomUUID();
        const reader = { authorization: `Bearer ${READ_TOKEN}` };
        let checked = 0;
        for (const { template, method, op } of checker.operations()) {
            if (!op.responses?.["403"]) continue;
            if (template === "/mcp") continue;  // there 403 is the Origin rule; MCP's scopes are tool results
            let target = template.replace("{id}", someId);
            // A read token may list the log, but not the registry events in it.
            if (template === "/v1/events") target += "?type=webhook_registered";
            const json = op.requestBody ? {} : undefined;
            const res = await callError(srv, method, target, 403, "forbidden",
                { json, headers: reader });
            assert.match(res.body.error.message, /needs? the '(write|admin)' scope/);
            ++checked;
        }
        assert.ok(checked >= 13, `${checked} operations document 403`);
        // What read may do, it does; the stream's tickets too.
        await call(srv, "GET", "/v1/events", { status: 200, headers: reader });
        const ticket = await call(srv, "POST", "/v1/stream/tickets", { status: 201, headers: reader });
        assert.equal(ticket.body.expires_in, 30);
        assert.equal(ticket.headers.get("cache-control"), "no-store");
    });

    it("asks /mcp for the token and applies the scopes to MCP tools", async () => {
        const ping = { jsonrpc: "2.0", id: 1, method: "ping" };
        for (const method of ["POST", "DELETE"]) {
            const res = await callError(srv, method, "/mcp", 401, "unauthorized",
                { json: method === "POST" ? ping : undefined, headers: mcpHeaders(null), token: false });
            assert.match(res.headers.get("www-authenticate"), /^Bearer/);
        }
        const anonymous = await mcpStream(srv, null, { token: false });
        assert.equal(anonymous.status, 401);
        assert.equal(anonymous.body.error.code, "unauthorized");

        // A read token may look, not change: writing tools answer forbidden, nothing is written.
        const reader = { authorization: `Bearer ${READ_TOKEN}` };
        const session = await mcpOpen(srv, { headers: reader });
        await mcpTool(srv, session, "get_stats", {}, { headers: reader });
        const head = (await call(srv, "GET", "/v1/audit/head")).body.seq;
        await mcpToolError(srv, session, "create_session", { query: "q" }, "forbidden",
            /needs? the 'write' scope/, { headers: reader });
        assert.equal((await call(srv, "GET", "/v1/audit/head")).body.seq, head);
        // A session id belongs to the token that opened it.
        await mcpRefused(srv, 404, -32001, { json: ping, headers: mcpHeaders(session) });

        // The full token writes, and the event records its actor.
        const mine = await mcpOpen(srv);
        const created = await mcpTool(srv, mine, "create_session", { query: "by token" });
        const events = (await call(srv, "GET", `/v1/sessions/${created.session_id}/events`)).body.events;
        assert.equal(events[0].actor, "token");
        mcpB.session = mine;
    });

    it("applies the body limit and --mcp-max-streams to /mcp", async () => {
        const big = { jsonrpc: "2.0", id: 1, method: "tools/call",
            params: { name: "create_session", arguments: { query: "x".repeat(2000) } } };
        await callError(srv, "POST", "/mcp", 413, "payload_too_large", { json: big, headers: mcpHeaders(mcpB.session) });
        // --mcp-max-streams 1: a second stream (another MCP session) is refused while one is open.
        const first = await mcpStream(srv, mcpB.session);
        assert.equal(first.status, 200);
        const other = await mcpOpen(srv);
        const refused = await mcpStream(srv, other);
        assert.equal(refused.status, 503);
        assert.equal(refused.body.error.code, -32000);
        assert.match(refused.headers.get("retry-after") ?? "", /^[0-9]+$/);
        await first.close();
        const second = await waitFor("a free stream slot", async () => {
            const s = await mcpStream(srv, other);
            return s.status === 200 ? s : null;
        });
        await second.close();
    });

    it("asks every /v1 operation for the bearer token", async () => {
        const someId = randomUUID();
        for (const { template, method, op } of checker.operations()) {
            if (!template.startsWith("/v1/")) continue;
            const target = template.replace("{id}", someId);
            const json = op.requestBody ? {} : undefined;
            const res = await callError(srv, method, target, 401, "unauthorized", { json, token: false });
            assert.match(res.headers.get("www-authenticate"), /^Bearer/);
            await callError(srv, method, target, 401, "unauthorized",
                { json, headers: { authorization: "Bearer wrong" } });
            await callError(srv, method, target, 401, "unauthorized",
                { json, headers: { authorization: `Basic ${TOKEN}` } });
        }
        // Unknown /v1 paths are behind the token too.
        await callError(srv, "GET", "/v1/nope", 401, "unauthorized", { token: false });
        // The scheme is case-insensitive.
        await call(srv, "GET", "/v1/stats", { status: 200, headers: { authorization: `bearer ${TOKEN}` } });
        // Operations endpoints never need it.
        await call(srv, "GET", "/healthz", { status: 200, token: false });
        await call(srv, "GET", "/readyz", { status: 200, token: false });
        await call(srv, "GET", "/metrics", { status: 200, token: false });
        await callError(srv, "GET", "/", 404, "not_found", { token: false });
        const head = await call(srv, "HEAD", "/", { status: 404, token: false });
        assert.equal(head.headers.get("content-type"), "application/json; charset=utf-8");
    });

    it("sends no body with a HEAD response, so the connection stays usable", async () => {
        for (const target of ["/", "/missing.html", "/healthz"]) {
            const res = await rawHttp(srv, `HEAD ${target} HTTP/1.1\r\nHost: localhost\r\n\r\n` +
                "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            // What follows the HEAD response's header block must be the next response.
            assert.match(res.text, /^HTTP\/1\.1 200 /, `HEAD ${target}: bytes after the header ` +
                `block: ${truncate(JSON.stringify(res.text), 200)}`);
        }
    });

    it("refuses bodies over --max-body-bytes with payload_too_large", async () => {
        const someId = randomUUID();
        const big = JSON.stringify({ query: "x".repeat(2048) });
        for (const { template, method, op } of checker.operations()) {
            if (!op.requestBody) continue;
            await callError(srv, method, template.replace("{id}", someId), 413, "payload_too_large",
                { body: big, headers: { "content-type": "application/json" } });
        }
        // At the limit is fine.
        const exact = JSON.stringify({ query: "y".repeat(1024 - '{"query":""}'.length) });
        assert.equal(Buffer.byteLength(exact), 1024);
        await call(srv, "POST", "/v1/sessions", { status: 201, body: exact,
            headers: { "content-type": "application/json" } });
    });

    it("expires sessions past their TTL, before and after cleanup", async () => {
        const stats0 = (await call(srv, "GET", "/v1/stats", { status: 200 })).body;
        assert.equal(stats0.ttl_hours, 1 / 3600);

        const created = await call(srv, "POST", "/v1/sessions", { status: 201, json: { query: "short-lived" } });
        const s = created.body;
        assert.equal(micros(s.expires_at) - micros(s.created_at), 1_000_000n);
        const url = `/v1/sessions/${s.session_id}`;

        // Wait until past its TTL (cleanup runs only every 4 s, the first time 4 s after start).
        const expiresAt = Number(micros(s.expires_at) / 1000n);
        await sleep(Math.max(0, expiresAt - Date.now()) + 150);
        const cleanedAlready = (await call(srv, "GET", `/v1/events?type=expired&session_id=${s.session_id}`))
            .body.events.length > 0;
        await callError(srv, "GET", url, 404, "session_expired", { message: `Session expired: ${s.session_id}` });
        await callError(srv, "PATCH", url, 404, "session_expired", { json: { status: "in_progress" } });
        await callError(srv, "POST", `${url}/responses`, 404, "session_expired",
            { json: { provider: "p", round: 1, response: 1 } });
        await callError(srv, "PUT", `${url}/consensus`, 404, "session_expired", { json: {} });
        await callError(srv, "POST", `${url}/fail`, 404, "session_expired", { json: { error: "x" } });
        await callError(srv, "DELETE", url, 404, "session_expired");
        if (!cleanedAlready) {
            // Before cleanup: held, counted as expired, listed only on request.
            const st = (await call(srv, "GET", "/v1/stats", { status: 200 })).body;
            assert.ok(st.expired_sessions >= 1);
            assert.equal(st.active_sessions, st.total_sessions - st.expired_sessions);
            const hidden = (await call(srv, "GET", "/v1/sessions", { status: 200 })).body.sessions;
            assert.ok(!hidden.some((x) => x.session_id === s.session_id));
            const shown = (await call(srv, "GET", "/v1/sessions?include_expired=true", { status: 200 })).body.sessions;
            assert.ok(shown.some((x) => x.session_id === s.session_id));
        }

        // The cleanup pass appends `expired`.
        let expiredEvent = null;
        for (const deadline = Date.now() + 15_000; !expiredEvent && Date.now() < deadline;) {
            const page = await call(srv, "GET", `/v1/events?type=expired&session_id=${s.session_id}`, { status: 200 });
            expiredEvent = page.body.events[0] ?? null;
            if (!expiredEvent) await sleep(200);
        }
        assert.ok(expiredEvent, "cleanup appended no expired event within 15 s");
        assert.deepEqual(expiredEvent.data, {});
        assert.equal(expiredEvent.version, 2);

        // After cleanup: still session_expired, no longer held.
        await callError(srv, "GET", url, 404, "session_expired", { message: `Session expired: ${s.session_id}` });
        const st = (await call(srv, "GET", "/v1/stats", { status: 200 })).body;
        assert.equal(st.total_sessions, 0);
        const shown = (await call(srv, "GET", "/v1/sessions?include_expired=true", { status: 200 })).body.sessions;
        assert.ok(!shown.some((x) => x.session_id === s.session_id));
        const events = (await call(srv, "GET", `${url}/events`, { status: 200 })).body.events;
        assert.deepEqual(events.map((e) => e.type), ["created", "expired"]);
        // Listed as a past session, counted by reason.
        const past = (await call(srv, "GET", `/v1/sessions?state=ended&q=${s.session_id}`, { status: 200 }))
            .body.sessions;
        assert.equal(past.length, 1);
        expectSchema("PastSession", past[0]);
        assert.deepEqual(past[0].ended, { reason: "expired", at: events[1].at, seq: events[1].seq });
        assert.ok(st.ended_sessions.expired >= 1);
        // Time travel: alive before the expired event, expired at it.
        const alive = await call(srv, "GET", `${url}?at_seq=${events[0].seq}`, { status: 200 });
        assert.equal(alive.body.version, 1);
        await callError(srv, "GET", `${url}?at_seq=${expiredEvent.seq}`, 404, "session_expired");
    });
});

// ---- server C: webhooks, with --allow-private-webhooks and a receiver in this process ----------

/// A loopback HTTP receiver for webhook deliveries. It records every request and answers by path:
/// `/gone` 410, `/flaky` 503 to the first attempt of each webhook-id and 200 afterwards, anything
/// else 200.
class Receiver {
    constructor() {
        this.requests = [];
        this.seen = new Set();
        this.server = http.createServer((req, res) => {
            const chunks = [];
            req.on("data", (c) => chunks.push(c));
            req.on("end", () => {
                const body = Buffer.concat(chunks).toString("utf8");
                const id = req.headers["webhook-id"];
                let status = 200;
                if (req.url === "/gone") status = 410;
                else if (req.url === "/flaky" && !this.seen.has(id)) status = 503;
                if (req.url === "/flaky") this.seen.add(id);
                this.requests.push({ path: req.url, method: req.method, headers: req.headers, body, status });
                res.writeHead(status, { "content-type": "text/plain" });
                res.end("ok");
            });
        });
    }

    async start() {
        await new Promise((resolve) => this.server.listen(0, "127.0.0.1", resolve));
        this.port = this.server.address().port;
    }

    url(p) {
        return `http://127.0.0.1:${this.port}${p}`;
    }

    /// The requests to `p` answered `status` (any status when not given).
    at(p, status) {
        return this.requests.filter((r) => r.path === p && (status === undefined || r.status === status));
    }

    async stop() {
        this.server.closeAllConnections();
        await new Promise((resolve) => this.server.close(resolve));
    }
}

/// Standard Webhooks: base64 HMAC-SHA256 over "<id>.<timestamp>.<body>", keyed with the base64
/// part of the secret; the header holds space-separated "v1,<signature>" entries.
function signatureValid(secret, request) {
    const key = Buffer.from(secret.slice("whsec_".length), "base64");
    const h = request.headers;
    const expected = createHmac("sha256", key)
        .update(`${h["webhook-id"]}.${h["webhook-timestamp"]}.${request.body}`).digest("base64");
    return (h["webhook-signature"] ?? "").split(" ").includes(`v1,${expected}`);
}

async function waitFor(what, predicate, ms = 20_000) {
    const deadline = Date.now() + ms;
    for (;;) {
        const value = await predicate();
        if (value) return value;
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
        await sleep(50);
    }
}

describe("server C (--allow-private-webhooks, --webhook-retry-scale 0.001)", () => {
    let tmp;
    let srv;
    let receiver;
    const hooks = {};

    before(async () => {
        receiver = new Receiver();
        await receiver.start();
        tmp = await makeTempDir("contract-c");
        srv = new Server("server C", {
            dataDir: path.join(tmp, "data"),
            extraArgs: ["--allow-private-webhooks", "--webhook-retry-scale", "0.001",
                "--webhook-timeout", "5", "--max-webhooks", "5"],
        });
        await srv.start();
    });

    after(async () => {
        try {
            if (srv) await srv.stop();
            if (receiver) await receiver.stop();
        } finally {
            await removeTempDir(tmp);
        }
    });

    it("registers, lists and reads webhook endpoints (POST, GET /v1/webhooks)", async () => {
        const ok = await call(srv, "POST", "/v1/webhooks", {
            status: 201,
            json: { url: receiver.url("/ok"), events: ["created", "status_changed"], description: "ops" },
        });
        assert.match(ok.body.id, UUID_V4);
        assert.equal(ok.headers.get("location"), `/v1/webhooks/${ok.body.id}`);
        assert.match(ok.body.secret, /^whsec_/);
        assert.deepEqual(ok.body.events, ["created", "status_changed"]);
        assert.equal(ok.body.description, "ops");
        assert.equal(ok.body.disabled, false);
        hooks.ok = ok.body;

        const secret = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
        const flaky = await call(srv, "POST", "/v1/webhooks",
            { status: 201, json: { url: receiver.url("/flaky"), secret } });
        assert.equal(flaky.body.secret, secret);
        assert.deepEqual(flaky.body.events, []);
        assert.equal(flaky.body.description, "");
        assert.equal(flaky.body.registered_seq, ok.body.registered_seq + 1);
        hooks.flaky = flaky.body;

        const strip = ({ secret: _, ...rest }) => rest;
        const list = await call(srv, "GET", "/v1/webhooks", { status: 200 });
        assert.deepEqual(list.body.webhooks, [strip(hooks.ok), strip(hooks.flaky)]);
        const one = await call(srv, "GET", `/v1/webhooks/${hooks.ok.id}`, { status: 200 });
        assert.deepEqual(one.body, strip(hooks.ok));

        // Registrations are events of the registry's stream; the secret is not in the log.
        const { events, raw } = await readLog(srv);
        const registered = events.filter((e) => e.type === "webhook_registered");
        assert.deepEqual(registered.map((e) => e.data.webhook_id), [hooks.ok.id, hooks.flaky.id]);
        assert.ok(registered.every((e) => e.session_id === NIL_UUID));
        assert.ok(!raw.some((text) => text.includes(hooks.ok.secret) || text.includes(secret)));
    });

    it("refuses malformed registrations with invalid_json and invalid_argument", async () => {
        const head = (await call(srv, "GET", "/v1/audit/head")).body.seq;
        const post = (opts, code, message) =>
            callError(srv, "POST", "/v1/webhooks", 400, code, { ...opts, message });
        const url = receiver.url("/ok");
        await post({ body: "{nope", headers: { "content-type": "application/json" } }, "invalid_json");
        await post({ json: [url] }, "invalid_json");
        await post({ json: {} }, "invalid_argument", /^url/);
        await post({ json: { url: 5 } }, "invalid_argument", /^url/);
        await post({ json: { url: "ftp://example.com/x" } }, "invalid_argument", /^url/);
        await post({ json: { url: "not a url" } }, "invalid_argument", /^url/);
        await post({ json: { url, events: "created" } }, "invalid_argument", /^events/);
        await post({ json: { url, events: ["created", "bogus"] } }, "invalid_argument", /^events/);
        await post({ json: { url, events: ["webhook_deleted"] } }, "invalid_argument", /^events/);
        await post({ json: { url, secret: "plain" } }, "invalid_argument", /^secret/);
        await post({ json: { url, secret: 1 } }, "invalid_argument", /^secret/);
        await post({ json: { url, description: ["x"] } }, "invalid_argument", /^description/);
        await post({ json: { url, description: "d".repeat(1025) } }, "invalid_argument", /^description/);
        assert.equal((await call(srv, "GET", "/v1/audit/head")).body.seq, head,
            "a refused registration must append nothing");
    });

    it("delivers signed events and lists every attempt (GET .../deliveries)", async () => {
        const created = await call(srv, "POST", "/v1/sessions", { status: 201, json: { query: "hooked" } });
        const sid = created.body.session_id;
        await call(srv, "PUT", `/v1/sessions/${sid}/consensus`, { status: 200, json: { decision: "yes" } });
        const events = (await call(srv, "GET", `/v1/sessions/${sid}/events`, { status: 200 })).body.events;
        assert.deepEqual(events.map((e) => e.type), ["created", "consensus_set", "status_changed"]);

        await waitFor("the deliveries", () =>
            receiver.at("/ok", 200).length >= 2 && receiver.at("/flaky", 200).length >= 3);
        const byId = new Map(events.map((e) => [e.event_id, e]));
        const check = (requests, secret, types) => {
            assert.deepEqual(requests.map((r) => byId.get(r.headers["webhook-id"])?.type).sort(), types);
            for (const r of requests) {
                assert.equal(r.method, "POST");
                assert.match(r.headers["content-type"], /^application\/json/);
                assert.match(r.headers["webhook-timestamp"], /^[0-9]+$/);
                assert.ok(Math.abs(Number(r.headers["webhook-timestamp"]) - Date.now() / 1000) < 300);
                assert.deepEqual(JSON.parse(r.body), byId.get(r.headers["webhook-id"]));
                assert.ok(signatureValid(secret, r), `signature of ${r.headers["webhook-id"]}`);
            }
        };
        check(receiver.at("/ok", 200), hooks.ok.secret, ["created", "status_changed"]);
        check(receiver.at("/flaky", 200), hooks.flaky.secret, ["consensus_set", "created", "status_changed"]);
        // A retry keeps the webhook-id, and its first attempt was refused with 503.
        assert.deepEqual(receiver.at("/flaky", 503).map((r) => r.headers["webhook-id"]).sort(),
            receiver.at("/flaky", 200).map((r) => r.headers["webhook-id"]).sort());

        const flaky = await waitFor("the attempts to be recorded", async () => {
            const res = await call(srv, "GET", `/v1/webhooks/${hooks.flaky.id}/deliveries`, { status: 200 });
            return res.body.deliveries.filter((a) => a.state === "delivered").length === 3 ? res : null;
        });
        const attempts = flaky.body.deliveries;
        assert.equal(attempts.length, 6);
        for (const id of byId.keys()) {
            const mine = attempts.filter((a) => a.event_id === id);
            assert.deepEqual(mine.map((a) => [a.attempt, a.state, a.http_status, a.failure]),
                [[2, "delivered", 200, null], [1, "pending", 503, "server"]]);
            assert.equal(mine[0].seq, byId.get(id).seq);
            assert.equal(mine[0].next_attempt_at, null);
            assert.equal(typeof mine[1].next_attempt_at, "string");
        }
        const one = await call(srv, "GET", `/v1/webhooks/${hooks.flaky.id}/deliveries?limit=1`, { status: 200 });
        assert.deepEqual(one.body.deliveries, [attempts[0]]);
        const ok = await waitFor("the /ok attempts", async () => {
            const res = await call(srv, "GET", `/v1/webhooks/${hooks.ok.id}/deliveries`, { status: 200 });
            return res.body.deliveries.length === 2 ? res : null;
        });
        assert.ok(ok.body.deliveries.every((a) => a.state === "delivered" && a.attempt === 1));

        for (const q of ["limit=0", "limit=1001", "limit=x"]) {
            await callError(srv, "GET", `/v1/webhooks/${hooks.ok.id}/deliveries?${q}`, 400,
                "invalid_argument", { message: /^limit/ });
        }
        const unknown = randomUUID();
        await callError(srv, "GET", `/v1/webhooks/${unknown}/deliveries`, 404, "not_found",
            { message: `Webhook not found: ${unknown}` });
        await callError(srv, "GET", `/v1/webhooks/${unknown}`, 404, "not_found",
            { message: `Webhook not found: ${unknown}` });
        await callError(srv, "GET", "/v1/webhooks/not-a-uuid", 404, "not_found",
            { message: "Webhook not found: not-a-uuid" });
    });

    it("sends events again on request (POST .../replay)", async () => {
        const before = receiver.at("/ok").length;
        const res = await call(srv, "POST", `/v1/webhooks/${hooks.ok.id}/replay`,
            { status: 202, json: { after: 0 } });
        assert.equal(res.body.scheduled, 2);
        assert.equal(res.body.after, 0);
        const head = (await call(srv, "GET", "/v1/audit/head")).body.seq;
        assert.ok(res.body.until <= head);
        await waitFor("the replayed deliveries", () => receiver.at("/ok").length >= before + 2);
        const again = receiver.at("/ok").slice(before);
        const first = receiver.at("/ok").slice(0, before);
        for (const r of again) {
            const original = first.find((f) => f.headers["webhook-id"] === r.headers["webhook-id"]);
            assert.ok(original, "a replay keeps the webhook-id");
            assert.equal(r.body, original.body);
            assert.ok(signatureValid(hooks.ok.secret, r));
        }

        const url = `/v1/webhooks/${hooks.ok.id}/replay`;
        await callError(srv, "POST", url, 400, "invalid_json",
            { body: "[", headers: { "content-type": "application/json" } });
        await callError(srv, "POST", url, 400, "invalid_argument", { json: {}, message: /^after/ });
        await callError(srv, "POST", url, 400, "invalid_argument", { json: { after: -1 }, message: /^after/ });
        await callError(srv, "POST", url, 400, "invalid_argument", { json: { after: "1" }, message: /^after/ });
        await callError(srv, "POST", `/v1/webhooks/${randomUUID()}/replay`, 404, "not_found",
            { json: { after: 0 } });
    });

    it("disables an endpoint that answers 410 Gone", async () => {
        const gone = await call(srv, "POST", "/v1/webhooks",
            { status: 201, json: { url: receiver.url("/gone"), events: ["created"] } });
        hooks.gone = gone.body;
        await call(srv, "POST", "/v1/sessions", { status: 201, json: { query: "to a gone endpoint" } });
        const disabled = await waitFor("the endpoint to be disabled", async () => {
            const res = await call(srv, "GET", `/v1/webhooks/${gone.body.id}`, { status: 200 });
            return res.body.disabled ? res : null;
        });
        assert.equal(typeof disabled.body.disabled_reason, "string");
        const page = await call(srv, "GET", "/v1/events?type=webhook_disabled", { status: 200 });
        assert.deepEqual(page.body.events.map((e) => e.data.webhook_id), [gone.body.id]);
        await callError(srv, "POST", `/v1/webhooks/${gone.body.id}/replay`, 409, "webhook_disabled",
            { json: { after: 0 } });
        const attempts = (await call(srv, "GET", `/v1/webhooks/${gone.body.id}/deliveries`, { status: 200 }))
            .body.deliveries;
        assert.deepEqual(attempts.map((a) => [a.state, a.http_status, a.failure]), [["failed", 410, "client"]]);
    });

    it("enables and disables an endpoint (PATCH)", async () => {
        const url = `/v1/webhooks/${hooks.gone.id}`;
        const on = await call(srv, "PATCH", url, { status: 200, json: { enabled: true } });
        assert.equal(on.body.disabled, false);
        assert.ok(!("disabled_reason" in on.body));
        const page = await call(srv, "GET", "/v1/events?type=webhook_enabled", { status: 200 });
        assert.deepEqual(page.body.events.map((e) => e.data), [{ webhook_id: hooks.gone.id }]);
        // The state it has: nothing appended.
        const head = (await call(srv, "GET", "/v1/audit/head")).body.seq;
        await call(srv, "PATCH", url, { status: 200, json: { enabled: true } });
        assert.equal((await call(srv, "GET", "/v1/audit/head")).body.seq, head);
        const off = await call(srv, "PATCH", url, { status: 200, json: { enabled: false, reason: "gone for good" } });
        assert.equal(off.body.disabled, true);
        assert.equal(off.body.disabled_reason, "gone for good");
        assert.deepEqual((await call(srv, "GET", url, { status: 200 })).body, off.body);

        await callError(srv, "PATCH", url, 400, "invalid_json",
            { body: "[", headers: { "content-type": "application/json" } });
        await callError(srv, "PATCH", url, 400, "invalid_argument", { json: {}, message: /^enabled/ });
        await callError(srv, "PATCH", url, 400, "invalid_argument", { json: { enabled: "no" }, message: /^enabled/ });
        await callError(srv, "PATCH", url, 400, "invalid_argument",
            { json: { enabled: false, reason: "x".repeat(201) }, message: /^reason/ });
        await callError(srv, "PATCH", `/v1/webhooks/${randomUUID()}`, 404, "not_found", { json: { enabled: false } });
        assert.equal((await call(srv, "GET", "/v1/audit/head")).body.seq, head + 1);
    });

    it("refuses registrations past --max-webhooks with 409 limit_reached", async () => {
        // ok, flaky and gone (disabled endpoints count) are registered; the limit is 5.
        for (const n of [1, 2]) {
            await call(srv, "POST", "/v1/webhooks",
                { status: 201, json: { url: receiver.url(`/limit${n}`), events: ["deleted"] } });
        }
        const head = (await call(srv, "GET", "/v1/audit/head")).body.seq;
        await callError(srv, "POST", "/v1/webhooks", 409, "limit_reached",
            { json: { url: receiver.url("/limit3") }, message: /^Webhook limit reached: at most 5 / });
        assert.equal((await call(srv, "GET", "/v1/audit/head")).body.seq, head);
    });

    it("answers wrong methods on webhook paths with 405 and Allow", async () => {
        const id = hooks.ok.id;
        await callError(srv, "PUT", "/v1/webhooks", 405, "method_not_allowed", { json: {} });
        await callError(srv, "PUT", `/v1/webhooks/${id}`, 405, "method_not_allowed", { json: {} });
        await callError(srv, "POST", `/v1/webhooks/${id}/deliveries`, 405, "method_not_allowed");
        await callError(srv, "GET", `/v1/webhooks/${id}/replay`, 405, "method_not_allowed");
    });

    it("exports webhook metrics", async () => {
        const m = await call(srv, "GET", "/metrics", { status: 200 });
        for (const family of ["quorum_webhook_deliveries_total", "quorum_webhook_delivery_latency_seconds",
            "quorum_webhook_pending", "quorum_webhook_attempts_total"]) {
            assert.match(m.text, new RegExp(`^# TYPE ${family} `, "m"), family);
        }
        const delivered = Number(/^quorum_webhook_deliveries_total\{outcome="delivered"\} (\d+)$/m.exec(m.text)?.[1]);
        assert.ok(delivered >= 7, `delivered ${delivered}`);
        assert.match(m.text, /^quorum_webhook_delivery_latency_seconds_bucket\{le="\+Inf"\} \d+$/m);
    });

    it("keeps endpoints across a restart and deletes them (DELETE)", async () => {
        const before = (await call(srv, "GET", "/v1/webhooks", { status: 200 })).body;
        const stopped = await srv.stop();
        assert.deepEqual(stopped, { code: 0, signal: null }, `clean exit on SIGTERM:\n${srv.output}`);
        await srv.start();
        assert.deepEqual((await call(srv, "GET", "/v1/webhooks", { status: 200 })).body, before);

        const url = `/v1/webhooks/${hooks.ok.id}`;
        const del = await call(srv, "DELETE", url, { status: 204 });
        assert.equal(del.text, "");
        await callError(srv, "GET", url, 404, "not_found");
        await callError(srv, "DELETE", url, 404, "not_found");
        await callError(srv, "POST", `${url}/replay`, 404, "not_found", { json: { after: 0 } });
        const list = (await call(srv, "GET", "/v1/webhooks", { status: 200 })).body.webhooks;
        assert.ok(!list.some((h) => h.id === hooks.ok.id));
        const page = await call(srv, "GET", "/v1/events?type=webhook_deleted", { status: 200 });
        assert.deepEqual(page.body.events.map((e) => e.data.webhook_id), [hooks.ok.id]);
        // Nothing more reaches it.
        const count = receiver.at("/ok").length;
        await call(srv, "POST", "/v1/sessions", { status: 201, json: { query: "after the delete" } });
        await waitFor("the flaky endpoint to get the new event", () =>
            receiver.at("/flaky", 200).length >= 4);
        assert.equal(receiver.at("/ok").length, count);
    });
});

// ---- the document is covered -----------------------------------------------------------------

describe("document coverage", () => {
    it("every documented operation and status was exercised", () => {
        const missing = [];
        for (const { template, method, op } of checker.operations()) {
            for (const status of Object.keys(op.responses ?? {})) {
                if (NOT_PROVOKED[status]) continue;
                if (!checker.seen.has(`${op.operationId} ${status}`)) {
                    missing.push(`${method} ${template} ${status} (${op.operationId})`);
                }
            }
        }
        for (const [name, status] of [["NotFound", 404], ["MethodNotAllowed", 405], ["BadHttp", 400],
            ["HeaderTooLarge", 431]]) {
            if (!checker.seen.has(`components/responses/${name} ${status}`)) {
                missing.push(`components/responses/${name} ${status}`);
            }
        }
        assert.deepEqual(missing, [], `documented but never exercised:\n  ${missing.join("\n  ")}`);
    });
});
