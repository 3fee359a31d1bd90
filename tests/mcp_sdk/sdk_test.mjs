// The MCP endpoint driven by the official TypeScript SDK client (Client +
// StreamableHTTPClientTransport) and by raw HTTP requests for what a client library hides.
// Starts the real server, each time on a free loopback port with a fresh data folder: without
// tokens (the whole consultation, domain errors, the tool schemas against docs/openapi.yaml, the
// protocol's HTTP rules, session ids, GET stream resumption); with small limits and other options
// (--mcp-max-streams, --max-body-bytes, a shared --mcp-key-file across nodes and restarts, a
// short TTL, --no-mcp); and with a --tokens-file (401, scopes, the actor). Every server is
// stopped by its pid with SIGTERM when its suite ends.
//
// Usage: node tests/mcp_sdk/sdk_test.mjs <quorum binary> [--openapi <openapi.yaml>]
// The packages come from tests/mcp_sdk/node_modules (`npm ci` in tests/mcp_sdk).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import YAML from "yaml";

import { QuorumServer, makeTempDir, removeTempDir, sleep } from "../support/server.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const binary = args.find((a, i) => !a.startsWith("--") && args[i - 1] !== "--openapi");
const openapiArg = args.indexOf("--openapi");
const openapiPath = openapiArg >= 0 ? args[openapiArg + 1]
    : path.join(here, "..", "..", "docs", "openapi.yaml");
if (!binary) {
    console.error("usage: sdk_test.mjs <quorum binary> [--openapi <openapi.yaml>]");
    process.exit(2);
}

const TOOLS = ["create_session", "get_session", "list_sessions", "update_session", "add_response",
    "set_consensus", "fail_session", "delete_session", "get_stats", "session_events"];
const PROTOCOL = "2025-11-25";
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// ---- the server process ----------------------------------------------------------------------

/// A server of these tests: `serve` with extraArgs on a new free port at every start.
class Server extends QuorumServer {
    constructor(name, { dataDir, extraArgs = [] }) {
        super({ binary, name, dataDir, args: extraArgs });
    }

    get mcpUrl() {
        return `${this.url}/mcp`;
    }
}

// ---- HTTP helpers ----------------------------------------------------------------------------

/// A fetch Response read to its end as {status, headers, text, body}: body is the parsed JSON, or
/// undefined when the text is empty or not JSON.
async function answer(res) {
    const text = await res.text();
    let body;
    try {
        body = text ? JSON.parse(text) : undefined;
    } catch {
        body = undefined;
    }
    return { status: res.status, headers: res.headers, text, body };
}

/// A REST request; the answer as {status, headers, text, body}.
async function rest(srv, method, target, { json, token } = {}) {
    const headers = {};
    if (json !== undefined) headers["content-type"] = "application/json";
    if (token) headers.authorization = `Bearer ${token}`;
    return answer(await fetch(srv.url + target, {
        method, headers, body: json === undefined ? undefined : JSON.stringify(json),
    }));
}

/// One raw POST /mcp. `message` is serialized unless it is a string. Headers default to a
/// client that accepts both answers; pass a header as null to leave it out.
async function mcpPost(srv, message, headers = {}) {
    const h = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    for (const [k, v] of Object.entries(headers)) {
        if (v === null) delete h[k.toLowerCase()];
        else h[k.toLowerCase()] = v;
    }
    return answer(await fetch(srv.mcpUrl, {
        method: "POST", headers: h,
        body: typeof message === "string" ? message : JSON.stringify(message),
    }));
}

/// initialize over raw HTTP; returns the Mcp-Session-Id (and sends notifications/initialized).
async function rawSession(srv, headers = {}) {
    const res = await mcpPost(srv, {
        jsonrpc: "2.0", id: 1, method: "initialize",
        params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: "raw", version: "1" } },
    }, headers);
    assert.equal(res.status, 200, res.text);
    const sid = res.headers.get("mcp-session-id");
    assert.ok(sid, "initialize answers an Mcp-Session-Id");
    const note = await mcpPost(srv, { jsonrpc: "2.0", method: "notifications/initialized" },
        { ...headers, "mcp-session-id": sid });
    assert.equal(note.status, 202, note.text);
    return sid;
}

/// Reads SSE events from a fetch Response body: next() resolves to {id, event, data} or null at
/// the end of the stream; comment lines are skipped.
function sseReader(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let done = false;
    return {
        async next(timeoutMs = 10_000) {
            const deadline = Date.now() + timeoutMs;
            for (;;) {
                const cut = buffer.search(/\r?\n\r?\n/);
                if (cut >= 0) {
                    const block = buffer.slice(0, cut);
                    buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
                    const ev = { id: undefined, event: undefined, data: undefined };
                    let any = false;
                    for (const line of block.split(/\r?\n/)) {
                        if (line.startsWith(":")) continue;
                        const colon = line.indexOf(":");
                        const field = colon < 0 ? line : line.slice(0, colon);
                        let value = colon < 0 ? "" : line.slice(colon + 1);
                        if (value.startsWith(" ")) value = value.slice(1);
                        any = true;
                        if (field === "data") ev.data = ev.data === undefined ? value : `${ev.data}\n${value}`;
                        else if (field === "id") ev.id = value;
                        else if (field === "event") ev.event = value;
                    }
                    if (any) return ev;
                    continue;
                }
                if (done) return null;
                const left = deadline - Date.now();
                if (left <= 0) throw new Error(`no SSE event within ${timeoutMs} ms; buffered: ${buffer}`);
                let timer;
                const chunk = await Promise.race([
                    reader.read(),
                    new Promise((_, reject) => {
                        timer = setTimeout(() => reject(new Error(
                            `no SSE event within ${timeoutMs} ms; buffered: ${JSON.stringify(buffer)}`)), left);
                    }),
                ]).finally(() => clearTimeout(timer));
                if (chunk.done) done = true;
                else buffer += decoder.decode(chunk.value, { stream: true });
            }
        },
        async cancel() {
            try {
                await reader.cancel();
            } catch {
                // already closed
            }
        },
    };
}

/// Opens GET /mcp for an MCP session; the caller reads events with the returned reader.
async function openStream(srv, sid, { lastEventId, headers = {} } = {}) {
    const controller = new AbortController();
    const h = { accept: "text/event-stream", "mcp-session-id": sid, ...headers };
    if (lastEventId !== undefined) h["last-event-id"] = String(lastEventId);
    const res = await fetch(srv.mcpUrl, { method: "GET", headers: h, signal: controller.signal });
    assert.equal(res.status, 200, `GET /mcp: ${res.status} ${res.status === 200 ? "" : await res.text()}`);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const events = sseReader(res);
    return {
        events,
        close: async () => {
            await events.cancel();
            controller.abort();
        },
    };
}

// ---- the SDK client --------------------------------------------------------------------------

/// A connected SDK client. `token` goes in every request's Authorization header. `streamOpen`
/// resolves once the transport's GET stream got its 200 (the SDK opens it after initialize,
/// without waiting), so a test knows when a notification can reach it. The GET stream's bytes are
/// also read here (a tee of the body the SDK reads) to learn each notification's event id, which
/// the SDK does not show: waitForUpdate(uri, seq) waits for the notification of log event `seq`.
async function sdkClient(srv, { token, name = "sdk-test" } = {}) {
    let markOpen;
    const streamOpen = new Promise((resolve) => { markOpen = resolve; });
    const streamEvents = [];  // {id, uri} of every notification on the GET stream, in order
    const waiters = [];
    const wake = () => { for (const w of waiters.splice(0)) w(); };
    const watchingFetch = async (url, init) => {
        const res = await fetch(url, init);
        if ((init?.method ?? "GET") !== "GET" || !res.ok || !res.body) return res;
        markOpen();
        const [forSdk, forTest] = res.body.tee();
        const events = sseReader(new Response(forTest));
        (async () => {
            try {
                for (;;) {
                    const ev = await events.next(3_600_000);
                    if (!ev) return;
                    if (!ev.data) continue;
                    const msg = JSON.parse(ev.data);
                    if (msg.method === "notifications/resources/updated") {
                        streamEvents.push({ id: ev.id, uri: msg.params?.uri });
                        wake();
                    }
                }
            } catch {
                // the stream was closed
            }
        })();
        return new Response(forSdk, { status: res.status, statusText: res.statusText, headers: res.headers });
    };
    const transport = new StreamableHTTPClientTransport(new URL(srv.mcpUrl), {
        fetch: watchingFetch,
        requestInit: token ? { headers: { Authorization: `Bearer ${token}` } } : undefined,
    });
    const client = new Client({ name, version: "1.0.0" }, { capabilities: {} });
    const updates = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
        updates.push(n.params.uri);
        wake();
    });
    await client.connect(transport);
    return {
        client,
        transport,
        streamOpen,
        updates,
        streamEvents,
        /// Waits until the notification for `uri` with event id `seq` was on the GET stream and
        /// the SDK handed the client as many notifications for `uri` as the stream carried.
        async waitForUpdate(uri, seq, timeoutMs = 10_000) {
            const deadline = Date.now() + timeoutMs;
            const done = () => streamEvents.some((e) => e.id === String(seq) && e.uri === uri) &&
                updates.filter((u) => u === uri).length >= streamEvents.filter((e) => e.uri === uri).length;
            while (!done()) {
                const left = deadline - Date.now();
                if (left <= 0) {
                    throw new Error(`no notifications/resources/updated for ${uri} at event ${seq} ` +
                        `within ${timeoutMs} ms; stream: ${JSON.stringify(streamEvents)}; ` +
                        `SDK: ${JSON.stringify(updates)}`);
                }
                await Promise.race([new Promise((r) => waiters.push(r)), sleep(Math.min(left, 200))]);
            }
        },
        close: () => client.close(),
    };
}

/// tools/call through the SDK; checks the result's shape (text content mirrors
/// structuredContent) and returns {isError, sc}.
async function call(client, name, args = {}) {
    const result = await client.callTool({ name, arguments: args });
    assert.ok(result.structuredContent && typeof result.structuredContent === "object",
        `${name}: structuredContent: ${JSON.stringify(result)}`);
    assert.ok(Array.isArray(result.content) && result.content.length >= 1, `${name}: content`);
    assert.equal(result.content[0].type, "text");
    assert.deepEqual(JSON.parse(result.content[0].text), result.structuredContent,
        `${name}: the text content is the JSON of structuredContent`);
    return { isError: result.isError === true, sc: result.structuredContent };
}

async function callOk(client, name, args = {}) {
    const r = await call(client, name, args);
    assert.equal(r.isError, false, `${name} ${JSON.stringify(args)}: ${JSON.stringify(r.sc)}`);
    return r.sc;
}

async function callError(client, name, args, code) {
    const r = await call(client, name, args);
    assert.equal(r.isError, true, `${name} ${JSON.stringify(args)} must fail with ${code}: ` +
        JSON.stringify(r.sc));
    assert.equal(typeof r.sc.error?.message, "string", JSON.stringify(r.sc));
    assert.ok(r.sc.error.message.length > 0);
    assert.equal(r.sc.error.code, code, JSON.stringify(r.sc));
    return r.sc.error;
}

const sessionUri = (id) => `quorum://sessions/${id}`;

// ---- without tokens --------------------------------------------------------------------------

describe("MCP without tokens", () => {
    let srv;
    let dataDir;
    let sdk;

    before(async () => {
        dataDir = await makeTempDir("mcp-sdk");
        srv = new Server("server", { dataDir });
        await srv.start();
        sdk = await sdkClient(srv);
    });

    after(async () => {
        if (sdk) await sdk.close().catch(() => {});
        if (srv) await srv.stopClean();
        await removeTempDir(dataDir);
    });

    it("initialize reports quorum, the capabilities and a protocol the SDK accepts", async () => {
        const info = sdk.client.getServerVersion();
        assert.equal(info.name, "quorum");
        assert.equal(typeof info.version, "string");
        const caps = sdk.client.getServerCapabilities();
        assert.ok(caps.tools, JSON.stringify(caps));
        assert.equal(caps.resources?.subscribe, true, JSON.stringify(caps));
        assert.equal(sdk.transport.protocolVersion, PROTOCOL);
        assert.equal(typeof sdk.client.getInstructions(), "string");
        assert.ok(sdk.transport.sessionId.length > 0);
        assert.match(sdk.transport.sessionId, /^[\x21-\x7e]+$/);
    });

    it("lists the ten tools, each with an object inputSchema and outputSchema", async () => {
        const { tools } = await sdk.client.listTools();
        assert.deepEqual(tools.map((t) => t.name).sort(), [...TOOLS].sort());
        for (const tool of tools) {
            assert.equal(tool.inputSchema?.type, "object", `${tool.name} inputSchema`);
            assert.equal(tool.outputSchema?.type, "object", `${tool.name} outputSchema`);
            assert.equal(typeof tool.description, "string", `${tool.name} description`);
        }
        const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
        assert.deepEqual([...(byName.create_session.inputSchema.required ?? [])].sort(), ["query"]);
        assert.deepEqual([...(byName.add_response.inputSchema.required ?? [])].sort(),
            ["provider", "response", "round", "session_id"]);
    });

    it("the tool inputSchemas agree with the REST request bodies of docs/openapi.yaml", async () => {
        const doc = YAML.parse(await readFile(openapiPath, "utf8"));
        const deref = (s) => {
            let cur = s;
            while (cur && cur.$ref) {
                const parts = cur.$ref.replace(/^#\//, "").split("/");
                let next = doc;
                for (const p of parts) next = next[p];
                cur = { ...next, ...Object.fromEntries(Object.entries(cur).filter(([k]) => k !== "$ref")) };
            }
            return cur;
        };
        const bodyOf = (p, method) => deref(doc.paths[p][method].requestBody.content["application/json"].schema);
        const { tools } = await sdk.client.listTools();
        const byName = Object.fromEntries(tools.map((t) => [t.name, t.inputSchema]));
        const pairs = [
            ["create_session", bodyOf("/v1/sessions", "post"), []],
            ["add_response", bodyOf("/v1/sessions/{id}/responses", "post"), ["session_id"]],
            ["fail_session", bodyOf("/v1/sessions/{id}/fail", "post"), ["session_id"]],
        ];
        for (const [tool, body, pathParams] of pairs) {
            const input = byName[tool];
            const toolProps = Object.keys(input.properties ?? {}).filter((k) => !pathParams.includes(k)).sort();
            assert.deepEqual(toolProps, Object.keys(body.properties).sort(), `${tool}: property names`);
            const toolRequired = (input.required ?? []).filter((k) => !pathParams.includes(k)).sort();
            assert.deepEqual(toolRequired, [...(body.required ?? [])].sort(), `${tool}: required`);
            for (const k of pathParams) {
                assert.ok(input.properties?.[k], `${tool}: ${k} property`);
                assert.ok((input.required ?? []).includes(k), `${tool}: ${k} required`);
            }
            for (const [name, restSchema] of Object.entries(body.properties)) {
                const a = deref(restSchema);
                const b = deref(input.properties[name]);
                if (a.type !== undefined) assert.deepEqual(b.type, a.type, `${tool}.${name}: type`);
                if (a.enum !== undefined) assert.deepEqual([...b.enum].sort(), [...a.enum].sort(), `${tool}.${name}: enum`);
                for (const k of ["minLength", "maxLength", "minimum", "maximum", "default"]) {
                    if (a[k] !== undefined) assert.deepEqual(b[k], a[k], `${tool}.${name}: ${k}`);
                }
            }
        }
    });

    it("drives a whole consultation: rounds, resource, subscription, consensus, events, stats", async () => {
        const { client } = sdk;
        const created = await callOk(client, "create_session", {
            query: "Monolith or microservices?", mode: "quick_consensus", metadata: { team: "platform" },
        });
        const id = created.session_id;
        assert.match(id, UUID_V4);
        assert.equal(created.status, "pending");
        assert.equal(created.mode, "quick_consensus");
        assert.deepEqual(created.metadata, { team: "platform" });
        assert.equal(created.version, 1);

        const started = await callOk(client, "update_session", { session_id: id, status: "in_progress" });
        assert.equal(started.status, "in_progress");
        assert.equal(started.version, 2);

        const providers = ["claude", "gpt", "gemini"];
        let last;
        for (const round of [1, 2]) {
            for (const provider of providers) {
                last = await callOk(client, "add_response", {
                    session_id: id, provider, round, response: { text: `${provider} says ${round}` },
                });
            }
        }
        assert.equal(last.version, 8);
        for (const provider of providers) {
            assert.deepEqual(last.provider_responses[provider], {
                1: { text: `${provider} says 1` }, 2: { text: `${provider} says 2` },
            });
        }

        // The resource, as the SDK reads it: the same session as get_session and REST.
        const read = await client.readResource({ uri: sessionUri(id) });
        assert.equal(read.contents.length, 1);
        assert.equal(read.contents[0].uri, sessionUri(id));
        assert.equal(read.contents[0].mimeType, "application/json");
        const asResource = JSON.parse(read.contents[0].text);
        assert.deepEqual(asResource, (await rest(srv, "GET", `/v1/sessions/${id}`)).body);
        assert.deepEqual(await callOk(client, "get_session", { session_id: id }), asResource);

        const templates = await client.listResourceTemplates();
        assert.ok(templates.resourceTemplates.some((t) => t.uriTemplate === "quorum://sessions/{session_id}"),
            JSON.stringify(templates));
        const listed = await client.listResources();
        assert.ok(listed.resources.some((r) => r.uri === sessionUri(id)), JSON.stringify(listed));

        // Subscribe, then a change over REST reaches this client as notifications/resources/updated.
        await client.subscribeResource({ uri: sessionUri(id) });
        await sdk.streamOpen;
        const seqOf = async (version) => {
            const all = (await rest(srv, "GET", `/v1/sessions/${id}/events`)).body.events;
            const e = all.find((x) => x.version === version);
            assert.ok(e, `no event at version ${version}`);
            return e.seq;
        };
        const viaRest = await rest(srv, "POST", `/v1/sessions/${id}/responses`,
            { json: { provider: "mistral", round: 2, response: { text: "late" } } });
        assert.equal(viaRest.status, 200, viaRest.text);
        await sdk.waitForUpdate(sessionUri(id), await seqOf(viaRest.body.version));

        const done = await callOk(client, "set_consensus", {
            session_id: id, consensus: { decision: "modular monolith", confidence: 0.8 },
        });
        assert.equal(done.status, "completed");
        assert.deepEqual(done.consensus, { decision: "modular monolith", confidence: 0.8 });
        // A change made over MCP reaches the subscriber too: both events of set_consensus.
        await sdk.waitForUpdate(sessionUri(id), await seqOf(done.version - 1));
        await sdk.waitForUpdate(sessionUri(id), await seqOf(done.version));

        const got = await callOk(client, "get_session", { session_id: id });
        assert.equal(got.status, "completed");
        assert.equal(got.version, 11);
        assert.deepEqual(got.provider_responses.mistral, { 2: { text: "late" } });

        // The past, by at_seq: right after the first event the session was pending at version 1.
        const firstSeq = (await callOk(client, "session_events", { session_id: id })).events[0].seq;
        const then = await callOk(client, "get_session", { session_id: id, at_seq: firstSeq });
        assert.equal(then.status, "pending");
        assert.equal(then.version, 1);

        const { events, next } = await callOk(client, "session_events", { session_id: id });
        assert.ok(next === undefined || next === null, `one page: ${next}`);
        assert.deepEqual(events.map((e) => e.type), [
            "created", "status_changed",
            "response_added", "response_added", "response_added",
            "response_added", "response_added", "response_added",
            "response_added", "consensus_set", "status_changed",
        ]);
        assert.deepEqual(events.map((e) => e.version), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        for (let i = 1; i < events.length; i++) assert.ok(events[i].seq > events[i - 1].seq);
        for (const e of events) assert.equal(e.session_id, id);
        assert.deepEqual(events[1].data, { from: "pending", to: "in_progress" });
        assert.deepEqual(events.at(-1).data, { from: "in_progress", to: "completed" });
        assert.deepEqual({ events }, (await rest(srv, "GET", `/v1/sessions/${id}/events`)).body);

        const stats = await callOk(client, "get_stats");
        assert.ok(stats.total_sessions >= 1);
        assert.ok(stats.by_status.completed >= 1);
        assert.deepEqual(stats, (await rest(srv, "GET", "/v1/stats")).body);

        const page = await callOk(client, "list_sessions", { status: "completed", limit: 1 });
        assert.equal(page.sessions.length, 1);
        assert.equal(page.sessions[0].session_id, id);
    });

    it("domain errors are isError results with the contract's error object", async () => {
        const { client } = sdk;
        const missing = randomUUID();
        for (const [tool, args] of [
            ["get_session", { session_id: missing }],
            ["add_response", { session_id: missing, provider: "claude", round: 1, response: "x" }],
            ["set_consensus", { session_id: missing, consensus: { decision: "x" } }],
            ["fail_session", { session_id: missing, error: "x" }],
            ["delete_session", { session_id: missing }],
            ["session_events", { session_id: missing }],
        ]) {
            await callError(client, tool, args, "session_not_found");
        }

        const id = (await callOk(client, "create_session", { query: "q" })).session_id;
        await callOk(client, "set_consensus", { session_id: id, consensus: { decision: "yes" } });
        const back = await callError(client, "update_session", { session_id: id, status: "pending" },
            "invalid_transition");
        assert.match(back.message, /completed -> pending/);
        const fail = await callError(client, "fail_session", { session_id: id, error: "late" },
            "invalid_transition");
        // The same message as REST gives for the same request.
        const restFail = await rest(srv, "POST", `/v1/sessions/${id}/fail`, { json: { error: "late" } });
        assert.equal(restFail.status, 409);
        assert.deepEqual({ error: fail }, restFail.body);
        // Nothing was appended by the refused calls.
        assert.equal((await callOk(client, "get_session", { session_id: id })).version, 3);

        const failedId = (await callOk(client, "create_session", { query: "q2" })).session_id;
        await callOk(client, "fail_session", { session_id: failedId, error: "provider timeout" });
        await callError(client, "set_consensus", { session_id: failedId, consensus: { d: 1 } },
            "invalid_transition");

        // Field checks answer as REST does, with the same code and message.
        for (const body of [
            { provider: "claude", round: 0, response: "x" },
            { provider: "", round: 1, response: "x" },
            { provider: "claude", round: "1", response: "x" },
            { provider: "claude", round: 1 },
        ]) {
            const viaRest = await rest(srv, "POST", `/v1/sessions/${failedId}/responses`, { json: body });
            assert.equal(viaRest.status, 400, viaRest.text);
            assert.equal(viaRest.body.error.code, "invalid_argument", viaRest.text);
            const r = await call(client, "add_response", { session_id: failedId, ...body });
            assert.equal(r.isError, true, JSON.stringify(r.sc));
            assert.deepEqual(r.sc, viaRest.body);
        }

        // if_version is If-Match: a stale version writes nothing and says which.
        const fresh = (await callOk(client, "create_session", { query: "versions" })).session_id;
        await callOk(client, "update_session", { session_id: fresh, metadata: { a: 1 }, if_version: 1 });
        const stale = await callError(client, "update_session",
            { session_id: fresh, metadata: { a: 2 }, if_version: 1 }, "version_mismatch");
        const restStale = await fetch(`${srv.url}/v1/sessions/${fresh}`, {
            method: "PATCH", headers: { "content-type": "application/json", "if-match": "\"1\"" },
            body: JSON.stringify({ metadata: { a: 2 } }),
        });
        assert.equal(restStale.status, 412);
        assert.deepEqual({ error: stale }, await restStale.json());
        assert.deepEqual((await callOk(client, "get_session", { session_id: fresh })).metadata, { a: 1 });
        const notUpdatable = await callError(client, "update_session", { session_id: fresh, query: "x" },
            "field_not_updatable");
        const restNotUpdatable = await rest(srv, "PATCH", `/v1/sessions/${fresh}`, { json: { query: "x" } });
        assert.equal(restNotUpdatable.status, 400, restNotUpdatable.text);
        assert.deepEqual({ error: notUpdatable }, restNotUpdatable.body);

        // delete_session, then the session is gone for both surfaces.
        const deleted = await callOk(client, "delete_session", { session_id: failedId });
        assert.deepEqual(deleted, { deleted: true, session_id: failedId });
        await callError(client, "get_session", { session_id: failedId }, "session_not_found");
        assert.equal((await rest(srv, "GET", `/v1/sessions/${failedId}`)).status, 404);
    });

    it("an unknown tool and unknown resource are protocol errors", async () => {
        const unknownTool = await mcpPost(srv, {
            jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "no_such_tool", arguments: {} },
        }, { "mcp-session-id": sdk.transport.sessionId });
        assert.equal(unknownTool.status, 200, unknownTool.text);
        assert.equal(unknownTool.body?.error?.code, -32602, unknownTool.text);
        const notObject = await mcpPost(srv, {
            jsonrpc: "2.0", id: 6, method: "tools/call", params: { name: "get_stats", arguments: [1] },
        }, { "mcp-session-id": sdk.transport.sessionId });
        assert.equal(notObject.body?.error?.code, -32602, notObject.text);
        await assert.rejects(sdk.client.readResource({ uri: sessionUri(randomUUID()) }),
            (e) => e.code === -32002);
        await assert.rejects(sdk.client.readResource({ uri: "test://static-text" }),
            (e) => e.code === -32002);
        await assert.rejects(sdk.client.subscribeResource({ uri: sessionUri(randomUUID()) }),
            (e) => e.code === -32002);
    });

    it("HTTP rules: session header, protocol version, DELETE, 202, SSE answer, Origin, 406", async () => {
        const ping = (id) => ({ jsonrpc: "2.0", id, method: "ping" });

        // initialize echoes a supported version and answers the newest for any other.
        for (const [asked, answered] of [["2025-06-18", "2025-06-18"], ["2025-03-26", "2025-03-26"],
            ["1999-01-01", PROTOCOL]]) {
            const res = await mcpPost(srv, {
                jsonrpc: "2.0", id: 1, method: "initialize",
                params: { protocolVersion: asked, capabilities: {}, clientInfo: { name: "raw", version: "1" } },
            });
            assert.equal(res.status, 200, res.text);
            assert.equal(res.body.result.protocolVersion, answered, res.text);
        }

        const sid = await rawSession(srv);
        const ok = await mcpPost(srv, ping(2), { "mcp-session-id": sid });
        assert.equal(ok.status, 200, ok.text);
        assert.match(ok.headers.get("content-type") ?? "", /^application\/json/);
        assert.deepEqual(ok.body, { jsonrpc: "2.0", id: 2, result: {} });

        const noSession = await mcpPost(srv, ping(3));
        assert.equal(noSession.status, 400, noSession.text);
        assert.equal(noSession.body?.error?.code, -32600, noSession.text);
        assert.equal(noSession.body.id, null);

        const altered = sid.slice(0, 3) + (sid[3] === "A" ? "B" : "A") + sid.slice(4);
        const bad = await mcpPost(srv, ping(4), { "mcp-session-id": altered });
        assert.equal(bad.status, 404, bad.text);
        assert.equal(bad.body?.error?.code, -32001, bad.text);
        const garbage = await mcpPost(srv, ping(4), { "mcp-session-id": "not-a-session" });
        assert.equal(garbage.status, 404, garbage.text);

        const version = await mcpPost(srv, ping(5), { "mcp-session-id": sid, "mcp-protocol-version": "1999-01-01" });
        assert.equal(version.status, 400, version.text);
        for (const v of ["2025-11-25", "2025-06-18", "2025-03-26"]) {
            const res = await mcpPost(srv, ping(6), { "mcp-session-id": sid, "mcp-protocol-version": v });
            assert.equal(res.status, 200, `${v}: ${res.text}`);
        }

        const note = await mcpPost(srv, { jsonrpc: "2.0", method: "notifications/cancelled",
            params: { requestId: 99 } }, { "mcp-session-id": sid });
        assert.equal(note.status, 202, note.text);
        assert.equal(note.text, "");
        const clientResponse = await mcpPost(srv, { jsonrpc: "2.0", id: 77, result: {} },
            { "mcp-session-id": sid });
        assert.equal(clientResponse.status, 202, clientResponse.text);

        // Only text/event-stream accepted: one SSE event with the answer, then the body ends.
        const sse = await mcpPost(srv, ping(7), { "mcp-session-id": sid, accept: "text/event-stream" });
        assert.equal(sse.status, 200, sse.text);
        assert.match(sse.headers.get("content-type") ?? "", /^text\/event-stream/);
        const dataLine = sse.text.split(/\r?\n/).find((l) => l.startsWith("data:"));
        assert.ok(dataLine, sse.text);
        assert.match(sse.text, /^event: message$/m);
        assert.deepEqual(JSON.parse(dataLine.slice(5)), { jsonrpc: "2.0", id: 7, result: {} });

        const plain = await mcpPost(srv, ping(8), { "mcp-session-id": sid, accept: "text/plain" });
        assert.equal(plain.status, 406, plain.text);

        const batch = await mcpPost(srv, [ping(9), ping(10)], { "mcp-session-id": sid });
        assert.equal(batch.status, 400, batch.text);
        assert.equal(batch.body?.error?.code, -32600, batch.text);
        const notJson = await mcpPost(srv, "{not json", { "mcp-session-id": sid });
        assert.equal(notJson.status, 400, notJson.text);
        assert.equal(notJson.body?.error?.code, -32700, notJson.text);
        const unknown = await mcpPost(srv, { jsonrpc: "2.0", id: 11, method: "no/such" }, { "mcp-session-id": sid });
        assert.equal(unknown.status, 200, unknown.text);
        assert.equal(unknown.body?.error?.code, -32601, unknown.text);
        const badParams = await mcpPost(srv, { jsonrpc: "2.0", id: 12, method: "resources/read", params: {} },
            { "mcp-session-id": sid });
        assert.equal(badParams.body?.error?.code, -32602, badParams.text);
        assert.equal(badParams.body.id, 12, badParams.text);

        // A cross-site page may not drive the endpoint; the server's own origin may.
        const evil = { "mcp-session-id": sid, origin: "http://evil.example" };
        assert.equal((await mcpPost(srv, ping(13), evil)).status, 403);
        const evilGet = await fetch(srv.mcpUrl, { headers: { ...evil, accept: "text/event-stream" } });
        await evilGet.body?.cancel();
        assert.equal(evilGet.status, 403);
        const evilDelete = await fetch(srv.mcpUrl, { method: "DELETE", headers: evil });
        assert.equal(evilDelete.status, 403);
        const own = await mcpPost(srv, ping(14), { "mcp-session-id": sid, origin: srv.url });
        assert.equal(own.status, 200, own.text);
        const evilInit = await mcpPost(srv, {
            jsonrpc: "2.0", id: 1, method: "initialize",
            params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: "raw", version: "1" } },
        }, { origin: "http://evil.example" });
        assert.equal(evilInit.status, 403, evilInit.text);

        const getPlain = await fetch(srv.mcpUrl, { headers: { "mcp-session-id": sid, accept: "application/json" } });
        await getPlain.body?.cancel();
        assert.equal(getPlain.status, 406);

        // DELETE ends the session on this node.
        const del = await fetch(srv.mcpUrl, { method: "DELETE", headers: { "mcp-session-id": sid } });
        await del.body?.cancel();
        assert.equal(del.status, 204);
        const afterDelete = await mcpPost(srv, ping(15), { "mcp-session-id": sid });
        assert.equal(afterDelete.status, 404, afterDelete.text);
        assert.equal(afterDelete.body?.error?.code, -32001, afterDelete.text);
        const delAgain = await fetch(srv.mcpUrl, { method: "DELETE", headers: { "mcp-session-id": sid } });
        await delAgain.body?.cancel();
        assert.equal(delAgain.status, 404);

        // params that are not an object: -32602 too, for the request's id (it was read).
        const live = await rawSession(srv);
        const arrayParams = await mcpPost(srv, { jsonrpc: "2.0", id: 16, method: "tools/list", params: [] },
            { "mcp-session-id": live });
        assert.equal(arrayParams.body?.error?.code, -32602, arrayParams.text);
        assert.equal(arrayParams.body.id, 16, arrayParams.text);
    });

    it("an Mcp-Session-Id altered in any one character is refused, before and after DELETE", async () => {
        const ping = (id) => ({ jsonrpc: "2.0", id, method: "ping" });
        const sid = await rawSession(srv);
        // One character changed anywhere: refused. At the last position every other character is
        // tried, the ones that decode to the same bytes as the original included (base64 leaves
        // low bits of a last character unused): an id is one string, or DELETE could be undone
        // by presenting a sibling of the ended id.
        const swap = (i, c) => sid.slice(0, i) + c + sid.slice(i + 1);
        const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const variants = [];
        for (const i of [3, Math.floor(sid.length / 2), sid.length - 5]) {
            variants.push(swap(i, sid[i] === "A" ? "B" : "A"));
        }
        // The last character of every dot-separated part after the first.
        const lastOfParts = [sid.length - 1];
        for (let i = sid.indexOf(".") + 1; i < sid.length; i++) if (sid[i] === ".") lastOfParts.push(i - 1);
        for (const i of lastOfParts) {
            for (const c of alphabet) if (c !== sid[i]) variants.push(swap(i, c));
        }
        const accepted = [];
        for (const v of variants) {
            const res = await mcpPost(srv, ping(4), { "mcp-session-id": v });
            if (res.status !== 404 || res.body?.error?.code !== -32001) accepted.push(`${v}: ${res.status}`);
        }
        assert.deepEqual(accepted, [], `altered ids accepted (original ${sid})`);
        const del = await fetch(srv.mcpUrl, { method: "DELETE", headers: { "mcp-session-id": sid } });
        await del.body?.cancel();
        assert.equal(del.status, 204);
        const revived = [];
        for (const v of [sid, ...variants]) {
            const res = await mcpPost(srv, ping(5), { "mcp-session-id": v });
            if (res.status !== 404) revived.push(`${v}: ${res.status}`);
        }
        assert.deepEqual(revived, [], `ids answered after DELETE of ${sid}`);
    });

    it("the GET stream resumes after Last-Event-ID with the notifications missed meanwhile", async () => {
        const sid = await rawSession(srv);
        const created = await rest(srv, "POST", "/v1/sessions", { json: { query: "resume me" } });
        assert.equal(created.status, 201, created.text);
        const id = created.body.session_id;
        const sub = await mcpPost(srv, { jsonrpc: "2.0", id: 2, method: "resources/subscribe",
            params: { uri: sessionUri(id) } }, { "mcp-session-id": sid });
        assert.equal(sub.status, 200, sub.text);
        assert.deepEqual(sub.body.result, {});

        const first = await openStream(srv, sid);
        const priming = await first.events.next();
        assert.match(priming.id ?? "", /^\d+$/, JSON.stringify(priming));
        assert.ok(priming.data === undefined || priming.data === "", JSON.stringify(priming));

        const add = (provider) => rest(srv, "POST", `/v1/sessions/${id}/responses`,
            { json: { provider, round: 1, response: provider } });
        assert.equal((await add("live")).status, 200);
        const live = await first.events.next();
        assert.equal(live.event, "message");
        assert.match(live.id, /^\d+$/);
        assert.ok(Number(live.id) > Number(priming.id));
        assert.deepEqual(JSON.parse(live.data), {
            jsonrpc: "2.0", method: "notifications/resources/updated", params: { uri: sessionUri(id) },
        });
        const lastSeen = live.id;
        await first.close();

        // Two changes while no stream is open, then resume after the last id seen.
        assert.equal((await add("missed-1")).status, 200);
        assert.equal((await add("missed-2")).status, 200);
        const events = (await rest(srv, "GET", `/v1/sessions/${id}/events`)).body.events;
        const missedSeqs = events.filter((e) => e.seq > Number(lastSeen)).map((e) => String(e.seq));
        assert.equal(missedSeqs.length, 2);

        const badResume = await fetch(srv.mcpUrl, { headers: { "mcp-session-id": sid,
            accept: "text/event-stream", "last-event-id": "not-a-seq" } });
        await badResume.body?.cancel();
        assert.equal(badResume.status, 400);

        const second = await openStream(srv, sid, { lastEventId: lastSeen });
        const got = [];
        while (got.length < 2) {
            const ev = await second.events.next();
            assert.ok(ev, "the stream ended early");
            if (ev.data === undefined || ev.data === "") continue;  // priming
            assert.deepEqual(JSON.parse(ev.data).params, { uri: sessionUri(id) });
            got.push(ev.id);
        }
        assert.deepEqual(got, missedSeqs);

        // Unsubscribed: a further change sends nothing; an event of another subscription comes
        // first instead.
        const unsub = await mcpPost(srv, { jsonrpc: "2.0", id: 3, method: "resources/unsubscribe",
            params: { uri: sessionUri(id) } }, { "mcp-session-id": sid });
        assert.deepEqual(unsub.body?.result, {}, unsub.text);
        const other = (await rest(srv, "POST", "/v1/sessions", { json: { query: "other" } })).body.session_id;
        await mcpPost(srv, { jsonrpc: "2.0", id: 4, method: "resources/subscribe",
            params: { uri: sessionUri(other) } }, { "mcp-session-id": sid });
        assert.equal((await add("after-unsubscribe")).status, 200);
        assert.equal((await rest(srv, "POST", `/v1/sessions/${other}/fail`, { json: { error: "x" } })).status, 200);
        const failSeq = (await rest(srv, "GET", `/v1/sessions/${other}/events`)).body.events.at(-1).seq;
        for (;;) {
            const next = await second.events.next();
            assert.ok(next, "the stream ended early");
            if (!next.data) continue;
            // Only the other session (its `created` may come too: it was committed just before
            // its subscription); never the unsubscribed one.
            assert.deepEqual(JSON.parse(next.data).params, { uri: sessionUri(other) }, next.data);
            if (next.id === String(failSeq)) break;
        }
        await second.close();
    });

    it("one GET stream per MCP session: a newer one closes the older; DELETE closes it", async () => {
        const sid = await rawSession(srv);
        const older = await openStream(srv, sid);
        assert.match((await older.events.next()).id ?? "", /^\d+$/);
        const newer = await openStream(srv, sid);
        assert.match((await newer.events.next()).id ?? "", /^\d+$/);
        assert.equal(await older.events.next(5_000), null, "the older stream ends");
        await older.close();

        // A tool result as one SSE event when the client accepts only event streams.
        const sse = await mcpPost(srv, { jsonrpc: "2.0", id: 3, method: "tools/call",
            params: { name: "create_session", arguments: { query: "over SSE" } } },
        { "mcp-session-id": sid, accept: "text/event-stream" });
        assert.equal(sse.status, 200, sse.text);
        const data = sse.text.split(/\r?\n/).filter((l) => l.startsWith("data:"));
        assert.equal(data.length, 1, sse.text);
        const answer = JSON.parse(data[0].slice(5));
        assert.equal(answer.id, 3);
        assert.equal(answer.result.isError, false);
        assert.match(answer.result.structuredContent.session_id, UUID_V4);

        const del = await fetch(srv.mcpUrl, { method: "DELETE", headers: { "mcp-session-id": sid } });
        await del.body?.cancel();
        assert.equal(del.status, 204);
        assert.equal(await newer.events.next(5_000), null, "DELETE ends the session's stream");
        await newer.close();
        const again = await fetch(srv.mcpUrl, { headers: { "mcp-session-id": sid, accept: "text/event-stream" } });
        await again.body?.cancel();
        assert.equal(again.status, 404);
    });
});

// ---- limits and options ----------------------------------------------------------------------

describe("MCP limits and options", () => {
    let dir;
    const servers = [];

    before(async () => {
        dir = await makeTempDir("mcp-sdk-limits");
    });

    after(async () => {
        for (const s of servers) await s.stopClean();
        await removeTempDir(dir);
    });

    async function start(name, extraArgs) {
        const s = new Server(name, { dataDir: path.join(dir, name), extraArgs });
        servers.push(s);
        await s.start();
        return s;
    }

    it("--mcp-max-streams bounds the GET streams (503, Retry-After); the body limit is 413", async () => {
        const s = await start("limited", ["--mcp-max-streams", "1", "--max-body-bytes", "4096"]);
        const a = await rawSession(s);
        const b = await rawSession(s);
        const first = await openStream(s, a);
        await first.events.next();
        const refused = await fetch(s.mcpUrl, { headers: { "mcp-session-id": b, accept: "text/event-stream" } });
        const body = await refused.text();
        assert.equal(refused.status, 503, body);
        assert.equal(refused.headers.get("retry-after"), "1");
        assert.equal(JSON.parse(body).error?.code, -32000, body);
        await first.close();

        // Once the stream is gone its place is free again.
        const deadline = Date.now() + 5_000;
        let second;
        while (!second) {
            const res = await fetch(s.mcpUrl, { headers: { "mcp-session-id": b, accept: "text/event-stream" } });
            if (res.status === 200) {
                second = res;
                break;
            }
            await res.body?.cancel();
            assert.ok(Date.now() < deadline, `the freed stream slot stays taken: ${res.status}`);
            await sleep(50);
        }
        await second.body.cancel();

        const big = await mcpPost(s, { jsonrpc: "2.0", id: 1, method: "tools/call",
            params: { name: "create_session", arguments: { query: "x".repeat(8192) } } },
        { "mcp-session-id": a });
        assert.equal(big.status, 413, big.text);
        assert.equal(big.body?.error?.code, "payload_too_large", big.text);
    });

    it("nodes sharing --mcp-key-file accept each other's session ids; another key does not", async () => {
        const key = path.join(dir, "shared.key");
        const one = await start("node-1", ["--mcp-key-file", key]);
        const two = await start("node-2", ["--mcp-key-file", key]);
        const sid = await rawSession(one);
        const ping = { jsonrpc: "2.0", id: 1, method: "ping" };
        const onTwo = await mcpPost(two, ping, { "mcp-session-id": sid });
        assert.equal(onTwo.status, 200, onTwo.text);
        // A restart keeps the key, so the id stays good.
        await one.stopClean();
        await one.start();
        assert.equal((await mcpPost(one, ping, { "mcp-session-id": sid })).status, 200);
        const other = await start("node-other-key", ["--mcp-key-file", path.join(dir, "other.key")]);
        const refused = await mcpPost(other, ping, { "mcp-session-id": sid });
        assert.equal(refused.status, 404, refused.text);
        assert.equal(refused.body?.error?.code, -32001, refused.text);
    });

    it("the expiry sweep notifies subscribers; an expired session answers as REST does", async () => {
        const s = await start("short-ttl", ["--ttl-seconds", "1", "--cleanup-interval", "1"]);
        const sid = await rawSession(s);
        // The stream first, so that an expiry right after the subscription cannot be missed.
        const stream = await openStream(s, sid);
        await stream.events.next();
        const created = await mcpPost(s, { jsonrpc: "2.0", id: 2, method: "tools/call",
            params: { name: "create_session", arguments: { query: "short-lived" } } }, { "mcp-session-id": sid });
        const id = created.body.result.structuredContent.session_id;
        const sub = await mcpPost(s, { jsonrpc: "2.0", id: 3, method: "resources/subscribe",
            params: { uri: sessionUri(id) } }, { "mcp-session-id": sid });
        assert.deepEqual(sub.body?.result, {}, sub.text);
        // The notification of the `expired` event comes (one for `created` may come first: it was
        // committed just before the subscription).
        const deadline = Date.now() + 10_000;
        for (;;) {
            const ev = await stream.events.next(Math.max(1, deadline - Date.now()));
            assert.ok(ev, "the stream ended");
            if (!ev.data) continue;
            assert.deepEqual(JSON.parse(ev.data).params, { uri: sessionUri(id) });
            const restEvents = (await rest(s, "GET", `/v1/sessions/${id}/events`)).body.events;
            const expired = restEvents.find((e) => e.type === "expired");
            if (expired && ev.id === String(expired.seq)) break;
            assert.equal(ev.id, String(restEvents[0].seq), `a notification for an unknown event: ${ev.id}`);
        }
        await stream.close();

        const got = await mcpPost(s, { jsonrpc: "2.0", id: 4, method: "tools/call",
            params: { name: "get_session", arguments: { session_id: id } } }, { "mcp-session-id": sid });
        assert.equal(got.body.result.isError, true, got.text);
        assert.deepEqual(got.body.result.structuredContent, (await rest(s, "GET", `/v1/sessions/${id}`)).body);
        assert.equal(got.body.result.structuredContent.error.code, "session_expired");
    });

    it("--no-mcp serves no /mcp at all", async () => {
        const s = await start("no-mcp", ["--no-mcp"]);
        const res = await mcpPost(s, { jsonrpc: "2.0", id: 1, method: "initialize",
            params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
        assert.equal(res.status, 404, res.text);
        assert.equal((await rest(s, "GET", "/v1/stats")).status, 200);
    });
});

// ---- with tokens -----------------------------------------------------------------------------

const execFileP = promisify(execFile);

async function newToken(name, scopes) {
    const { stdout } = await execFileP(binary, ["token", "new", name, scopes]);
    const [token, line] = stdout.trim().split("\n");
    assert.ok(token && line && line.startsWith(`${name} `), stdout);
    return { token, line };
}

describe("MCP with tokens", () => {
    let srv;
    let dataDir;
    let writer;
    let reader;

    before(async () => {
        dataDir = await makeTempDir("mcp-sdk-tokens");
        writer = await newToken("orchestrator", "write");
        reader = await newToken("dashboard", "read");
        const tokensFile = path.join(dataDir, "tokens");
        await writeFile(tokensFile, `${writer.line}\n${reader.line}\n`, { mode: 0o600 });
        srv = new Server("server with tokens", { dataDir: path.join(dataDir, "data"),
            extraArgs: ["--tokens-file", tokensFile] });
        await srv.start();
    });

    after(async () => {
        if (srv) await srv.stopClean();
        await removeTempDir(dataDir);
    });

    it("without Authorization every /mcp request is 401, and the SDK cannot connect", async () => {
        const init = await mcpPost(srv, {
            jsonrpc: "2.0", id: 1, method: "initialize",
            params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: "raw", version: "1" } },
        });
        assert.equal(init.status, 401, init.text);
        assert.equal(init.body?.error?.code, "unauthorized", init.text);
        assert.match(init.headers.get("www-authenticate") ?? "", /^Bearer /i);
        const wrong = await mcpPost(srv, { jsonrpc: "2.0", id: 1, method: "ping" },
            { authorization: "Bearer not-a-token" });
        assert.equal(wrong.status, 401, wrong.text);
        const get = await fetch(srv.mcpUrl, { headers: { accept: "text/event-stream" } });
        await get.body?.cancel();
        assert.equal(get.status, 401);
        await assert.rejects(sdkClient(srv));
    });

    it("a read token reads but cannot write; the writer is the actor of its events", async () => {
        const w = await sdkClient(srv, { token: writer.token });
        const r = await sdkClient(srv, { token: reader.token });
        try {
            const id = (await callOk(w.client, "create_session", { query: "who did it?" })).session_id;
            await callOk(w.client, "add_response", { session_id: id, provider: "claude", round: 1, response: "a" });

            const seen = await callOk(r.client, "get_session", { session_id: id });
            assert.equal(seen.version, 2);
            await callOk(r.client, "list_sessions");
            await callOk(r.client, "get_stats");
            await callOk(r.client, "session_events", { session_id: id });
            const read = await r.client.readResource({ uri: sessionUri(id) });
            assert.equal(JSON.parse(read.contents[0].text).session_id, id);

            const denied = await callError(r.client, "create_session", { query: "no" }, "forbidden");
            assert.match(denied.message, /write/);
            for (const [tool, a] of [
                ["add_response", { session_id: id, provider: "x", round: 1, response: 1 }],
                ["set_consensus", { session_id: id, consensus: {} }],
                ["fail_session", { session_id: id, error: "x" }],
                ["update_session", { session_id: id, status: "in_progress" }],
                ["delete_session", { session_id: id }],
            ]) {
                await callError(r.client, tool, a, "forbidden");
            }
            assert.equal((await callOk(w.client, "get_session", { session_id: id })).version, 2);

            const events = await rest(srv, "GET", `/v1/sessions/${id}/events`, { token: writer.token });
            assert.equal(events.status, 200, events.text);
            assert.deepEqual(events.body.events.map((e) => e.actor), ["orchestrator", "orchestrator"]);

            // An MCP session belongs to the token that made it.
            const stolen = await mcpPost(srv, { jsonrpc: "2.0", id: 9, method: "ping" }, {
                "mcp-session-id": r.transport.sessionId, authorization: `Bearer ${writer.token}`,
            });
            assert.equal(stolen.status, 404, stolen.text);
            const own = await mcpPost(srv, { jsonrpc: "2.0", id: 9, method: "ping" }, {
                "mcp-session-id": r.transport.sessionId, authorization: `Bearer ${reader.token}`,
            });
            assert.equal(own.status, 200, own.text);
        } finally {
            await w.close().catch(() => {});
            await r.close().catch(() => {});
        }
    });
});
