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

// The runner, the server and the page helpers are in harness.mjs (its API is at its top).

import assert from "node:assert/strict";

import {
    Server, dashboard, expectInSync, forEachViewport, freePort, launchBrowser, pageErrors, pool,
    renderedRows, runSuite, screenshot, sleep, test, timing, waitConnected, waitShown, waitTotal,
    TIMEOUT, VIEWPORTS,
} from "./harness.mjs";

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

await runSuite(async () => {
    const port = await freePort();
    let server = new Server({ port });
    await server.start();
    let streamServed = false;
    await test("GET /v1/stream upgrades to a WebSocket", async () => {
        streamServed = await server.streamServed();
        assert.ok(streamServed, "the server does not serve the live stream: the page cannot be live");
    });
    if (!streamServed) return;  // every later test needs the stream

    const context = await launchBrowser({ viewport: VIEWPORTS.desktop });
    const page = context.pages()[0] ?? await context.newPage();
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
        // Text answers (as markdown, as models write them), and one provider's as a JSON object.
        const answers = [
            ["claude", 1, "Put the **major version in the URL path**: it is visible, cacheable and easy to route."],
            ["gpt-4o", 1, "Headers keep URLs stable, but:\n\n- most clients handle path versions better\n- so do proxies and caches"],
            ["gemini", 1, { text: "URL versioning; reserve headers for content negotiation.", confidence: 0.8 }],
            ["claude", 2, "Agreed: `/v1` in the path, additive changes within a version, a `Sunset` header for old ones."],
            ["gpt-4o", 2, "## Path versions\n\nWith a deprecation policy of at least *twelve months*."],
            ["gemini", 2, { text: "Same conclusion; document the policy in the API guide.", confidence: 0.9 }],
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
        // The full response can be read: a cut one expands ("Show full"), a short one is whole.
        const cell = '.responses-grid tr[data-provider="gpt-4o"] td[data-round="2"]';
        const toggle = page.locator(`${cell} .response-toggle`);
        if (await toggle.isVisible()) await toggle.click();
        await page.waitForFunction((sel) => !document.querySelector(`${sel} .response`).classList.contains("cut"), cell);
        assert.match(await page.textContent(`${cell} .response-body`), /twelve months/);
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

    // The pictures of docs/dashboard.md (tests/browser/update_doc_images.sh copies them): the
    // overview and the session followed above, on a fresh page at each viewport.
    await forEachViewport("the overview and a session view, freshly loaded", async (p, vp) => {
        await p.goto(url);
        await waitConnected(p);
        const listed = await expectInSync(p, server);
        assert.equal(await p.textContent('[data-count="total"]'), String(listed.length));
        await p.waitForSelector("#feed li[data-seq]");
        await sleep(1100);  // the chart redraws once a second
        await screenshot(p, `tour-overview-${vp.name}`);

        await p.goto(`${url}#/sessions/${focus.session_id}`);
        await p.waitForFunction(() => document.querySelector("#session-content")?.dataset.version === "10");
        assert.equal(await p.textContent("#session-title"), focus.query);
        assert.match(await p.textContent(".consensus-text"), /Version the public API in the URL path/);
        await p.evaluate(() => {
            document.activeElement?.blur();  // no focus ring in the picture
            window.scrollTo(0, 0);
        });
        await screenshot(p, `tour-session-${vp.name}`);
    });

    await test("a new event log makes the page reload everything", async () => {
        await server.stop();
        server = new Server({ port });
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
        const secured = new Server({ token: "s3cret-token" });
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
        assert.deepEqual(pageErrors(page), []);
    });
});
