#!/usr/bin/env node
// Measures how long a resource update notification takes to reach an MCP subscriber: one client
// of the official TypeScript SDK (Client + StreamableHTTPClientTransport, from tests/mcp_sdk)
// subscribes to N sessions and receives notifications/resources/updated on its GET stream,
// while a writer in the same process appends events over REST
// (POST /v1/sessions/<id>/responses, keep-alive connections) at a fixed rate, round robin over
// the sessions.
//
//   node bench/mcp_notify.mjs                       # build/release/quorum, 3 runs
//   node bench/mcp_notify.mjs --url http://127.0.0.1:8080 --runs 1
//
// Every add_response appends exactly one event, so every 2xx write must be followed by exactly
// one notification for its session; writes to one session are N/rate s apart, so the
// notifications of a session arrive in the order of its writes. Latency:
//   from_commit: notification arrival (system clock) - the event's `at`, read back from the
//                session's history (the server's clock, taken just before the commit; the same
//                machine's clock): includes the commit and its fsync, as quorum_stream_load;
// and on this process's monotonic clock:
//   from_answer: notification arrival - arrival of the REST answer (the event was committed
//                before the answer was sent, so this is a lower bound of commit-to-notification;
//                it is negative when the notification wins the race);
//   from_send:   notification arrival - the moment the REST request was written (includes the
//                commit, its fsync and the HTTP round trip).
// A benchmark measures: it exits non-zero only when a run cannot be made (server, SDK, no
// notification at all), never because of a figure; lost notifications are reported.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const opts = {
    binary: path.join(repo, 'build/release/quorum'),
    url: '',
    sdk: path.join(repo, 'tests/mcp_sdk'),
    sessions: 100,
    rate: 200,
    duration: 20,
    runs: 3,
    connections: 8,
    port: 18495,
    drain: 5,
    token: process.env.QUORUM_TOKEN ?? '',
    baseline: false,
};

function usage() {
    return `Usage: node bench/mcp_notify.mjs [options]

  --binary PATH      quorum binary started fresh for every run (default: ${opts.binary})
  --url URL          measure a running server instead (no fresh server, no server CPU figure)
  --sdk DIR          folder whose node_modules holds @modelcontextprotocol/sdk (default: ${opts.sdk})
  --sessions N       sessions the client subscribes to (default: ${opts.sessions})
  --rate R           events appended per second over REST (default: ${opts.rate})
  --duration S       seconds of appending (default: ${opts.duration})
  --runs N           runs, each with a fresh server and client; medians at the end (default: ${opts.runs})
  --connections N    keep-alive connections of the REST writer (default: ${opts.connections})
  --port P           port of the fresh server (default: ${opts.port})
  --drain S          seconds to wait for the last notifications (default: ${opts.drain})
  --token T          bearer token for REST and MCP (default: $QUORUM_TOKEN)
  --baseline         first drive the same writes with no MCP client connected, for the server
                     CPU per event and the REST answer time without notifications
`;
}

for (let i = 2; i < process.argv.length; ++i) {
    const a = process.argv[i];
    if (a === '-h' || a === '--help') {
        process.stdout.write(usage());
        process.exit(0);
    }
    const key = a.replace(/^--/, '');
    if (key === 'baseline') {
        opts.baseline = true;
        continue;
    }
    if (!a.startsWith('--') || !(key in opts) || i + 1 >= process.argv.length) {
        process.stderr.write(usage());
        fail(`unknown option or missing value: ${a}`);
    }
    const v = process.argv[++i];
    opts[key] = typeof opts[key] === 'number' ? Number(v) : v;
}

// A run that cannot be made: thrown, so that the server is stopped on the way out.
class Fatal extends Error {}
function die(message) {
    throw new Fatal(message);
}
function fail(message) {
    process.stderr.write(`mcp_notify.mjs: ${message}\n`);
    process.exit(1);
}

const require = createRequire(path.join(opts.sdk, 'package.json'));
let sdk;
try {
    sdk = {
        ...require('@modelcontextprotocol/sdk/client/index.js'),
        ...require('@modelcontextprotocol/sdk/client/streamableHttp.js'),
        ...require('@modelcontextprotocol/sdk/types.js'),
    };
} catch (e) {
    fail(`the SDK is missing under ${opts.sdk} (npm ci there): ${e.message}`);
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
const now = () => performance.now();

function percentile(sorted, p) {
    if (sorted.length === 0) return NaN;
    const rank = Math.ceil((p / 100) * sorted.length);
    return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}
function median(values) {
    const v = values.filter(x => Number.isFinite(x)).sort((a, b) => a - b);
    if (v.length === 0) return NaN;
    return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}
const ms = x => (Number.isFinite(x) ? x.toFixed(2) : '-');

// One REST request on the keep-alive agent; resolves with {status, body, answered_at}.
function rest(agent, base, method, target, body) {
    return new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const headers = { Host: new URL(base).host };
        if (payload !== undefined) {
            headers['Content-Type'] = 'application/json';
            headers['Content-Length'] = Buffer.byteLength(payload);
        }
        if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
        const req = http.request(new URL(target, base), { method, agent, headers }, res => {
            const chunks = [];
            res.on('data', c => chunks.push(c));
            res.on('end', () => resolve({
                status: res.statusCode,
                body: Buffer.concat(chunks).toString(),
                answered_at: now(),
            }));
            res.on('error', reject);
        });
        req.on('error', reject);
        req.end(payload);
    });
}

function cpu_ticks(pid) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);  // utime + stime (fields 14 and 15)
}

// Share of the machine's CPU time used over one second while no server of this run is up (as
// scripts/bench.sh): other work on the machine lowers every figure.
async function cpu_busy_pct() {
    const sample = () => {
        const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9)
            .map(Number);
        return { total: f.reduce((a, b) => a + b, 0), idle: f[3] + f[4] };
    };
    const a = sample();
    await sleep(1000);
    const b = sample();
    const t = b.total - a.total;
    return t > 0 ? Math.round(100 * (1 - (b.idle - a.idle) / t)) : 0;
}

async function start_server(scratch) {
    const data = mkdtempSync(path.join(scratch, 'data.'));
    const server = spawn(opts.binary, ['serve', '--listen', `127.0.0.1:${opts.port}`, '--data', data,
        '--no-access-log', '--log-level', 'warn', '--snapshot-every', '0'],
        { stdio: ['ignore', 'ignore', 'inherit'] });
    const base = `http://127.0.0.1:${opts.port}`;
    const agent = new http.Agent({ keepAlive: false });
    for (let i = 0; i < 200; ++i) {
        if (server.exitCode !== null) break;
        try {
            if ((await rest(agent, base, 'GET', '/readyz')).status === 200) return { server, base };
        } catch { /* not listening yet */ }
        await sleep(50);
    }
    await stop_server(server);
    die('the server did not become ready');
}

async function stop_server(server) {
    if (server.exitCode !== null) return;
    const exited = new Promise(resolve => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
}

async function one_run(run, scratch) {
    const busy_pct = await cpu_busy_pct();
    const load1 = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
    let server = null;
    let base = opts.url.replace(/\/$/, '');
    if (!base) ({ server, base } = await start_server(scratch));
    const agent = new http.Agent({ keepAlive: true, maxSockets: opts.connections });

    try {
        const ids = [];
        for (let i = 0; i < opts.sessions; ++i) {
            const r = await rest(agent, base, 'POST', '/v1/sessions',
                { query: `notification benchmark ${run}-${i}`, mode: 'quick_consensus' });
            if (r.status !== 201) die(`POST /v1/sessions answered ${r.status}: ${r.body}`);
            ids.push(JSON.parse(r.body).session_id);
        }
        const index_of = new Map(ids.map((id, i) => [`quorum://sessions/${id}`, i]));

        // Per session, the writes not yet notified, oldest first.
        const pending = ids.map(() => []);
        let extra = 0;
        let arrived = 0;
        const on_update = n => {
            const t = now();
            const i = index_of.get(n.params.uri);
            if (i === undefined) return void ++extra;
            const queue = pending[i];
            // A write that was refused committed nothing: it gets no notification.
            while (queue.length && queue[0].status !== undefined && !queue[0].committed) queue.shift();
            const w = queue.shift();
            if (!w) return void ++extra;
            w.notified_at = t;
            w.notified_wall = performance.timeOrigin + t;
            ++arrived;
        };

        const rounds = ids.map(() => 0);
        const write = i => {
            const w = { session: i, sent_at: now() };
            pending[i].push(w);
            rounds[i] += 1;
            w.round = rounds[i];
            return rest(agent, base, 'POST', `/v1/sessions/${ids[i]}/responses`,
                { provider: 'bench', round: rounds[i], response: { text: `answer ${rounds[i]}` } })
                .then(r => {
                    w.status = r.status;
                    w.committed = r.status >= 200 && r.status < 300;
                    w.answered_at = r.answered_at;
                    return w;
                }, e => {
                    w.status = 0;
                    w.committed = false;
                    w.error = e.message;
                    return w;
                });
        };
        // Event k leaves at start + k / rate, to session k % sessions.
        const drive = async () => {
            const total = Math.round(opts.rate * opts.duration);
            const writes = [];
            const cpu_before = server ? cpu_ticks(server.pid) : 0;
            const start = now();
            let max_lag = 0;
            for (let k = 0; k < total; ++k) {
                const due = start + (k * 1000) / opts.rate;
                const wait = due - now();
                if (wait > 1) await sleep(wait);
                max_lag = Math.max(max_lag, now() - due);
                writes.push(write(k % ids.length));
            }
            return { results: await Promise.all(writes), cpu_before, start, max_lag };
        };
        const hz = 100;  // USER_HZ on Linux
        const cpu_per_event = (before, count) =>
            (server && count ? ((cpu_ticks(server.pid) - before) * 1e6) / hz / count : null);
        const stats = xs => ({ p50: percentile(xs, 50), p95: percentile(xs, 95),
            p99: percentile(xs, 99), max: xs.length ? xs[xs.length - 1] : NaN });
        const answer_times = ws => ws.map(w => w.answered_at - w.sent_at).sort((a, b) => a - b);

        let baseline = null;
        if (opts.baseline) {
            const b = await drive();
            const ok = b.results.filter(w => w.committed);
            baseline = { committed: ok.length, refused: b.results.length - ok.length,
                rest_answer_ms: stats(answer_times(ok)),
                server_cpu_us_per_event: cpu_per_event(b.cpu_before, ok.length) };
            for (const queue of pending) queue.length = 0;
        }

        const client = new sdk.Client({ name: 'mcp_notify', version: '1' });
        client.setNotificationHandler(sdk.ResourceUpdatedNotificationSchema, on_update);
        const errors = [];
        const headers = opts.token ? { Authorization: `Bearer ${opts.token}` } : {};
        const transport = new sdk.StreamableHTTPClientTransport(new URL('/mcp', base),
            { requestInit: { headers } });
        transport.onerror = e => errors.push(String(e?.message ?? e));
        await client.connect(transport);
        for (const id of ids) await client.subscribeResource({ uri: `quorum://sessions/${id}` });

        // Warm-up: one write per session, and wait until each is notified (the GET stream is
        // open and every subscription is in place). Not measured.
        const warm = await Promise.all(ids.map((_, i) => write(i)));
        const refused = warm.filter(w => !w.committed);
        if (refused.length) die(`warm-up write answered ${refused[0].status} ${refused[0].error ?? ''}`);
        const warm_deadline = now() + 10000;
        while (arrived < ids.length && now() < warm_deadline) await sleep(10);
        if (arrived < ids.length) {
            die(`only ${arrived} of ${ids.length} warm-up notifications arrived in 10 s` +
                (errors.length ? ` (transport: ${errors[0]})` : ''));
        }
        arrived = 0;

        // The measured phase.
        const { results, cpu_before, start, max_lag } = await drive();
        const committed = results.filter(w => w.committed);
        const drain_deadline = now() + opts.drain * 1000;
        while (committed.some(w => w.notified_at === undefined) && now() < drain_deadline) {
            await sleep(10);
        }
        const elapsed_s = (now() - start) / 1000;
        const server_cpu = cpu_per_event(cpu_before, committed.length);

        const notified = committed.filter(w => w.notified_at !== undefined);
        // Each event's `at` (the server's clock, taken when the command is decided, just before
        // the commit), read back from the session's history.
        const event_at = new Map();  // "<session index>/<round>" -> ms since the epoch
        for (let i = 0; i < ids.length; ++i) {
            const r = await rest(agent, base, 'GET', `/v1/sessions/${ids[i]}/events`);
            if (r.status !== 200) die(`GET /v1/sessions/<id>/events answered ${r.status}`);
            for (const e of JSON.parse(r.body).events) {
                if (e.type !== 'response_added') continue;
                const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?Z$/.exec(e.at);
                if (!m) die(`unexpected event time: ${e.at}`);
                event_at.set(`${i}/${e.data.round}`, Date.parse(`${m[1]}Z`) + Number(m[2] ?? 0) * 1000);
            }
        }
        const from_commit = notified.map(w => w.notified_wall - event_at.get(`${w.session}/${w.round}`))
            .filter(Number.isFinite).sort((a, b) => a - b);
        const from_answer = notified.map(w => w.notified_at - w.answered_at).sort((a, b) => a - b);
        const from_send = notified.map(w => w.notified_at - w.sent_at).sort((a, b) => a - b);
        const result = {
            bench: 'mcp_notify', run, sessions: ids.length, rate: opts.rate, duration_s: opts.duration,
            writes: results.length, committed: committed.length,
            refused: results.length - committed.length, notified: notified.length,
            lost: committed.length - notified.length, extra,
            from_commit_ms: stats(from_commit), from_answer_ms: stats(from_answer),
            from_send_ms: stats(from_send),
            rest_answer_ms: stats(answer_times(committed)), max_send_lag_ms: max_lag,
            server_cpu_us_per_event: server_cpu, elapsed_s, transport_errors: errors.length,
            baseline, busy_pct, load1,
        };
        await client.close();
        return result;
    } finally {
        agent.destroy();
        if (server) await stop_server(server);
    }
}

const scratch_root = path.join(repo, 'build/bench-data');
mkdirSync(scratch_root, { recursive: true });
const scratch = mkdtempSync(path.join(scratch_root, 'mcp_notify.'));
const results = [];
try {
    console.log(`machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), ` +
        `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.type()} ${os.release()}; node ${process.version}`);
    console.log(`${opts.url || opts.binary}: ${opts.sessions} subscribed sessions, ` +
        `${opts.rate} events/s for ${opts.duration} s over ${opts.connections} keep-alive connections`);
    for (let run = 1; run <= opts.runs; ++run) {
        const r = await one_run(run, scratch);
        results.push(r);
        console.log(`run ${run}: ${r.notified}/${r.committed} notified, lost ${r.lost}, extra ${r.extra}, ` +
            `refused ${r.refused}; from the event's at p50 ${ms(r.from_commit_ms.p50)} p95 ` +
            `${ms(r.from_commit_ms.p95)} p99 ${ms(r.from_commit_ms.p99)} max ${ms(r.from_commit_ms.max)} ms; ` +
            `from answer p50 ${ms(r.from_answer_ms.p50)} p95 ${ms(r.from_answer_ms.p95)} ` +
            `p99 ${ms(r.from_answer_ms.p99)} max ${ms(r.from_answer_ms.max)} ms; from send p50 ` +
            `${ms(r.from_send_ms.p50)} p95 ${ms(r.from_send_ms.p95)} p99 ${ms(r.from_send_ms.p99)} max ` +
            `${ms(r.from_send_ms.max)} ms; REST answer p99 ${ms(r.rest_answer_ms.p99)} ms; ` +
            `max send lag ${ms(r.max_send_lag_ms)} ms; busy ${r.busy_pct} %, load ${r.load1}` +
            (r.server_cpu_us_per_event !== null
                ? `; server CPU ${r.server_cpu_us_per_event.toFixed(1)} us/event` : ''));
        if (r.baseline) {
            const b = r.baseline;
            console.log(`run ${run} without an MCP client: ${b.committed} writes, refused ${b.refused}; ` +
                `REST answer p50 ${ms(b.rest_answer_ms.p50)} p99 ${ms(b.rest_answer_ms.p99)} ms` +
                (b.server_cpu_us_per_event !== null
                    ? `; server CPU ${b.server_cpu_us_per_event.toFixed(1)} us/event` : ''));
        }
        console.log(JSON.stringify(r));
    }
    const col = f => median(results.map(f));
    const all = f => results.map(r => ms(f(r))).join('; ');
    console.log(`\nmedians of ${results.length} runs (the runs in brackets)`);
    for (const [name, key] of [["from the event's at", 'from_commit_ms'],
        ['from answer', 'from_answer_ms'], ['from send', 'from_send_ms']]) {
        console.log(`${name}: p50 ${ms(col(r => r[key].p50))} ms, p95 ${ms(col(r => r[key].p95))} ms, ` +
            `p99 ${ms(col(r => r[key].p99))} ms (${all(r => r[key].p99)}), ` +
            `max ${ms(col(r => r[key].max))} ms`);
    }
    console.log(`lost ${results.reduce((s, r) => s + r.lost, 0)}, extra ` +
        `${results.reduce((s, r) => s + r.extra, 0)}, refused writes ` +
        `${results.reduce((s, r) => s + r.refused, 0)} (sums over the runs)` +
        (results[0].server_cpu_us_per_event !== null
            ? `; server CPU ${col(r => r.server_cpu_us_per_event).toFixed(1)} us/event` : ''));
    if (results[0].baseline && results[0].baseline.server_cpu_us_per_event !== null) {
        console.log(`without an MCP client: server CPU ` +
            `${col(r => r.baseline.server_cpu_us_per_event).toFixed(1)} us/event, REST answer p99 ` +
            `${ms(col(r => r.baseline.rest_answer_ms.p99))} ms`);
    }
} catch (e) {
    rmSync(scratch, { recursive: true, force: true });
    fail(e instanceof Fatal ? e.message : (e?.stack ?? String(e)));
}
rmSync(scratch, { recursive: true, force: true });
process.exit(0);
