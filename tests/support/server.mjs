// The real `quorum` binary as a child process of a Node.js test: `serve` on a free loopback port
// with a data folder, ready once GET /readyz answers 200, stopped by its pid with SIGTERM (SIGKILL
// after a deadline, which fails the stop), and its exit code at hand for the tests that require a
// clean exit (a sanitizer report makes it 1). Every server still running when the test process
// exits, for whatever reason, is killed with SIGKILL by its pid.
//
// Node.js built-ins only (Node >= 18), so that every test folder imports it by a relative path:
//
//   import { QuorumServer, makeTempDir, removeTempDir } from "../support/server.mjs";
//   const tmp = await makeTempDir("contract-a");
//   const srv = new QuorumServer({ binary, name: "server A", dataDir: path.join(tmp, "data"),
//       args: ["--web-root", web] });
//   await srv.start();              // a new free port; srv.url is http://127.0.0.1:<port>
//   ...
//   await srv.stopClean();          // throws unless the exit was {code: 0, signal: null}
//   await srv.start();              // the same data folder again (replay)
//   await removeTempDir(tmp);
//
// A test that checks what the server answers while it is starting overrides isReady() in a
// subclass; one that needs more per-server state (a token, request helpers) subclasses too.
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

/// The children of this process that have not exited yet.
const running = new Set();
// Last resort: a test runner that exits for any reason takes no server with it.
process.on("exit", () => {
    for (const child of running) {
        try {
            process.kill(child.pid, "SIGKILL");
        } catch {
            // already gone
        }
    }
});

/// A TCP port on 127.0.0.1 that was free a moment ago (the kernel chose it).
export function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/// A new empty folder under the system temp dir, named quorum-<name>-XXXXXX.
export function makeTempDir(name) {
    return mkdtemp(path.join(os.tmpdir(), `quorum-${name}-`));
}

/// Removes a folder made by makeTempDir with everything in it; nothing happens for a falsy path.
export async function removeTempDir(dir) {
    if (dir) await rm(dir, { recursive: true, force: true });
}

/// How much of the server's stdout and stderr is kept (the end of it), for error messages.
const OUTPUT_KEEP = 100_000;

export class QuorumServer {
    /// binary: the quorum executable. name: how errors name this server. dataDir: --data.
    /// args: more options after `serve --listen … --data … --no-access-log`. port: a fixed port
    /// (kept across restarts, e.g. for a page that reconnects to the same URL); without it every
    /// start() takes a new free port. env: variables added to this process's environment.
    /// readyTimeoutMs / stopTimeoutMs: how long start() waits for readiness and stop() for the
    /// exit after SIGTERM.
    constructor({ binary, name = "quorum", dataDir, args = [], port = null, env = null,
        readyTimeoutMs = 30_000, stopTimeoutMs = 15_000 }) {
        if (!binary) throw new Error("QuorumServer: no binary");
        if (!dataDir) throw new Error("QuorumServer: no dataDir");
        this.binary = binary;
        this.name = name;
        this.dataDir = dataDir;
        this.args = args;
        this.fixedPort = port;
        this.port = port;
        this.env = env;
        this.readyTimeoutMs = readyTimeoutMs;
        this.stopTimeoutMs = stopTimeoutMs;
        this.child = null;
        /// The end of what the server wrote to stdout and stderr, interleaved as it came.
        this.output = "";
        /// httpRequest()'s keep-alive connections, made at its first request after a start.
        this.agent = null;
        /// Resolves to {code, signal} when the current child exits; null before the first start.
        this.exited = null;
    }

    get url() {
        return `http://127.0.0.1:${this.port}`;
    }

    /// Whether the child is running (started and not exited).
    get alive() {
        return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
    }

    /// One HTTP request to the server on its keep-alive connections (node:http: a third of the
    /// client CPU of fetch(), which matters to a test that sends thousands). headers: an object;
    /// body: a string or undefined. Resolves to {status, headers, text}; rejects when there is no
    /// answer (the server is down, say). The connections are closed when the server stops.
    httpRequest(method, target, { headers = {}, body } = {}) {
        this.agent ??= new http.Agent({ keepAlive: true });
        const agent = this.agent;
        const all = body === undefined ? headers : { ...headers, "content-length": Buffer.byteLength(body) };
        return new Promise((resolve, reject) => {
            const req = http.request(`${this.url}${target}`, { method, headers: all, agent }, (res) => {
                const chunks = [];
                res.on("data", (c) => chunks.push(c));
                res.on("error", reject);
                res.on("end", () => resolve({
                    status: res.statusCode, headers: res.headers,
                    text: Buffer.concat(chunks).toString("utf8"),
                }));
            });
            req.on("error", reject);
            req.end(body);
        });
    }

    /// Spawns the server and resolves once isReady() says so. Throws (with the server's output)
    /// when the server exits meanwhile or is not ready within readyTimeoutMs; the child is then
    /// left to stop() (or to the exit handler).
    async start() {
        if (this.alive) throw new Error(`${this.name} is running already`);
        this.port = this.fixedPort ?? await freePort();
        const argv = ["serve", "--listen", `127.0.0.1:${this.port}`, "--data", this.dataDir,
            "--no-access-log", ...this.args];
        const env = this.env ? { ...process.env, ...this.env } : process.env;
        const child = spawn(this.binary, argv, { stdio: ["ignore", "pipe", "pipe"], env });
        this.child = child;
        running.add(child);
        const keep = (chunk) => {
            this.output += chunk.toString();
            if (this.output.length > 2 * OUTPUT_KEEP) this.output = this.output.slice(-OUTPUT_KEEP);
        };
        child.stdout.on("data", keep);
        child.stderr.on("data", keep);
        let gone = null;
        this.exited = new Promise((resolve) => {
            // "close" (not "exit"): stdout and stderr are read to their end by then.
            child.once("close", (code, signal) => {
                running.delete(child);
                gone = { code, signal };
                resolve(gone);
            });
        });
        const deadline = Date.now() + this.readyTimeoutMs;
        for (;;) {
            if (gone) {
                throw new Error(`${this.name} exited during start (${JSON.stringify(gone)}):\n` +
                    this.output);
            }
            if (Date.now() > deadline) {
                throw new Error(`${this.name} not ready in ${this.readyTimeoutMs / 1000} s:\n${this.output}`);
            }
            if (await this.isReady()) return;
            await sleep(25);
        }
    }

    /// One readiness probe, repeated every 25 ms by start(): GET /readyz answers 200. A subclass
    /// may check more; what it throws fails start().
    async isReady() {
        try {
            const res = await fetch(`${this.url}/readyz`);
            await res.arrayBuffer();
            return res.status === 200;
        } catch {
            return false;  // not listening yet
        }
    }

    /// SIGTERM by pid, then waits for the exit; returns {code, signal}, or null when it was never
    /// started. A server that is still running stopTimeoutMs after SIGTERM gets SIGKILL, and the
    /// stop throws. A server that exited by itself is not signalled: its outcome is returned.
    async stop() {
        this.agent?.destroy();
        this.agent = null;
        if (!this.child) return null;
        if (!this.alive) return await this.exited;
        process.kill(this.child.pid, "SIGTERM");
        let timer;
        const timeout = new Promise((resolve) => {
            timer = setTimeout(() => resolve("timeout"), this.stopTimeoutMs);
        });
        const outcome = await Promise.race([this.exited, timeout]);
        clearTimeout(timer);
        if (outcome === "timeout") {
            process.kill(this.child.pid, "SIGKILL");
            await this.exited;
            throw new Error(`${this.name} did not stop within ${this.stopTimeoutMs / 1000} s of ` +
                `SIGTERM:\n${this.output}`);
        }
        return outcome;
    }

    /// stop(), and throws unless the server exited with code 0 and no signal (a sanitizer report
    /// or a crash on the way out fails it). Nothing is checked when it was never started.
    async stopClean() {
        const outcome = await this.stop();
        if (outcome === null) return;
        if (outcome.code !== 0 || outcome.signal !== null) {
            throw new Error(`${this.name} exited with ${JSON.stringify(outcome)}:\n` +
                this.output.slice(-20_000));
        }
    }
}

// ---- the tests' PostgreSQL (scripts/postgres.sh; the ctest fixture `postgres`) ----------------

/// The superuser URI of the test PostgreSQL server: $QUORUM_TEST_POSTGRES (the URI itself), else
/// the first line of the file named by $QUORUM_TEST_POSTGRES_URI_FILE (what ctest sets). Throws
/// saying how to provide one when neither does: a test that needs PostgreSQL fails without it.
export async function postgresAdminUri() {
    const direct = process.env.QUORUM_TEST_POSTGRES;
    if (direct) return direct;
    const file = process.env.QUORUM_TEST_POSTGRES_URI_FILE;
    if (!file) {
        throw new Error("no test PostgreSQL server: set QUORUM_TEST_POSTGRES to its URI (start one " +
            "with `bash scripts/postgres.sh start DIR`, the URI is in DIR/uri), or run the test " +
            "through ctest, whose fixture `postgres` starts one and sets QUORUM_TEST_POSTGRES_URI_FILE");
    }
    let uri = "";
    try {
        uri = (await readFile(file, "utf8")).split("\n")[0].trim();
    } catch {
        // reported below
    }
    if (!uri) {
        throw new Error(`no test PostgreSQL server: ${file} (QUORUM_TEST_POSTGRES_URI_FILE) is ` +
            "missing or empty; the ctest fixture test postgres_start writes it");
    }
    return uri;
}

/// psql: from PATH, else from $QUORUM_PG_BIN or Debian's PostgreSQL 15 directory.
function psqlBinary() {
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
        if (dir && existsSync(path.join(dir, "psql"))) return path.join(dir, "psql");
    }
    return path.join(process.env.QUORUM_PG_BIN ?? "/usr/lib/postgresql/15/bin", "psql");
}

/// `uri` with its database (the URI's path) replaced by `database`.
function withDatabase(uri, database) {
    const u = new URL(uri);
    u.pathname = `/${database}`;
    return u.toString();
}

/// Runs one SQL statement on `uri` with psql; throws with psql's message when it fails.
async function psql(uri, sql) {
    try {
        await promisify(execFile)(psqlBinary(),
            ["--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1", "--dbname", uri, "--command", sql],
            { timeout: 30_000 });
    } catch (e) {
        throw new Error(`psql \`${sql}\` on ${uri} failed: ${e.stderr || e.message}`);
    }
}

/// A new, empty database with a random name on the test server (postgresAdminUri()). Returns
/// {uri, name, drop}; drop() removes it (WITH (FORCE): connections still open are ended).
export async function createTestDatabase() {
    const admin = await postgresAdminUri();
    const name = `quorum_test_${Math.random().toString(16).slice(2, 10)}${Date.now().toString(16)}`;
    await psql(admin, `CREATE DATABASE ${name}`);
    return {
        name,
        uri: withDatabase(admin, name),
        drop: () => psql(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
    };
}
