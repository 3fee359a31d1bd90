// Browser tests of the event detail in the session view (#/sessions/<id>, web/js/session_view.js)
// at desktop and at 390 px: each event of the history expands (a keyboard-operable toggle with
// aria-expanded) to show its type, seq, version, full time, actor ("no actor" on a server without
// tokens, the token's name on one with --tokens-file), its data as formatted JSON, and the fields
// of the session it changed with their old and new values, computed by the page's own fold of the
// history without a request per expand. Collapsing hides it; at 390 px the page does not scroll
// sideways.
//
//   node event_detail_test.mjs <path to quorum> [--artifacts DIR] [--web-root DIR] [--chromium PATH]

import assert from "node:assert/strict";

import {
    Server, TIMEOUT, forEachViewport, launchBrowser, makeTokensFile, runSuite, screenshot, waitConnected,
} from "./harness.mjs";

/** Opens session `id` and waits until its view and its event list are drawn. */
async function openSession(page, server, id, nEvents) {
    await page.goto(`${server.url}/#/sessions/${id}`);
    await waitConnected(page);
    await page.waitForFunction(({ want, n }) => {
        const shown = document.querySelector('#session-content .session-kicker [title="Session id"]');
        return shown?.textContent === want && document.querySelector("#session-content").dataset.version &&
            document.querySelectorAll(".event-list > li").length === n;
    }, { want: id, n: nEvents }, { timeout: TIMEOUT });
}

const item = (page, seq) => page.locator(`.event-list > li[data-seq="${seq}"]`);

/** Expands the event `seq` (by a click, or by Enter on its focused toggle) and reads its detail. */
async function expand(page, seq, { keyboard = false } = {}) {
    const li = item(page, seq);
    const toggle = li.locator(".event-toggle");
    assert.equal(await toggle.getAttribute("aria-expanded"), "false", `seq ${seq}: collapsed at first`);
    if (keyboard) {
        await toggle.focus();
        await page.keyboard.press("Enter");
    } else {
        await toggle.click();
    }
    assert.equal(await toggle.getAttribute("aria-expanded"), "true", `seq ${seq}: aria-expanded`);
    const detail = li.locator(".event-detail");
    await detail.waitFor({ state: "visible", timeout: TIMEOUT });
    assert.equal(await detail.getAttribute("id"), await toggle.getAttribute("aria-controls"));
    return detail.evaluate((d) => {
        const fact = (f) => d.querySelector(`.event-facts [data-field="${f}"] dd`)?.textContent ?? null;
        return {
            type: fact("type"), seq: fact("seq"), version: fact("version"), time: fact("time"),
            datetime: d.querySelector('.event-facts [data-field="time"] time')?.getAttribute("datetime"),
            actor: fact("actor"),
            data: d.querySelector("pre.event-data")?.textContent ?? null,
            // The data is a text node, not markup.
            dataElements: d.querySelector("pre.event-data")?.children.length ?? -1,
            diff: Object.fromEntries([...d.querySelectorAll(".event-diff > li")].map((li) => [li.dataset.path, {
                old: li.querySelector(".diff-old").textContent,
                oldAbsent: li.querySelector(".diff-old").dataset.absent === "true",
                new: li.querySelector(".diff-new").textContent,
            }])),
        };
    });
}

async function collapse(page, seq, { keyboard = false } = {}) {
    const li = item(page, seq);
    const toggle = li.locator(".event-toggle");
    if (keyboard) {
        await toggle.focus();
        await page.keyboard.press("Space");
    } else {
        await toggle.click();
    }
    assert.equal(await toggle.getAttribute("aria-expanded"), "false", `seq ${seq}: collapsed`);
    assert.equal(await li.locator(".event-detail").count(), 0, `seq ${seq}: the detail is gone`);
}

/** Checks the facts and the data of a detail against the event from the API. */
function checkFacts(d, ev, actor) {
    assert.equal(d.type, ev.type);
    assert.equal(d.seq, String(ev.seq));
    assert.equal(d.version, String(ev.version));
    assert.equal(d.datetime, ev.at);
    assert.ok(d.time.includes(ev.at), `the full time names the exact time ${ev.at}: ${d.time}`);
    assert.equal(d.actor, actor);
    assert.deepEqual(JSON.parse(d.data), ev.data, `seq ${ev.seq}: the data as JSON`);
    assert.equal(d.data, JSON.stringify(ev.data, null, 2), `seq ${ev.seq}: formatted`);
    assert.equal(d.dataElements, 0, "the data is text only");
}

await runSuite(async ({ tmp }) => {
    const server = new Server();
    await server.start();

    // One server with tokens: the actor of each event is the name of the token that caused it.
    const { file: tokensFile, tokens } = await makeTokensFile(tmp, [["ops-bot", "write"]]);
    const tokenValue = tokens["ops-bot"];
    const secured = new Server({ name: "quorum (tokens file)", extraArgs: ["--tokens-file", tokensFile] });
    secured.token = tokenValue;  // REST calls carry it
    await secured.start();

    await launchBrowser();

    const s = await server.create("Which queue should the order service use?", { metadata: { team: "orders" } });
    await server.setStatus(s.session_id, "in_progress");
    const answer = { text: "SQS with a dead-letter queue.", confidence: 0.7 };
    await server.addResponse(s.session_id, "claude", 1, answer);
    await server.update(s.session_id, { metadata: { team: "orders", reviewed_by: "platform" } });
    await server.setConsensus(s.session_id, "SQS, with a dead-letter queue and idempotent consumers.", 0.85);
    const { events } = await server.events(s.session_id);
    const byType = (t) => events.find((e) => e.type === t);
    for (const t of ["created", "status_changed", "response_added", "metadata_updated", "consensus_set"]) {
        assert.ok(byType(t), `the history has a ${t} event`);
    }

    await forEachViewport("each event expands to its data and the session before -> after", async (page, vp) => {
        const requests = [];
        page.on("request", (r) => {
            if (new URL(r.url()).pathname.startsWith("/v1/")) requests.push(r.url());
        });
        // The desktop run adds one event at its end: count what the history holds now.
        const nNow = (await server.events(s.session_id)).events.length;
        await openSession(page, server, s.session_id, nNow);
        const before = requests.length;

        // created: the whole initial session, from nothing.
        const created = byType("created");
        let d = await expand(page, created.seq, { keyboard: true });
        checkFacts(d, created, "no actor");
        assert.equal(d.diff.status.new, '"pending"');
        assert.ok(d.diff.status.oldAbsent, "before created there was no session");
        assert.equal(d.diff.query.new, JSON.stringify(s.query));
        assert.deepEqual(JSON.parse(d.diff.metadata.new), { team: "orders" });
        await collapse(page, created.seq, { keyboard: true });

        // status_changed: pending -> in_progress, and the version moves by one.
        const st = events.find((e) => e.type === "status_changed" && e.data.to === "in_progress");
        d = await expand(page, st.seq);
        checkFacts(d, st, "no actor");
        assert.deepEqual(d.diff.status, { old: '"pending"', oldAbsent: false, new: '"in_progress"' });
        assert.deepEqual(d.diff.version, { old: String(st.version - 1), oldAbsent: false, new: String(st.version) });
        assert.equal(d.diff.query, undefined, "the query did not change");

        // response_added: provider_responses gains claude round 1.
        const ra = byType("response_added");
        d = await expand(page, ra.seq);
        checkFacts(d, ra, "no actor");
        const gained = d.diff["provider_responses.claude"];
        assert.ok(gained, `a change under provider_responses.claude: ${Object.keys(d.diff)}`);
        assert.ok(gained.oldAbsent, "no claude response before");
        assert.deepEqual(JSON.parse(gained.new), { 1: answer });
        assert.equal(d.diff.status, undefined, "the status did not change");

        // metadata_updated: reviewed_by appears, team stays.
        const mu = byType("metadata_updated");
        d = await expand(page, mu.seq);
        checkFacts(d, mu, "no actor");
        assert.ok(d.diff["metadata.reviewed_by"].oldAbsent);
        assert.equal(d.diff["metadata.reviewed_by"].new, '"platform"');
        assert.equal(d.diff["metadata.team"], undefined, "team did not change");

        // consensus_set: null -> the consensus.
        const cs = byType("consensus_set");
        d = await expand(page, cs.seq);
        checkFacts(d, cs, "no actor");
        assert.equal(d.diff.consensus.old, "null");
        assert.deepEqual(JSON.parse(d.diff.consensus.new), cs.data.consensus);

        assert.deepEqual(requests.slice(before), [], "expanding fetched nothing");

        // Readable at this width: nothing pushes the page or the list sideways.
        const overflow = await page.evaluate(() => ({
            page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
            list: (() => { const ol = document.querySelector(".event-list"); return ol.scrollWidth - ol.clientWidth; })(),
            details: Math.max(...[...document.querySelectorAll(".event-detail")].map((x) => x.scrollWidth - x.clientWidth)),
            narrowest: Math.min(...[...document.querySelectorAll(".event-detail pre")].map((x) => x.clientWidth)),
        }));
        assert.ok(overflow.page <= 0, `the page does not scroll sideways (${overflow.page} px)`);
        assert.ok(overflow.list <= 1, `the event list does not scroll sideways (${overflow.list} px)`);
        assert.ok(overflow.details <= 1, `no detail scrolls sideways (${overflow.details} px)`);
        assert.ok(overflow.narrowest >= (vp.width < 600 ? 120 : 200), `values have room (${overflow.narrowest} px)`);

        await item(page, st.seq).scrollIntoViewIfNeeded();
        await page.locator(".event-list").evaluate((ol, seq) => {
            const li = ol.querySelector(`li[data-seq="${seq}"]`);
            ol.scrollTop += li.getBoundingClientRect().top - ol.getBoundingClientRect().top;
        }, st.seq);
        await screenshot(page, `event-detail-${vp.name}`);

        // Collapsing hides it; an expanded detail survives a redraw (a live event).
        await collapse(page, ra.seq);
        await collapse(page, mu.seq);
        await server.update(s.session_id, { metadata: { team: "orders", reviewed_by: "platform", vp: vp.name } });
        await page.waitForFunction((n) => document.querySelectorAll(".event-list > li").length === n,
            nNow + 1, { timeout: TIMEOUT });
        assert.equal(await item(page, st.seq).locator(".event-toggle").getAttribute("aria-expanded"), "true");
        assert.equal(await item(page, st.seq).locator(".event-detail").count(), 1);
        assert.equal(await item(page, ra.seq).locator(".event-detail").count(), 0);
        await collapse(page, st.seq);
        await collapse(page, cs.seq);
        assert.equal(await page.locator(".event-detail").count(), 0, "every detail is collapsed");
    });

    const t = await secured.create("Who changed this session?");
    await secured.setStatus(t.session_id, "in_progress");
    const tEvents = (await secured.events(t.session_id)).events;

    await forEachViewport("on a server with tokens the detail names the actor", async (page, vp) => {
        await page.addInitScript((tok) => sessionStorage.setItem("quorum.token", tok), tokenValue);
        await openSession(page, secured, t.session_id, tEvents.length);
        const st = tEvents.find((e) => e.type === "status_changed");
        assert.equal(st.actor, "ops-bot", "the server records the token's name");
        const d = await expand(page, st.seq);
        checkFacts(d, st, "ops-bot");
        assert.deepEqual(d.diff.status, { old: '"pending"', oldAbsent: false, new: '"in_progress"' });
        await screenshot(page, `event-detail-actor-${vp.name}`);
        await collapse(page, st.seq);
    });
});
