// The past sessions view (#/past): sessions of different modes, teams and statuses, some deleted
// and (on a server with a 2 s TTL and a 1 s sweep) some expired, found by a pasted id, by query
// text, by status, mode, team and time range; the filters live in the URL (the same URL in a new
// page shows the same results); "More" reads the next page; a deleted or expired one opens with its
// history; the overview's Expired and Deleted counters equal GET /v1/stats's ended_sessions, and
// follow the stream. At 1280x800 and 390x844.

import assert from "node:assert/strict";

import { forEachViewport, launchBrowser, openPage, runSuite, screenshot, Server, sleep, TIMEOUT } from "./harness.mjs";

/** The ids the view shows, in order, once it has finished loading. */
async function shownIds(page) {
    await page.waitForSelector('#past-view[data-state="ready"]', { timeout: TIMEOUT });
    return page.$$eval("#past-body tr[data-id]", (trs) => trs.map((tr) => tr.dataset.id));
}

/** Waits until the view shows exactly `want` (ids, in order). */
async function expectShown(page, want, what) {
    try {
        await page.waitForFunction((ids) => {
            const view = document.querySelector("#past-view");
            if (view?.dataset.state !== "ready") return false;
            const have = [...document.querySelectorAll("#past-body tr[data-id]")].map((tr) => tr.dataset.id);
            return JSON.stringify(have) === JSON.stringify(ids);
        }, want, { timeout: TIMEOUT });
    } catch {
        assert.deepEqual(await shownIds(page), want, what);
    }
}

/** The ids GET /v1/sessions lists for these parameters (every page). */
async function listed(server, params) {
    const out = [];
    let after = null;
    for (;;) {
        const q = new URLSearchParams({ limit: "1000", ...params });
        if (after) q.set("after", after);
        const page = await server.request("GET", `/v1/sessions?${q}`);
        out.push(...page.sessions.map((s) => s.session_id));
        if (!page.next) return out;
        after = page.next;
    }
}

const hashParams = (page) => page.evaluate(() => Object.fromEntries(
    new URLSearchParams(location.hash.slice(location.hash.indexOf("?") + 1))));

/** Nothing in the view or the top bar reaches past the viewport. */
async function expectInside(page, scope) {
    const outside = await page.$$eval(`${scope} *, .topbar *`, (els) => els
        .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > innerWidth + 0.5)
        .map((e) => `${e.id || e.className}: ${Math.round(e.getBoundingClientRect().right)}`));
    assert.deepEqual(outside, [], "nothing reaches past the viewport");
}

/**
 * A local datetime-local value (to the second) for an RFC 3339 time, in the page's time zone, as
 * such an input gives it back: without the seconds when they are 0 ("...T16:15", not
 * "...T16:15:00").
 */
const localInput = (page, text, roundUp = false) => page.evaluate(([t, up]) => {
    const ms = Date.parse(t);
    const d = new Date(up ? Math.ceil(ms / 1000) * 1000 : Math.floor(ms / 1000) * 1000);
    const p = (n) => String(n).padStart(2, "0");
    const input = Object.assign(document.createElement("input"), { type: "datetime-local", step: "1" });
    input.value = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    return input.value;
}, [text, roundUp]);

await runSuite(async () => {
    // --- server A: the default TTL; live sessions and deleted ones ---------------------------------
    const a = new Server({ name: "quorum (past)" });
    await a.start();
    const mk = (query, mode, team) => a.create(query, { mode, metadata: { team, priority: 2 } });
    const s1 = await mk("Which queue for billing events?", "full_deliberation", "infra");
    await a.setStatus(s1.session_id, "in_progress");
    await a.setConsensus(s1.session_id, "Use the existing queue.", 0.9);
    await a.setStatus(s1.session_id, "completed");
    const s2 = await mk("Which database for billing?", "quick_consensus", "data");
    await a.fail(s2.session_id, "every provider timed out");
    const s3 = await mk("Pick a cache layer", "devils_advocate", "infra");
    await a.setStatus(s3.session_id, "in_progress");
    await a.addResponse(s3.session_id, "alpha", 1, { text: "Redis.", confidence: 0.7 });
    await a.remove(s3.session_id);
    const s4 = await mk("Rename the billing service", "quick_consensus", "web");
    await sleep(1200);
    // Created after every session above and before every one below.
    const middle = new Date().toISOString();
    await sleep(1200);
    const s5 = await mk("Which queue for audit events?", "full_deliberation", "infra");
    await a.setStatus(s5.session_id, "in_progress");
    await a.setStatus(s5.session_id, "completed");
    await a.remove(s5.session_id);
    const s6 = await mk("Choose a logging format", "devils_advocate", "data");
    const id = (s) => s.session_id;

    // --- server B: a 2 s TTL swept every second; the sweep appends `expired` ---------------------
    const b = new Server({ name: "quorum (past, ttl 2 s)", extraArgs: ["--ttl-seconds", "2", "--cleanup-interval", "1"] });
    await b.start();
    const e1 = await b.create("Expiring question one", { mode: "quick_consensus", metadata: { team: "infra" } });
    const e2 = await b.create("Expiring question two", { metadata: { team: "ops" } });
    const e3 = await b.create("Deleted before it expired", { metadata: { team: "ops" } });
    await b.remove(e3.session_id);
    // More than one page (50) of ended sessions.
    for (let i = 0; i < 52; i++) await b.create(`Filler question ${i}`);
    const t0 = Date.now();
    for (;;) {
        const st = await b.stats();
        if (st.ended_sessions?.expired === 54) break;
        if (Date.now() - t0 > 20_000) throw new Error(`the sweep did not expire every session: ${JSON.stringify(st.ended_sessions)}`);
        await sleep(250);
    }

    const context = await launchBrowser();

    await forEachViewport("finds sessions by pasted id, query text, status, mode, team and time range", async (page, vp) => {
        await page.goto(`${a.url}/#/past`);
        assert.equal(await page.$eval("#past-link", (el) => el.getAttribute("aria-current")), "page");
        assert.equal(await page.$eval("#overview-view", (el) => el.hidden), true);
        // Every session, newest first: the live ones and the deleted ones.
        const all = [s6, s5, s4, s3, s2, s1].map(id);
        await expectShown(page, all, "state=all: every session");
        assert.deepEqual(await listed(a, { state: "all" }), all);
        // The deleted ones say so, with the deleted event's time.
        const endedCells = await page.$$eval("#past-body tr[data-ended='deleted']", (trs) => trs.map((tr) => ({
            id: tr.dataset.id, text: tr.querySelector(".past-ended").textContent,
            at: tr.querySelector(".past-ended time")?.getAttribute("datetime"),
        })));
        assert.deepEqual(endedCells.map((c) => c.id), [id(s5), id(s3)]);
        const s3Deleted = (await a.events(id(s3))).events.at(-1);
        assert.equal(s3Deleted.type, "deleted");
        assert.equal(endedCells[1].at, s3Deleted.at);
        assert.match(endedCells[1].text, /^Deleted /);
        await expectInside(page, "#past-view");
        await screenshot(page, `past-all-${vp.name}`);

        // A pasted id: capitals and spaces around it do not matter; it finds a deleted session.
        await page.fill("#past-q", `  ${id(s3).toUpperCase()}  `);
        await expectShown(page, [id(s3)], "a pasted id");
        assert.equal((await hashParams(page)).q, id(s3).toUpperCase());
        // Its first 8 characters.
        await page.fill("#past-q", id(s5).slice(0, 8));
        await expectShown(page, [id(s5)], "an id's first 8 characters");
        // Words of the query, any case.
        await page.fill("#past-q", "BILLING");
        await expectShown(page, [s4, s2, s1].map(id), "query text");
        assert.deepEqual(await listed(a, { state: "all", q: "BILLING" }), [s4, s2, s1].map(id));
        await page.fill("#past-q", "");

        // Status: the one a deleted session had when it was deleted counts.
        await page.selectOption("#past-status", "completed");
        await expectShown(page, [s5, s1].map(id), "status completed");
        await page.selectOption("#past-status", "in_progress");
        await expectShown(page, [id(s3)], "status in_progress (deleted while in progress)");
        await page.selectOption("#past-status", "");
        // Mode.
        await page.selectOption("#past-mode", "devils_advocate");
        await expectShown(page, [s6, s3].map(id), "mode devils_advocate");
        await page.selectOption("#past-mode", "");
        // Team (metadata.team), then ended only.
        await page.fill("#past-meta", "team=infra");
        await expectShown(page, [s5, s3, s1].map(id), "team infra");
        assert.equal((await hashParams(page)).team, "infra");
        await page.selectOption("#past-state", "ended");
        await expectShown(page, [s5, s3].map(id), "team infra, ended");
        assert.deepEqual(await listed(a, { state: "ended", "metadata.team": "infra" }), [s5, s3].map(id));
        // Another metadata key, a number as its JSON text.
        await page.fill("#past-meta", "team=infra, priority=2");
        // The same rows: wait for the address first (the text inputs apply after a short pause).
        await page.waitForFunction(() => location.hash.includes("meta.priority=2"), null, { timeout: TIMEOUT });
        await expectShown(page, [s5, s3].map(id), "team infra, priority 2, ended");
        await page.fill("#past-meta", "");
        await page.selectOption("#past-state", "active");
        await expectShown(page, [s6, s4, s2, s1].map(id), "active only");
        await page.selectOption("#past-state", "all");

        // Time range: created after the middle, then before it.
        await page.fill("#past-from", await localInput(page, middle));
        await expectShown(page, [s6, s5].map(id), "created after the middle");
        assert.ok((await hashParams(page)).from, "the URL carries the start of the range");
        await page.fill("#past-from", "");
        await page.fill("#past-to", await localInput(page, middle, true));
        await expectShown(page, [s4, s3, s2, s1].map(id), "created before the middle");
        await page.fill("#past-to", "");
        await expectShown(page, all, "no filter");

        // The URL carries the filters: the same URL in a new page shows the same results.
        await page.fill("#past-q", "queue");
        await page.selectOption("#past-state", "ended");
        await page.fill("#past-meta", "team=infra");
        await page.waitForFunction(() => location.hash.includes("team=infra"), null, { timeout: TIMEOUT });
        await page.selectOption("#past-mode", "full_deliberation");
        await page.selectOption("#past-status", "completed");
        await expectShown(page, [id(s5)], "queue, ended, infra, full deliberation, completed");
        const url = page.url();
        assert.deepEqual(await hashParams(page), {
            q: "queue", state: "ended", status: "completed", mode: "full_deliberation", team: "infra",
        });
        const again = await openPage(context, vp);
        try {
            await again.goto(url);
            await expectShown(again, [id(s5)], "the same URL in a new page");
            assert.equal(await again.inputValue("#past-q"), "queue");
            assert.equal(await again.inputValue("#past-state"), "ended");
            assert.equal(await again.inputValue("#past-status"), "completed");
            assert.equal(await again.inputValue("#past-mode"), "full_deliberation");
            assert.equal(await again.inputValue("#past-meta"), "team=infra");
            // A time range in the URL, exact to the millisecond, fills the inputs and is kept.
            await again.goto(`${a.url}/#/past?from=${encodeURIComponent(middle)}`);
            await expectShown(again, [s6, s5].map(id), "a time range from the URL");
            assert.equal(await again.inputValue("#past-from"), (await localInput(again, middle)));
            assert.equal((await hashParams(again)).from, middle);
            // A time on a whole minute: the input leaves out its seconds, and still shows it.
            const minute = new Date(Math.floor(Date.parse(middle) / 60_000) * 60_000).toISOString();
            await again.goto(`${a.url}/#/past?from=${encodeURIComponent(minute)}`);
            await again.waitForFunction((t) => new URLSearchParams(location.hash.split("?")[1]).get("from") === t,
                minute, { timeout: TIMEOUT });
            await again.waitForFunction((v) => document.querySelector("#past-from")?.value === v,
                await localInput(again, minute), { timeout: TIMEOUT });
            await screenshot(again, `past-range-${vp.name}`);
        } finally {
            await again.close();
        }
    });

    await forEachViewport("a deleted session opens with its history", async (page) => {
        await page.goto(`${a.url}/#/past?state=ended&team=infra`);
        await expectShown(page, [s5, s3].map(id), "ended, team infra");
        await page.click(`#past-body tr[data-id="${id(s3)}"] .past-query`);
        await page.waitForFunction((sid) => location.hash === `#/sessions/${sid}`, id(s3), { timeout: TIMEOUT });
        await page.waitForFunction(() => document.querySelector(".session-kicker .badge")?.textContent === "Deleted",
            null, { timeout: TIMEOUT });
        const events = (await a.events(id(s3))).events;
        await page.waitForFunction((n) => document.querySelectorAll(".event-list > li").length === n,
            events.length, { timeout: TIMEOUT });
        assert.equal(await page.textContent("#session-title"), "Pick a cache layer");
        // Back: the same filtered list.
        await page.goBack();
        await expectShown(page, [s5, s3].map(id), "back to the filtered list");
        assert.equal(await page.inputValue("#past-meta"), "team=infra");
    });

    await forEachViewport("expired sessions: found, paged with More, opened with their history", async (page, vp) => {
        await page.goto(`${b.url}/#/past?state=ended&q=expiring`);
        await expectShown(page, [e2, e1].map(id), "the expired ones by query text");
        assert.deepEqual(await page.$$eval("#past-body tr", (trs) => trs.map((tr) => tr.dataset.ended)), ["expired", "expired"]);
        const e1Expired = (await b.events(id(e1))).events.at(-1);
        assert.equal(e1Expired.type, "expired");
        assert.equal(await page.$eval(`#past-body tr[data-id="${id(e1)}"] .past-ended time`, (t) => t.getAttribute("datetime")),
            e1Expired.at);
        await page.fill("#past-meta", "team=ops");
        await expectShown(page, [id(e2)], "expired, team ops");
        await page.fill("#past-q", "");
        await expectShown(page, [e3, e2].map(id), "ended, team ops: one deleted, one expired");
        assert.deepEqual(await page.$$eval("#past-body tr", (trs) => trs.map((tr) => tr.dataset.ended)), ["deleted", "expired"]);
        await expectInside(page, "#past-view");
        await screenshot(page, `past-ended-${vp.name}`);

        // 55 ended sessions: 50, then More.
        await page.goto(`${b.url}/#/past?state=ended`);
        const every = await listed(b, { state: "ended" });
        assert.equal(every.length, 55);
        await expectShown(page, every.slice(0, 50), "the first page");
        assert.equal(await page.isVisible("#past-more"), true);
        await page.click("#past-more");
        await expectShown(page, every, "after More");
        assert.equal(await page.isVisible("#past-more"), false);

        // An expired one opens with its history.
        await page.goto(`${b.url}/#/past?state=ended&q=${id(e1)}`);
        await expectShown(page, [id(e1)], "an expired session by id");
        await page.click(`#past-body tr[data-id="${id(e1)}"] .past-id a`);
        await page.waitForFunction(() => document.querySelector(".session-kicker .badge")?.textContent === "Expired",
            null, { timeout: TIMEOUT });
        const events = (await b.events(id(e1))).events;
        await page.waitForFunction((n) => document.querySelectorAll(".event-list > li").length === n,
            events.length, { timeout: TIMEOUT });
    });

    await forEachViewport("the Expired and Deleted counters show GET /v1/stats's numbers", async (page, vp) => {
        const counters = () => page.evaluate(() => ({
            expired: document.querySelector('[data-count="expired"]').textContent,
            deleted: document.querySelector('[data-count="deleted"]').textContent,
        }));
        const want = async (server) => {
            const { ended_sessions: e } = await server.stats();
            return { expired: String(e.expired), deleted: String(e.deleted) };
        };
        await page.goto(`${b.url}/`);
        const wb = await want(b);
        assert.deepEqual(wb, { expired: "54", deleted: "1" });
        await page.waitForFunction((w) => document.querySelector('[data-count="expired"]').textContent === w.expired
            && document.querySelector('[data-count="deleted"]').textContent === w.deleted, wb, { timeout: TIMEOUT });
        await page.goto(`${a.url}/`);
        await page.waitForSelector('#connection[data-state="connected"]', { timeout: TIMEOUT });
        const before = await want(a);
        await page.waitForFunction((w) => document.querySelector('[data-count="deleted"]').textContent === w.deleted
            && document.querySelector('[data-count="expired"]').textContent === w.expired, before, { timeout: TIMEOUT });
        // A deletion while the page is open: the counter follows the stream.
        const doomed = await a.create(`Deleted while watched (${vp.name})`);
        await a.remove(doomed.session_id);
        const after = await want(a);
        assert.equal(Number(after.deleted), Number(before.deleted) + 1);
        await page.waitForFunction((w) => document.querySelector('[data-count="deleted"]').textContent === w,
            after.deleted, { timeout: TIMEOUT });
        assert.deepEqual(await counters(), after);
        await expectInside(page, "#overview-view .stats-row");
        await screenshot(page, `past-counters-${vp.name}`);
    });
});
