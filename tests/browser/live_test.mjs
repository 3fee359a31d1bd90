// Browser tests of the dashboard's live state (web/js/feed.js, chart.js, main.js): the feed and
// the rate chart start from the recent events of the log instead of blank, the feed names
// sessions by their query, and while the stream is down the overview is dimmed and says since
// when. Each test runs at desktop and at 390 px wide, against the real server (sessions and events
// made over REST) in headless Chromium; the server is stopped and started under the page by pid.
//
//   node live_test.mjs <path to quorum> [--artifacts DIR] [--web-root DIR] [--chromium PATH]

import assert from "node:assert/strict";

import {
    Server, VIEWPORTS, expectInSync, forEachViewport, freePort, holdPressOn, launchBrowser, pool,
    runSuite, screenshot, sleep, test, waitConnected,
} from "./harness.mjs";

/** The feed's items in display order: [{seq, type, session, title, text}]. */
const feedItems = (page) => page.$$eval("#feed li", (lis) => lis.map((li) => ({
    seq: Number(li.dataset.seq),
    type: li.dataset.type,
    session: li.querySelector(".feed-session")?.textContent ?? "",
    title: li.querySelector(".feed-session")?.getAttribute("title") ?? "",
    text: li.querySelector(".feed-text")?.textContent ?? "",
})));

/** The rate chart's counts per second (window.quorumDashboard.chart()), or null without it. */
const chartCounts = (page) => page.evaluate(() =>
    (typeof window.quorumDashboard.chart === "function" ? window.quorumDashboard.chart() : null));

/** The peak the chart's text equivalent (the canvas's aria-label) names. */
const chartPeak = async (page) => {
    const label = await page.getAttribute("#rate-chart", "aria-label");
    const m = /peak (\d+)/.exec(label ?? "");
    return m ? Number(m[1]) : 0;
};

const LONG_QUERY = "Should the event log be compacted into monthly snapshots, so that replay after a " +
    "restart stays under a second even with a hundred million events, or is replay from the start " +
    "still fine if the projections are checkpointed every ten thousand events?";

await runSuite(async () => {
    const port = await freePort();
    const server = new Server({ port });
    await server.start();

    // The log before any page opens: 80 sessions with a few changes each (over 300 events: more
    // than the feed's 100, and more than the page reads back at once), one with a long query, one
    // created and then deleted.
    const made = await pool(Array.from({ length: 80 }, (_, i) => i), 8, (i) =>
        server.create(`Backfill ${String(i).padStart(2, "0")}: which cache for the ${["search", "billing", "auth", "feed"][i % 4]} service?`));
    await pool(made, 8, async (s, i) => {
        await server.setStatus(s.session_id, "in_progress");
        await server.addResponse(s.session_id, "claude", 1, { text: `Answer ${i}` });
        if (i % 3 === 0) await server.setConsensus(s.session_id, "Redis", 0.8);
    });
    const long = await server.create(LONG_QUERY);
    await server.addResponse(long.session_id, "gpt-4o", 1, { text: "Checkpoint the projections." });
    const gone = await server.create("A session deleted before the page opened");
    await server.remove(gone.session_id);
    const named = await server.create("Which region should host the EU customers' data?");
    await server.setStatus(named.session_id, "in_progress");

    await launchBrowser();

    await forEachViewport("a load starts from the recent events: the feed and the chart are filled", async (page, vp) => {
        const head = await server.head();
        await page.goto(`${server.url}/`);
        await waitConnected(page);
        await sleep(300);  // a frame or two: whatever the load draws is drawn
        assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector("#feed"), "::before")
            .content.includes("Waiting")), false, "the feed does not wait for events that are in the log");
        const items = await feedItems(page);
        assert.equal(items.length, 100, "the feed shows its 100 newest events at once");
        assert.equal(items[0].seq, head, "the newest event of the log leads");
        assert.deepEqual(items.map((it) => it.seq), Array.from({ length: 100 }, (_, i) => head - i),
            "newest first, every event, no duplicate");
        const counts = await chartCounts(page);
        assert.ok(counts, "the page exposes the chart's counts");
        const sum = counts.reduce((a, b) => a + b, 0);
        assert.ok(sum > 0 && sum <= head, `the chart counts the last minute's events (${sum} of ${head})`);
        const first = (await server.request("GET", "/v1/events?limit=1")).events[0];
        if (Date.now() - Date.parse(first.at) < 50_000) {
            assert.equal(sum, head, "the whole log is from the last minute: the chart counts every event");
        }
        assert.ok(await chartPeak(page) > 0, "the chart's text equivalent names a non-zero peak");
        await screenshot(page, `live-backfill-${vp.name}`);

        // The stream continues from the backfilled head: a live event goes on top, exactly once.
        const fresh = await server.create(`Live after the backfill (${vp.name})`);
        const seq = await server.head();
        await page.waitForSelector(`#feed li[data-seq="${seq}"]`);
        await sleep(200);
        const after = await feedItems(page);
        assert.equal(after[0].seq, seq, "the live event is on top");
        assert.equal(after[0].type, "created");
        assert.match(after[0].session, /^Live after the backfill/);
        assert.equal(after.filter((it) => it.seq === seq).length, 1, "exactly once");
        assert.equal(after[1].seq, head, "the backfilled events follow, without a gap");
        assert.equal(new Set(after.map((it) => it.seq)).size, after.length, "no event twice");
        assert.equal(after.length, 100, "still at most 100");
        await expectInSync(page, server);
        await server.remove(fresh.session_id);
    });

    await forEachViewport("feed items name their session by its query, with the id in the title", async (page, vp) => {
        await page.goto(`${server.url}/`);
        await waitConnected(page);
        // Live: a new session, a change to it, and its deletion all name it by its query.
        const live = await server.create(`Live naming check at ${vp.width} px: is the feed readable?`);
        await server.setStatus(live.session_id, "in_progress");
        await server.remove(live.session_id);
        const seq = await server.head();
        await page.waitForSelector(`#feed li[data-seq="${seq}"]`);
        const items = await feedItems(page);
        const mine = items.filter((it) => it.title.includes(live.session_id));
        assert.deepEqual(mine.map((it) => it.type), ["deleted", "status_changed", "created"],
            "the session's three events are found by the id in their title");
        for (const it of mine) assert.equal(it.session, live.query, "named by its query");
        assert.match(mine[2].text, /^new session/, "a new session's line says so (its query is the name)");

        // Backfilled: an event of a session the page holds, named the same way.
        const status = items.find((it) => it.type === "status_changed" && it.title.includes(named.session_id));
        assert.ok(status, "the backfill holds the status change of the named session");
        assert.equal(status.session, named.query, "named by its query");
        assert.match(status.title, new RegExp(`Session ${named.session_id}`), "the id is in the title");
        // A long query is cut, and starts as the query does.
        const longItem = items.find((it) => it.title.includes(long.session_id));
        assert.ok(longItem, "the long query's session is in the feed");
        assert.ok(LONG_QUERY.startsWith(longItem.session.replace(/…$/, "")), longItem.session);
        assert.ok(longItem.session.length <= 120, "the visible name is cut");
        assert.ok(await page.$eval(`#feed .feed-session[data-session-id="${long.session_id}"]`,
            (el) => el.scrollWidth > el.clientWidth), "and ends in an ellipsis on screen");
        // A session deleted before the load is still named (by its created event).
        const deleted = items.find((it) => it.type === "deleted" && it.title.includes(gone.session_id));
        assert.ok(deleted, "the deletion is in the feed");
        assert.equal(deleted.session, gone.query);
        await page.locator("#feed").scrollIntoViewIfNeeded();
        await screenshot(page, `live-feed-${vp.name}`);
    });

    await forEachViewport("while disconnected the data is dimmed and says since when, until the stream is back", async (page, vp) => {
        await page.goto(`${server.url}/`);
        await waitConnected(page);
        await expectInSync(page, server);
        const opacity = (sel) => page.$eval(sel, (el) => Number(getComputedStyle(el).opacity));
        assert.equal(await page.getAttribute("#main", "data-stale"), null, "live data is not dimmed");
        assert.equal(await page.isVisible("#stale-note"), false);

        /** What the page shows while the server is away. */
        const expectStale = async (stoppedAt) => {
            await page.waitForSelector("#main[data-stale]", { timeout: 5_000 });
            await page.waitForSelector("#stale-note:not([hidden])", { timeout: 1_000 });
            assert.ok(Date.now() - stoppedAt < 5_000, "within a few seconds");
            const note = await page.textContent("#stale-note");
            assert.match(note, /^(Reconnecting|Offline) since \d{1,2}:\d{2}:\d{2}/, note);
            const since = Date.parse(await page.getAttribute("#stale-note", "data-since"));
            assert.ok(Math.abs(since - stoppedAt) < 3_000, "since the server went away");
            for (const sel of [".counters", ".rate-card", ".sessions-panel", ".feed-panel"]) {
                await page.waitForFunction((s) => Number(getComputedStyle(document.querySelector(s)).opacity) < 0.7,
                    sel, { timeout: 2_000 });
            }
            assert.notEqual(await page.evaluate(() => window.quorumDashboard.staleSince), null);
            await page.mouse.move(0, 0);
            await screenshot(page, `live-offline-${vp.name}`);
        };

        const stoppedAt = Date.now();
        await server.stop();
        try {
            await expectStale(stoppedAt);
        } finally {
            // Back on the same port and data (also when the checks failed: the next test needs it).
            await server.start();
        }

        // The log moves on before the page is back.
        const more = await server.create(`Created while the page was away (${vp.name})`);
        await server.setStatus(more.session_id, "in_progress");
        await waitConnected(page, 30_000);
        await page.waitForSelector("#main:not([data-stale])", { timeout: 5_000 });
        assert.equal(await page.isVisible("#stale-note"), false, "the note goes away");
        const listed = await expectInSync(page, server);
        await page.waitForFunction((n) => document.querySelector('[data-count="total"]').textContent ===
            n.toLocaleString(), listed.length);
        await page.waitForFunction(() => Number(getComputedStyle(document.querySelector(".counters")).opacity) === 1);
        assert.equal(await opacity(".feed-panel"), 1);
        assert.equal(await page.evaluate(() => window.quorumDashboard.staleSince), null);
        await page.waitForSelector(`#feed li[data-seq="${await server.head()}"]`);
    });

    // The table redraws its rows every few seconds ("5 s ago" moves on) and whenever a session
    // changes. A press and release that fall on either side of such a redraw still open the
    // session: the row keeps its cells, and the redraw writes into them.
    await forEachViewport("a row pressed while it redraws still opens its session", async (page) => {
        await page.goto(`${server.url}/`);
        await waitConnected(page);
        const pressed = async (selector, redraw) => {
            const s = await server.create(`Pressed during a redraw (${selector})`);
            const row = `#sessions-body tr[data-id="${s.session_id}"]`;
            await page.waitForSelector(row);
            await holdPressOn(page, `${row} ${selector}`, () => redraw(s, row));
            await page.waitForFunction((id) => location.hash === `#/sessions/${id}`, s.session_id,
                { timeout: 5_000 });
            await page.goBack();
            await page.waitForSelector("#overview-view:not([hidden])");
        };
        // The periodic redraw: the row's "updated" text changes under the press.
        const tick = async (s, row) => {
            const before = await page.textContent(`${row} td.updated`);
            await page.waitForFunction(([r, b]) => document.querySelector(`${r} td.updated`).textContent !== b,
                [row, before], { timeout: 12_000 });
        };
        // A live change of the pressed session: its status badge and rounds change.
        const change = async (s, row) => {
            await server.setStatus(s.session_id, "in_progress");
            await server.addResponse(s.session_id, "claude", 1, { text: "An answer" });
            await page.waitForFunction((r) => document.querySelector(r).dataset.status === "in_progress" &&
                document.querySelector(`${r} td.rounds`).textContent !== "—", row);
        };
        await pressed("td.query a", tick);
        await pressed("td.updated", tick);
        await pressed("td.status .badge", change);
        await pressed("td.rounds", change);
    }, { viewports: { desktop: VIEWPORTS.desktop } });

    await test("the server stopped cleanly after the restarts", async () => {
        await server.stopClean();
    });
});
