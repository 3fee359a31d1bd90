// The dashboard under load, measured from outside: a real server with many sessions, the page in
// headless Chromium, and a fixed burst of events written over REST while the page is open. What is
// measured is what a person at the screen would see: how long frames take while the burst arrives,
// and how far the page falls behind the log. It measures and reports; it asserts no time.
//
//   node bench/dashboard_load.mjs [--binary build/release/quorum] [--runs 3] [--sessions 20000]
//       [--rate 500] [--duration 20] [--viewports desktop,mobile] [--chromium /usr/bin/chromium]
//       [--web-root web] [--profile FILE] [--json FILE]
//
// Each run (per viewport): a fresh server on a fresh data folder, `--sessions` sessions created
// over REST (32 keep-alive connections), the page opened at the viewport and waited for until it
// shows every session and has applied every event up to the audit head; then the burst: `--rate`
// events/s for `--duration` s on a fixed schedule (open loop: request i leaves at t0 + i/rate
// whatever the previous ones are doing), each a status change or a response, spread over
// sessions across the whole list. Then the page is given time to catch up with the final head.
//
// Figures (per run, then the median of the runs for each):
// - frames: the intervals between requestAnimationFrame callbacks during the burst (p50, p95,
//   p99, max, in ms; at 60 Hz an idle page shows 16.7 ms), and the long animation frames (over
//   50 ms) the page reported: their count and their total blocking time.
// - lag_seq: every 100 ms, the audit head's seq (GET /v1/audit/head) minus the page's last seq
//   (window.quorumDashboard.lastSeq): how many committed events the page had not yet received.
// - apply: for every event of the burst, the time from its commit (its `at`, the server's clock,
//   the same machine) to the first animation frame at which the page had applied it (its seq at
//   or below the page's lastSeq, i.e. the frame that draws it): p50, p95, p99, max in ms.
// - writes: the burst as sent (requests, errors, the rate achieved, the REST latency p50/p99).
//
// One JSON line per run and one summary JSON line (medians) go to stdout, with a human summary on
// stderr. Needs Node.js >= 20 and playwright-core, taken from tests/browser/node_modules.

import { createRequire } from "node:module";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { QuorumServer, makeTempDir, removeTempDir, sleep } from "../tests/support/server.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const require = createRequire(path.join(root, "tests/browser/package.json"));
const { chromium } = require("playwright-core");

// --- options -------------------------------------------------------------------------------------

const VIEWPORTS = { desktop: { width: 1280, height: 800 }, mobile: { width: 390, height: 844 } };

function parseArgs(argv) {
    const o = {
        binary: path.join(root, "build/release/quorum"), runs: 3, sessions: 20_000, rate: 500,
        duration: 20, viewports: ["desktop", "mobile"], chromium: process.env.QUORUM_CHROMIUM || "/usr/bin/chromium",
        webRoot: path.join(root, "web"), profile: null, json: null,
    };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const v = () => argv[++i];
        if (a === "--binary") o.binary = path.resolve(v());
        else if (a === "--runs") o.runs = Number(v());
        else if (a === "--sessions") o.sessions = Number(v());
        else if (a === "--rate") o.rate = Number(v());
        else if (a === "--duration") o.duration = Number(v());
        else if (a === "--viewports") o.viewports = v().split(",");
        else if (a === "--chromium") o.chromium = v();
        else if (a === "--web-root") o.webRoot = path.resolve(v());
        else if (a === "--profile") o.profile = path.resolve(v());
        else if (a === "--json") o.json = path.resolve(v());
        else if (a === "--help" || a === "-h") {
            console.log("usage: node bench/dashboard_load.mjs [--binary B] [--runs N] [--sessions N] [--rate N]\n" +
                "  [--duration S] [--viewports desktop,mobile] [--chromium PATH] [--web-root DIR] [--profile FILE] [--json FILE]");
            process.exit(0);
        } else throw new Error(`unknown option ${a}`);
    }
    for (const vp of o.viewports) if (!VIEWPORTS[vp]) throw new Error(`unknown viewport ${vp}`);
    return o;
}

const opt = parseArgs(process.argv.slice(2));

// --- statistics ----------------------------------------------------------------------------------

function percentile(sorted, p) {
    if (sorted.length === 0) return null;
    const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[i];
}

function summary(values) {
    const s = [...values].sort((a, b) => a - b);
    const r = (x) => (x === null ? null : Math.round(x * 10) / 10);
    return { n: s.length, p50: r(percentile(s, 50)), p95: r(percentile(s, 95)), p99: r(percentile(s, 99)),
        max: r(s.length ? s[s.length - 1] : null) };
}

function median(values) {
    const s = values.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
    if (s.length === 0) return null;
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// --- REST ----------------------------------------------------------------------------------------

async function call(base, method, target, body) {
    const res = await fetch(base + target, {
        method, headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${target}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
}

async function pool(count, concurrency, fn) {
    let next = 0;
    const worker = async () => {
        while (next < count) await fn(next++);
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
}

const QUERIES = ["Should we use microservices or a monolith?", "Which message queue for 10k events/s?",
    "Postgres or SQLite for an embedded audit log?", "How should we shard the session index?",
    "Is a CRDT worth it for the shared editor?", "Rust or C++ for the ingest path?"];
const MODES = ["full_deliberation", "quick_consensus", "devils_advocate"];

async function createSessions(base, n) {
    const ids = new Array(n);
    await pool(n, 32, async (i) => {
        const s = await call(base, "POST", "/v1/sessions",
            { query: `${QUERIES[i % QUERIES.length]} #${i}`, mode: MODES[i % MODES.length] });
        ids[i] = s.session_id;
    });
    return ids;
}

// The burst's schedule: `total` operations over `steps.length` phases; operation i acts on
// session perm(i mod S) with step floor(i / S), S = total / steps. A session's steps are S
// operations (S / rate seconds) apart, so they never race each other; consecutive operations
// touch sessions far apart in the list.
const STEPS = [
    { kind: "status", status: "in_progress" },
    { kind: "response", provider: "claude" },
    { kind: "response", provider: "gpt-4" },
    { kind: "response", provider: "gemini" },
    { kind: "status", status: "completed" },
];
const ANSWER = "A monolith first: one deployable, one database, clear module boundaries. Split out a " +
    "service only when a team or a scaling limit asks for it; until then the network is a cost " +
    "without a benefit.";

function burstPlan(ids, total) {
    const S = Math.ceil(total / STEPS.length);
    const stride = Math.max(1, Math.floor(ids.length / S));
    const plan = [];
    for (let i = 0; i < total; i++) {
        const step = STEPS[Math.floor(i / S)];
        const k = i % S;
        // Spread the S sessions over the whole list, in an order that jumps around it.
        const slot = (k * 7919) % S;
        const id = ids[(slot * stride) % ids.length];
        if (step.kind === "status") plan.push(["PATCH", `/v1/sessions/${id}`, { status: step.status }]);
        else plan.push(["POST", `/v1/sessions/${id}/responses`, {
            provider: step.provider, round: 1,
            response: { text: ANSWER, confidence: 0.8, tokens: 412, latency_ms: 1830 },
        }]);
    }
    return plan;
}

// Sends plan[i] at t0 + i * 1000 / rate ms, whatever is still in flight (open loop).
async function runBurst(base, plan, rate) {
    const latencies = [];
    let errors = 0;
    const firstError = [];
    const inflight = new Set();
    const t0 = performance.now();
    let i = 0;
    while (i < plan.length) {
        const due = Math.floor(((performance.now() - t0) * rate) / 1000) + 1;
        for (; i < Math.min(due, plan.length); i++) {
            const [method, target, body] = plan[i];
            const start = performance.now();
            const p = call(base, method, target, body)
                .then(() => latencies.push(performance.now() - start))
                .catch((e) => { errors++; if (firstError.length === 0) firstError.push(String(e.message).slice(0, 200)); })
                .finally(() => inflight.delete(p));
            inflight.add(p);
        }
        await sleep(2);
    }
    const sentMs = performance.now() - t0;
    await Promise.all([...inflight]);
    return { requests: plan.length, errors, first_error: firstError[0] ?? null,
        sent_rate: Math.round((plan.length / sentMs) * 1000), latency_ms: summary(latencies) };
}

async function eventsAfter(base, after) {
    const out = [];
    for (let cursor = after; ;) {
        const page = await call(base, "GET", `/v1/events?after=${cursor}&limit=1000`);
        out.push(...page.events);
        if (page.next === null || page.events.length === 0) return out;
        cursor = page.next;
    }
}

// --- the page ------------------------------------------------------------------------------------

// Installed in the page just before the burst: one rAF loop recording (time, lastSeq) per frame,
// and the long animation frames (or long tasks, where those are not reported).
function installProbe() {
    const probe = { frames: [], long: [], kind: null };
    const d = window.quorumDashboard;
    const tick = (t) => {
        if (probe.stopped) return;
        probe.frames.push([performance.timeOrigin + t, d.lastSeq]);
        requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    const types = PerformanceObserver.supportedEntryTypes;
    probe.kind = types.includes("long-animation-frame") ? "long-animation-frame" : "longtask";
    probe.observer = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
            const scripts = (e.scripts || []).map((s) => ({
                invoker: s.invoker, source: `${s.sourceURL}:${s.sourceFunctionName}`, duration: Math.round(s.duration),
            }));
            probe.long.push({ start: e.startTime, duration: e.duration,
                blocking: e.blockingDuration ?? Math.max(0, e.duration - 50),
                render: e.renderStart ? e.startTime + e.duration - e.renderStart : null, scripts });
        }
    });
    probe.observer.observe({ type: probe.kind });
    window.__dashProbe = probe;
}

function collectProbe() {
    const p = window.__dashProbe;
    p.stopped = true;
    p.observer.disconnect();
    return { frames: p.frames, long: p.long, kind: p.kind };
}

async function waitInSync(page, base, sessions, timeoutMs) {
    const head = (await call(base, "GET", "/v1/audit/head")).seq;
    await page.waitForFunction(([h, n]) => {
        const d = window.quorumDashboard;
        return d && d.connection === "connected" && d.lastSeq >= h && d.sessions().length >= n;
    }, [head, sessions], { timeout: timeoutMs, polling: 100 });
    return head;
}

// The share of the machine's CPU time that was busy over one second (/proc/stat), before a run:
// other load on a shared machine slows the page and the server alike.
async function busyPct() {
    const { readFile } = await import("node:fs/promises");
    const read = async () => (await readFile("/proc/stat", "utf8")).split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const a = await read();
    await sleep(1000);
    const b = await read();
    const d = b.map((x, i) => x - a[i]);
    const total = d.reduce((x, y) => x + y, 0);
    const idle = d[3] + (d[4] ?? 0);
    return total ? Math.round(((total - idle) / total) * 100) : null;
}

// The functions with the most self time in a V8 CPU profile (the page's main thread).
function topSelfTime(profile, base) {
    const dt = new Map();
    for (let i = 0; i < profile.samples.length; i++) {
        dt.set(profile.samples[i], (dt.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
    }
    const self = new Map();
    for (const n of profile.nodes) {
        const f = n.callFrame;
        const key = `${f.functionName || "(anonymous)"} ${f.url.replace(base, "")}:${f.lineNumber + 1}`;
        self.set(key, (self.get(key) ?? 0) + (dt.get(n.id) ?? 0) / 1000);
    }
    return [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([fn, ms]) => ({ fn, ms: Math.round(ms) }));
}

async function oneRun(browser, vpName, runIndex) {
    const tmp = await makeTempDir("dash-bench");
    const server = new QuorumServer({ binary: opt.binary, name: "quorum", dataDir: path.join(tmp, "data"),
        args: ["--web-root", opt.webRoot] });
    let context = null;
    try {
        const busy = await busyPct();
        await server.start();
        const base = server.url;
        const tc = performance.now();
        const ids = await createSessions(base, opt.sessions);
        const createS = (performance.now() - tc) / 1000;

        context = await browser.newContext({ viewport: VIEWPORTS[vpName], deviceScaleFactor: 1 });
        const page = await context.newPage();
        const errors = [];
        page.on("pageerror", (e) => errors.push(String(e.message)));
        const tl = performance.now();
        await page.goto(base + "/");
        const startSeq = await waitInSync(page, base, opt.sessions, 120_000);
        const loadS = (performance.now() - tl) / 1000;
        await sleep(1000);  // let the first frames after the load settle

        const plan = burstPlan(ids, Math.round(opt.rate * opt.duration));
        await page.evaluate(installProbe);
        let cdp = null;
        if (opt.profile && runIndex === 0) {
            cdp = await context.newCDPSession(page);
            await cdp.send("Profiler.enable");
            await cdp.send("Profiler.setSamplingInterval", { interval: 500 });
            await cdp.send("Profiler.start");
        }

        // Lag samples every 100 ms while the burst runs and until the page has caught up.
        const lagSamples = [];
        let sampling = true;
        const sampler = (async () => {
            while (sampling) {
                const t = performance.now();
                const [h, s] = await Promise.all([call(base, "GET", "/v1/audit/head"),
                    page.evaluate(() => window.quorumDashboard.lastSeq)]);
                lagSamples.push(Math.max(0, h.seq - s));
                await sleep(Math.max(0, 100 - (performance.now() - t)));
            }
        })();
        const writes = await runBurst(base, plan, opt.rate);
        const endHead = (await call(base, "GET", "/v1/audit/head")).seq;
        const tCatch = performance.now();
        await page.waitForFunction((h) => window.quorumDashboard.lastSeq >= h, endHead, { timeout: 60_000, polling: 50 });
        const catchUpMs = performance.now() - tCatch;
        await sleep(300);
        sampling = false;
        await sampler;
        let profileTop = null;
        if (cdp) {
            const { profile } = await cdp.send("Profiler.stop");
            await writeFile(`${opt.profile.replace(/\.cpuprofile$/, "")}-${vpName}.cpuprofile`, JSON.stringify(profile));
            profileTop = topSelfTime(profile, base);
        }
        const probe = await page.evaluate(collectProbe);

        // Frames during the burst: from the first frame to the one that drew the last event.
        const frames = probe.frames;
        const deltas = [];
        for (let i = 1; i < frames.length; i++) {
            deltas.push(frames[i][0] - frames[i - 1][0]);
            if (frames[i][1] >= endHead) break;
        }
        // Commit-to-frame delay of every burst event.
        const events = (await eventsAfter(base, startSeq)).filter((e) => e.seq <= endHead);
        const apply = [];
        let f = 0;
        for (const ev of events) {
            while (f < frames.length && frames[f][1] < ev.seq) f++;
            if (f === frames.length) break;
            apply.push(frames[f][0] - Date.parse(ev.at));
        }
        const long = probe.long;
        const hot = new Map();
        for (const l of long) {
            for (const s of l.scripts) hot.set(s.source, (hot.get(s.source) ?? 0) + s.duration);
        }
        const result = {
            bench: "dashboard", viewport: vpName, width: VIEWPORTS[vpName].width, run: runIndex + 1,
            sessions: opt.sessions, rate: opt.rate, duration_s: opt.duration, busy_pct: busy,
            create_s: Math.round(createS * 10) / 10, page_load_s: Math.round(loadS * 10) / 10,
            writes, events: events.length,
            frames_ms: summary(deltas),
            long_frames: { kind: probe.kind, count: long.length,
                blocking_ms: Math.round(long.reduce((a, l) => a + l.blocking, 0)),
                max_ms: Math.round(long.reduce((a, l) => Math.max(a, l.duration), 0)) },
            lag_seq: summary(lagSamples), apply_ms: summary(apply), catch_up_ms: Math.round(catchUpMs),
            hot_scripts: [...hot.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5)
                .map(([source, ms]) => ({ source: source.replace(base, ""), ms })),
            page_errors: errors.length,
            ...(profileTop ? { profile_self_ms: profileTop } : {}),
        };
        return result;
    } finally {
        if (context) await context.close().catch(() => {});
        await server.stop().catch(() => {});
        await removeTempDir(tmp);
    }
}

// --- main ----------------------------------------------------------------------------------------

const browser = await chromium.launch({ executablePath: opt.chromium, headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"] });
const cpu = os.cpus();
const machine = { cpus: cpu.length, model: cpu[0]?.model, mem_gib: Math.round(os.totalmem() / 2 ** 30 * 10) / 10,
    kernel: os.release(), chromium: browser.version(), node: process.version, load: os.loadavg().map((x) => Math.round(x * 100) / 100) };
console.error(`machine: ${JSON.stringify(machine)}`);
const all = [];
try {
    for (let r = 0; r < opt.runs; r++) {
        for (const vp of opt.viewports) {
            const res = await oneRun(browser, vp, r);
            all.push(res);
            console.log(JSON.stringify(res));
            console.error(`${vp} run ${r + 1}: frames p50 ${res.frames_ms.p50} p95 ${res.frames_ms.p95} ` +
                `p99 ${res.frames_ms.p99} max ${res.frames_ms.max} ms; long frames ${res.long_frames.count} ` +
                `(blocking ${res.long_frames.blocking_ms} ms); lag ${res.lag_seq.p95}/${res.lag_seq.max} seq (p95/max); ` +
                `apply p50 ${res.apply_ms.p50} p95 ${res.apply_ms.p95} max ${res.apply_ms.max} ms; ` +
                `writes ${res.writes.sent_rate}/s, errors ${res.writes.errors}; load ${res.page_load_s} s; busy before ${res.busy_pct} %`);
        }
    }
} finally {
    await browser.close();
}

const out = { bench: "dashboard_summary", runs: opt.runs, sessions: opt.sessions, rate: opt.rate,
    duration_s: opt.duration, machine, viewports: {} };
for (const vp of opt.viewports) {
    const rs = all.filter((r) => r.viewport === vp);
    const m = (get) => median(rs.map(get));
    out.viewports[vp] = {
        frames_p50_ms: m((r) => r.frames_ms.p50), frames_p95_ms: m((r) => r.frames_ms.p95),
        frames_p99_ms: m((r) => r.frames_ms.p99), frames_max_ms: m((r) => r.frames_ms.max),
        long_frames: m((r) => r.long_frames.count), long_blocking_ms: m((r) => r.long_frames.blocking_ms),
        lag_seq_p95: m((r) => r.lag_seq.p95), lag_seq_max: m((r) => r.lag_seq.max),
        apply_p50_ms: m((r) => r.apply_ms.p50), apply_p95_ms: m((r) => r.apply_ms.p95),
        apply_p99_ms: m((r) => r.apply_ms.p99), apply_max_ms: m((r) => r.apply_ms.max),
        page_load_s: m((r) => r.page_load_s), sent_rate: m((r) => r.writes.sent_rate),
        write_errors: rs.reduce((a, r) => a + r.writes.errors, 0),
        values_frames_p95: rs.map((r) => r.frames_ms.p95), values_apply_p95: rs.map((r) => r.apply_ms.p95),
    };
}
console.log(JSON.stringify(out));
if (opt.json) await writeFile(opt.json, all.concat([out]).map((x) => JSON.stringify(x)).join("\n") + "\n");
