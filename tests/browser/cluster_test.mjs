// Browser test of the dashboard in cluster mode: two `quorum serve` nodes on one PostgreSQL
// database (the ctest fixture's server, a fresh database for this file), nginx in front of them as
// the load balancer (scripts/nginx.sh; HTTP and WebSocket proxied, round robin), the dashboard
// opened through nginx. Sessions written directly on either node appear live in the page's table
// and feed, whichever node serves the page's stream. Desktop and 390 px wide.
//
//   node cluster_test.mjs <path to quorum> [--artifacts DIR] [--web-root DIR] [--chromium PATH]
//
// It needs the tests' PostgreSQL: $QUORUM_TEST_POSTGRES_URI_FILE (set by ctest, whose fixture
// `postgres` starts the server) or $QUORUM_TEST_POSTGRES (the URI). Without one it fails.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import {
    Server, expectInSync, forEachViewport, freePort, launchBrowser, makeTempDir, removeTempDir,
    renderedRows, runSuite, screenshot, sleep, test, waitConnected,
} from "./harness.mjs";
import { createTestDatabase } from "../support/server.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const nginxScript = path.resolve(here, "../../scripts/nginx.sh");

/** nginx on a free loopback port, balancing over the given node ports (as tests/support/nginx). */
class Nginx {
    constructor(upstreamPorts) {
        this.upstreams = upstreamPorts;
        this.dir = null;
        this.port = null;
    }

    get url() {
        return `http://127.0.0.1:${this.port}`;
    }

    configuration() {
        const servers = this.upstreams.map((p) => `    server 127.0.0.1:${p};`).join("\n");
        return `worker_processes 1;
events { worker_connections 1024; }
http {
  access_log access.log;
  client_body_temp_path tmp/body;
  proxy_temp_path tmp/proxy;
  fastcgi_temp_path tmp/fastcgi;
  uwsgi_temp_path tmp/uwsgi;
  scgi_temp_path tmp/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream quorum {
${servers}
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${this.port};
    client_max_body_size 0;
    location / {
      proxy_pass http://quorum;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
    }
  }
}
`;
    }

    async start() {
        // Directly under the temp dir: nginx runs as an unprivileged user, who must reach it.
        this.dir = await makeTempDir("nginx");
        await mkdir(path.join(this.dir, "tmp"), { recursive: true });
        const conf = path.join(this.dir, "nginx.conf");
        let last = null;
        for (let attempt = 0; attempt < 5; attempt++) {
            this.port = await freePort();
            await writeFile(conf, this.configuration());
            try {
                await promisify(execFile)("bash", [nginxScript, "start", this.dir, conf], { timeout: 30_000 });
                return;
            } catch (e) {
                last = e;
            }
        }
        throw new Error(`nginx did not start: ${last?.stderr ?? last}`);
    }

    async stop() {
        if (!this.dir) return;
        await promisify(execFile)("bash", [nginxScript, "stop", this.dir], { timeout: 30_000 });
        await removeTempDir(this.dir);
        this.dir = null;
    }
}

/** A write on `server` that may first wait for the node to apply `minSeq`; {body, seq}. */
async function write(server, method, target, body, minSeq = 0) {
    const headers = { "content-type": "application/json" };
    if (minSeq) headers["quorum-min-seq"] = String(minSeq);
    const res = await fetch(server.url + target, { method, headers, body: JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${target} on ${server.name}: ${res.status} ${text}`);
    const seq = Number(res.headers.get("quorum-seq"));
    assert.ok(seq > 0, `${method} ${target} answers Quorum-Seq`);
    return { body: JSON.parse(text), seq };
}

/** Waits until both nodes have applied `seq` (their audit heads reach it). */
async function waitApplied(nodes, seq) {
    for (const n of nodes) {
        const res = await fetch(`${n.url}/v1/audit/head`, { headers: { "quorum-min-seq": String(seq) } });
        assert.equal(res.status, 200, `${n.name} applies seq ${seq}`);
        await res.arrayBuffer();
    }
}

const feedHas = (page, seq) => page.waitForSelector(`#feed li[data-seq="${seq}"]`, { timeout: 15_000 });

await runSuite(async () => {
    const db = await createTestDatabase();
    const nodes = [
        new Server({ name: "node A", extraArgs: ["--store", db.uri] }),
        new Server({ name: "node B", extraArgs: ["--store", db.uri] }),
    ];
    const lb = new Nginx([]);
    try {
        await Promise.all(nodes.map((n) => n.start()));
        const [a, b] = nodes;
        lb.upstreams = [a.port, b.port];
        await lb.start();
        const seedA = await write(a, "POST", "/v1/sessions", { query: "Seeded through node A" });
        const seedB = await write(b, "POST", "/v1/sessions", { query: "Seeded through node B" }, seedA.seq);
        await waitApplied(nodes, seedB.seq);

        await test("the dashboard is served through nginx by either node", async () => {
            for (let i = 0; i < 4; i++) {
                const res = await fetch(`${lb.url}/`);
                assert.equal(res.status, 200);
                assert.match(res.headers.get("content-type") ?? "", /text\/html/);
                await res.arrayBuffer();
            }
        });

        await launchBrowser();
        await forEachViewport("sessions written on both nodes appear live in the table and feed through nginx", async (page, vp) => {
            await page.goto(`${lb.url}/`);
            await waitConnected(page);
            await expectInSync(page, a);
            const ids = (await renderedRows(page)).map((r) => r.id);
            assert.ok(ids.includes(seedA.body.session_id) && ids.includes(seedB.body.session_id),
                "both seeded sessions are in the table at load");

            // Live: a session made on A, another on B, then A's moved on through B and B's
            // answered through A; every event shows up in the open page, whichever node it
            // came from.
            const onA = await write(a, "POST", "/v1/sessions", { query: `Live on node A (${vp.name})` });
            const onB = await write(b, "POST", "/v1/sessions", { query: `Live on node B (${vp.name})` });
            const moved = await write(b, "PATCH", `/v1/sessions/${onA.body.session_id}`,
                { status: "in_progress" }, onA.seq);
            const answered = await write(a, "POST", `/v1/sessions/${onB.body.session_id}/responses`,
                { provider: "claude", round: 1, response: { text: "Through node A." } }, onB.seq);
            for (const w of [onA, onB, moved, answered]) await feedHas(page, w.seq);
            await page.waitForSelector(`#sessions-body tr[data-id="${onA.body.session_id}"][data-status="in_progress"]`,
                { timeout: 15_000 });
            await page.waitForSelector(`#sessions-body tr[data-id="${onB.body.session_id}"]`, { timeout: 15_000 });
            const rows = await renderedRows(page);
            assert.equal(rows.find((r) => r.id === onA.body.session_id)?.query, onA.body.query);
            assert.equal(rows.find((r) => r.id === onB.body.session_id)?.query, onB.body.query);
            const feedSeqs = await page.$$eval("#feed li", (lis) => lis.map((li) => Number(li.dataset.seq)));
            for (const w of [onA, onB, moved, answered]) {
                assert.equal(feedSeqs.filter((s) => s === w.seq).length, 1, `seq ${w.seq} once in the feed`);
            }
            await waitApplied(nodes, Math.max(moved.seq, answered.seq));
            await expectInSync(page, b);
            await sleep(100);
            await screenshot(page, `cluster-${vp.name}`);
        });
    } finally {
        for (const n of nodes) await n.stop().catch(() => {});
        await lb.stop().catch((e) => console.log(`nginx stop: ${e}`));
        await db.drop();
    }
});
