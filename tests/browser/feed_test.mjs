// Browser tests of the live feed's controls (web/js/feed.js): Pause/Resume (what arrives while
// paused is counted, not shown, and shown in order on resume, none lost or twice, at most the
// feed's 100), and the filters by event type, provider and session (a click on a session's name;
// a chip clears it), which apply to what is shown and to what arrives. Each test runs at desktop
// and at 390 px wide against the real server (sessions and events made over REST) in headless
// Chromium, and compares the feed with the server's log (GET /v1/events).
//
//   node feed_test.mjs <path to quorum> [--artifacts DIR] [--web-root DIR] [--chromium PATH]

import assert from "node:assert/strict";

import {
    Server, TIMEOUT, forEachViewport, launchBrowser, pool, runSuite, screenshot, sleep, test,
    waitConnected,
} from "./harness.mjs";

const FEED_MAX = 100;

/** The feed's items in display order: [{seq, type, session, sessionId, text}]. */
const feedItems = (page) => page.$$eval("#feed li", (lis) => lis.map((li) => ({
    seq: Number(li.dataset.seq),
    type: li.dataset.type,
    session: li.querySelector(".feed-session")?.textContent ?? "",
    sessionId: li.querySelector(".feed-session")?.dataset.sessionId ?? "",
    text: li.querySelector(".feed-text")?.textContent ?? "",
})));

const seqs = (items) => items.map((it) => it.seq);

/** Every event of the log, oldest first. */
async function allEvents(server) {
    const out = [];
    let after = 0;
    for (;;) {
        const page = await server.request("GET", `/v1/events?after=${after}&limit=1000`);
        out.push(...page.events);
        if (!page.next || page.events.length === 0) return out;
        after = page.next;
    }
}

/** The seqs the feed should show for a filter: the newest 100 matching events, newest first. */
const expected = (events, pred = () => true) =>
    events.filter(pred).slice(-FEED_MAX).reverse().map((ev) => ev.seq);

const providersOf = (ev) => ev.type === "response_added" ? [ev.data.provider]
    : ev.type === "responses_replaced" ? Object.keys(ev.data.provider_responses ?? {}) : [];

/** Waits until the page applied every event up to the server's head, and a frame drew them. */
async function caughtUp(page, server) {
    const head = await server.head();
    await page.waitForFunction((seq) => window.quorumDashboard.lastSeq >= seq, head, { timeout: TIMEOUT });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    return head;
}

/** Waits until the feed shows exactly `want` (seqs, in order). */
async function expectFeed(page, want, what) {
    try {
        await page.waitForFunction((w) => {
            const have = [...document.querySelectorAll("#feed li")].map((li) => Number(li.dataset.seq));
            return have.length === w.length && have.every((s, i) => s === w[i]);
        }, want, { timeout: 5_000 });
    } catch {
        // Show the difference.
        assert.deepEqual(seqs(await feedItems(page)), want, what);
    }
}

/** The feed's panel fits the viewport, and its controls sit inside it (none cut or pushed out). */
async function expectFits(page, vp) {
    const { right, bad } = await page.evaluate(() => {
        const panel = document.querySelector("#feed-panel").getBoundingClientRect();
        const bad = [];
        for (const el of document.querySelectorAll("#feed-panel .panel-head *, #feed-filters *")) {
            const r = el.getBoundingClientRect();
            if (r.width === 0 && r.height === 0) continue;
            if (r.left < panel.left - 0.5 || r.right > panel.right + 0.5) bad.push(el.id || el.className);
            if (el.scrollWidth > el.clientWidth + 1 && el.matches("button")) bad.push(`${el.id || el.className} (cut)`);
        }
        return { right: panel.right, bad };
    });
    assert.ok(right <= vp.width, `the feed's panel fits the viewport (its right edge at ${right} px)`);
    assert.deepEqual(bad, [], "the feed's controls stay inside its panel, uncut");
    if (vp.name === "desktop") {
        const [feed, table] = await Promise.all(["#feed-panel", ".sessions-panel"].map((sel) =>
            page.$eval(sel, (el) => el.getBoundingClientRect().bottom)));
        assert.ok(Math.abs(feed - table) <= 2, `the feed ends level with the table (${feed} vs ${table})`);
    }
}

/** At 390 px the filters are behind one button: opens them (a no-op at desktop, where they show). */
async function openFilters(page, vp) {
    if (vp.name === "mobile") {
        assert.equal(await page.isVisible("#feed-type"), false, "at 390 px the filters start folded");
        assert.equal(await page.isVisible("#feed-filter-toggle"), true);
        await page.click("#feed-filter-toggle");
        assert.equal(await page.getAttribute("#feed-filter-toggle", "aria-expanded"), "true");
    } else {
        assert.equal(await page.isVisible("#feed-filter-toggle"), false, "at desktop the filters always show");
    }
    assert.equal(await page.isVisible("#feed-type"), true);
    assert.equal(await page.isVisible("#feed-provider"), true);
}

const PROVIDERS = ["claude", "gpt-4o", "gemini"];

await runSuite(async () => {
    const server = new Server();
    await server.start();

    // The log before the page opens: 30 sessions with status changes, responses from three
    // providers, a replaced response map, consensus and a failure (over 150 events, so that the
    // feed's 100 are cut from a longer list and a filter reaches past them).
    const sessions = await pool(Array.from({ length: 30 }, (_, i) => i), 6, (i) =>
        server.create(`Feed ${String(i).padStart(2, "0")}: which queue for the ${["orders", "mail", "search"][i % 3]} service?`));
    await pool(sessions, 6, async (s, i) => {
        await server.setStatus(s.session_id, "in_progress");
        await server.addResponse(s.session_id, PROVIDERS[i % 3], 1, { text: `Answer ${i}` });
        await server.addResponse(s.session_id, PROVIDERS[(i + 1) % 3], 1, { text: `Other ${i}` });
        if (i % 4 === 0) await server.setConsensus(s.session_id, "SQS", 0.8);
        else if (i % 7 === 3) await server.fail(s.session_id, "provider timeout");
    });
    await server.update(sessions[1].session_id, {
        provider_responses: { "mistral": { "1": { text: "Replaced" } }, "claude": { "1": { text: "Kept" } } },
    });

    await launchBrowser();

    await forEachViewport("pause holds new events and counts them; resume shows them in order", async (page, vp) => {
        await page.goto(`${server.url}/`);
        await waitConnected(page);
        let head = await caughtUp(page, server);
        await expectFeed(page, expected(await allEvents(server)), "the feed starts with the log's 100 newest");
        assert.equal(await page.isVisible("#feed-new"), false, "no count while live");

        await page.click("#feed-pause");
        assert.equal(await page.getAttribute("#feed-pause", "aria-pressed"), "true");
        assert.equal((await page.textContent("#feed-pause")).trim(), "Resume");
        const before = seqs(await feedItems(page));

        // Events of several types and sessions while paused.
        const headBefore = head;
        const a = sessions[2].session_id;
        const b = sessions[5].session_id;
        const c = await server.create(`Made while the feed was paused (${vp.name})`);
        await server.addResponse(a, "claude", 2, { text: "Round two" });
        await server.addResponse(b, "gemini", 2, { text: "Round two" });
        await server.setConsensus(a, "Kafka", 0.9);
        await server.update(b, { metadata: { owner: vp.name } });
        await server.setStatus(c.session_id, "in_progress");
        await server.addResponse(c.session_id, "gpt-4o", 1, { text: "Paused answer" });
        await server.addResponse(c.session_id, "claude", 1, { text: "Paused answer" });
        await server.setStatus(c.session_id, "completed");
        await server.fail(b, "rate limited");
        await server.update(a, { metadata: { tier: "gold" } });
        await server.update(c.session_id, { metadata: { note: "last" } });
        head = await caughtUp(page, server);
        const n = head - headBefore;
        assert.ok(n >= 10, `${n} events`);
        await page.waitForSelector(`#feed-new[data-count="${n}"]`, { timeout: 5_000 });
        assert.equal((await page.textContent("#feed-new")).trim(), `${n} new`, "the counter says how many");
        assert.equal(await page.isVisible("#feed-new"), true);
        await sleep(150);
        assert.deepEqual(seqs(await feedItems(page)), before, "nothing new appears while paused");
        await expectFits(page, vp);
        await screenshot(page, `feed-paused-${vp.name}`);

        await page.click("#feed-pause");
        assert.equal(await page.getAttribute("#feed-pause", "aria-pressed"), "false");
        assert.equal(await page.isVisible("#feed-new"), false, "the counter goes with the pause");
        const all = await allEvents(server);
        await expectFeed(page, expected(all), "resume shows the held events on top, newest first");
        const after = seqs(await feedItems(page));
        assert.deepEqual(after.slice(0, n), Array.from({ length: n }, (_, i) => head - i), "the held events, in order");
        assert.deepEqual(after.slice(n), before.slice(0, FEED_MAX - n), "then what was shown");
        assert.equal(new Set(after).size, after.length, "no event twice");
        await screenshot(page, `feed-resumed-${vp.name}`);

        // More than the feed holds while paused (by the counter's button this time): the newest
        // 100 are shown, without a gap.
        await page.click("#feed-pause");
        await pool(Array.from({ length: 130 }, (_, i) => i), 8, (i) =>
            server.update(sessions[i % sessions.length].session_id, { metadata: { burst: i } }));
        head = await caughtUp(page, server);
        await page.waitForSelector('#feed-new[data-count="130"]', { timeout: 5_000 });
        assert.deepEqual(seqs(await feedItems(page)), after, "still nothing new while paused");
        await page.click("#feed-new");
        await expectFeed(page, Array.from({ length: FEED_MAX }, (_, i) => head - i),
            "the newest 100, in order, no gap, at most the feed's limit");

        // Live again: the next event goes straight on top.
        await server.update(c.session_id, { metadata: { live: true } });
        const live = await server.head();
        await page.waitForSelector(`#feed li:first-child[data-seq="${live}"]`, { timeout: 5_000 });
    });

    await forEachViewport("filters by type, provider and session apply to the feed and to new events", async (page, vp) => {
        await page.goto(`${server.url}/`);
        await waitConnected(page);
        await caughtUp(page, server);
        let all = await allEvents(server);
        await expectFeed(page, expected(all), "unfiltered: the log's 100 newest");
        await openFilters(page, vp);

        // Type: responses (both kinds of response event).
        const isResponse = (ev) => ev.type === "response_added" || ev.type === "responses_replaced";
        await page.selectOption("#feed-type", "response");
        await expectFeed(page, expected(all, isResponse), "only response events, reaching past the 100 shown before");
        assert.ok((await feedItems(page)).some((it) => it.type === "responses_replaced"), "a replaced map is a response event");
        // New events: a response shows, a status change does not.
        const s = sessions[9].session_id;
        await server.setStatus(s, "completed");
        await server.addResponse(s, "gpt-4o", 3, { text: "Filtered live" });
        await caughtUp(page, server);
        all = await allEvents(server);
        await expectFeed(page, expected(all, isResponse), "a new response shows, a new status change does not");
        await expectFits(page, vp);
        await screenshot(page, `feed-filter-type-${vp.name}`);

        // Provider: its choices are the providers seen, and one seen only live joins them.
        const options = async () => page.$$eval("#feed-provider option", (os) => os.map((o) => o.value));
        const seen = [...new Set(all.flatMap(providersOf))].sort((x, y) => x.localeCompare(y));
        assert.deepEqual(await options(), ["", ...seen], "the providers of the events seen, sorted");
        for (const p of [...PROVIDERS, "mistral"]) assert.ok(seen.includes(p), p);
        const fresh = `provider-${vp.name}`;
        await server.addResponse(s, fresh, 1, { text: "New provider" });
        await caughtUp(page, server);
        assert.ok((await options()).includes(fresh), "a provider seen live becomes a choice");
        await page.selectOption("#feed-type", "");
        await page.selectOption("#feed-provider", "gpt-4o");
        all = await allEvents(server);
        const byProvider = (p) => (ev) => providersOf(ev).includes(p);
        await expectFeed(page, expected(all, byProvider("gpt-4o")), "only gpt-4o's responses");
        for (const it of await feedItems(page)) assert.match(it.text, /^gpt-4o · round \d+$/);
        await page.selectOption("#feed-provider", "mistral");
        await expectFeed(page, expected(all, byProvider("mistral")), "a provider of a replaced map");
        // Provider and type together: a provider's responses are response events, nothing else.
        await page.selectOption("#feed-type", "status");
        await expectFeed(page, [], "status changes of a provider: none");
        assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector("#feed"), "::before").content),
            '"No recent event matches the filters."', "an empty filtered feed says so");
        await page.selectOption("#feed-type", "");
        await page.selectOption("#feed-provider", "claude");
        await server.addResponse(s, "claude", 4, { text: "Live for claude" });
        await server.addResponse(s, "gemini", 4, { text: "Live for gemini" });
        await caughtUp(page, server);
        all = await allEvents(server);
        await expectFeed(page, expected(all, byProvider("claude")), "a new claude response shows, gemini's does not");
        if (vp.name === "mobile") {
            assert.match(await page.textContent("#feed-filter-toggle"), /Filter \(1\)/, "the button says a filter is on");
        }
        await screenshot(page, `feed-filter-provider-${vp.name}`);
        await page.selectOption("#feed-provider", "");
        await expectFeed(page, expected(all), "cleared: every event again");

        // Session: a click on a session's name in the feed.
        const target = sessions[4];
        const other = sessions[6];
        if (vp.name === "mobile") await page.click("#feed-filter-toggle");  // fold the filters again
        await server.addResponse(target.session_id, "claude", 5, { text: "To click on" });
        await caughtUp(page, server);
        await page.click(`#feed li:first-child .feed-session[data-session-id="${target.session_id}"]`);
        assert.equal(await page.isVisible("#feed-session-chip"), true, "a chip shows the session filter");
        assert.equal((await page.textContent("#feed-session-label")).trim(), target.query, "named by its query");
        assert.equal(await page.getAttribute("#feed-session-open", "href"), `#/sessions/${target.session_id}`);
        const mine = (id) => (ev) => ev.session_id === id;
        all = await allEvents(server);
        await expectFeed(page, expected(all, mine(target.session_id)), "only that session's events");
        await server.update(target.session_id, { metadata: { clicked: vp.name } });
        await server.update(other.session_id, { metadata: { clicked: vp.name } });
        await caughtUp(page, server);
        all = await allEvents(server);
        await expectFeed(page, expected(all, mine(target.session_id)), "its new event shows, another session's does not");
        for (const it of await feedItems(page)) assert.equal(it.sessionId, target.session_id);
        // The session filter composes with the type filter.
        if (vp.name === "mobile") await page.click("#feed-filter-toggle");
        await page.selectOption("#feed-type", "metadata");
        await expectFeed(page, expected(all, (ev) => mine(target.session_id)(ev) && ev.type === "metadata_updated"),
            "the session's metadata changes");
        await page.selectOption("#feed-type", "");
        if (vp.name === "mobile") await page.click("#feed-filter-toggle");
        await expectFits(page, vp);
        await page.locator("#feed-panel").scrollIntoViewIfNeeded();
        await screenshot(page, `feed-filter-session-${vp.name}`);

        // The chip clears it: every event again.
        await page.click("#feed-session-clear");
        assert.equal(await page.isVisible("#feed-session-chip"), false);
        await expectFeed(page, expected(all), "cleared: every event again");
        // The chip's link opens the session.
        await page.click(`#feed .feed-session[data-session-id="${other.session_id}"]`);
        await page.click("#feed-session-open");
        await page.waitForFunction((id) => location.hash === `#/sessions/${id}`, other.session_id);
        await page.waitForSelector("#session-view:not([hidden])");
    });

    await test("the server stopped cleanly", async () => {
        await server.stopClean();
    });
});
