// Browser tests of rounds (web/js/rounds.js, the session view's responses, the sessions table) at
// desktop and at 390 px: a session with 3 providers x 2 rounds whose responses are
// {text, confidence, tokens, latency_ms}. The responses grid shows both rounds of each provider
// with their numbers, lined up across the rounds; a provider's view shows its rounds side by
// side; the table's row says "round 2, 3 providers"; a round-3 response added live reaches the
// table and the session view within a second.
//
//   node rounds_test.mjs <path to quorum> [--artifacts DIR] [--web-root DIR] [--chromium PATH]

import assert from "node:assert/strict";

import {
    Server, TIMEOUT, forEachViewport, launchBrowser, runSuite, screenshot, waitConnected,
} from "./harness.mjs";

const PROVIDERS = ["claude", "gemini", "gpt-4o"];
const LIVE_MS = 1000;

/** Provider i's answer in round r, with the numbers providers report. */
function answer(i, r) {
    return {
        text: `**${PROVIDERS[i]}**, round ${r}: ${r === 1 ? "start with Redis as a look-aside cache." : "keep Redis; add a TTL per key family."}`,
        confidence: [0.61, 0.72, 0.83][i] + 0.1 * (r - 1),
        // One provider reports its tokens split in and out.
        tokens: i === 1 ? { in: 1000 + 10 * r, out: 200 + r } : 1200 + 100 * i + r,
        latency_ms: 800 + 700 * i + 150 * r,
        // A member that is not a number the line shows stays in the JSON under the text.
        ...(i === 2 ? { model: "gpt-4o-2024-08-06" } : {}),
    };
}

/** The numbers line the page should show for answer(i, r). */
function expectedMetrics(i, r) {
    const a = answer(i, r);
    const nf = new Intl.NumberFormat("en-US");
    const tokens = typeof a.tokens === "number" ? `${nf.format(a.tokens)} tokens`
        : `${nf.format(a.tokens.in + a.tokens.out)} tokens (${nf.format(a.tokens.in)} in, ${nf.format(a.tokens.out)} out)`;
    const ms = a.latency_ms;
    const latency = ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
    return [`${Math.round(a.confidence * 100)}% confidence`, tokens, latency];
}

/** The row's round progress as shown: the Rounds column, or at 390 px the line under the query. */
const rowProgress = (page, id) => page.$eval(`#sessions-body tr[data-id="${id}"]`, (tr) => {
    const col = tr.querySelector("td.rounds");
    if (getComputedStyle(col).visibility !== "hidden" && col.getBoundingClientRect().width > 0) {
        return col.textContent;
    }
    const query = tr.querySelector("td.query");
    const after = getComputedStyle(query, "::after");
    if (after.display === "none" || ["none", "normal"].includes(after.content)) return "";
    return after.content.replace(/^"|"$/g, "");
});

async function waitProgress(page, id, want, timeout) {
    await page.waitForFunction(({ id, want }) => {
        const tr = document.querySelector(`#sessions-body tr[data-id="${id}"]`);
        return tr?.querySelector("td.rounds")?.textContent === want;
    }, { id, want }, { timeout });
    assert.equal(await rowProgress(page, id), want, "the progress can be seen");
}

await runSuite(async () => {
    const server = new Server();
    await server.start();
    await launchBrowser();

    await forEachViewport("rounds side by side, numbers per round, round progress in the table", async (page, vp) => {
        // Each viewport gets its own session (the live part adds rounds to it).
        const s = await server.create(`Which cache in front of the catalogue? (${vp.name})`);
        const id = s.session_id;
        await server.setStatus(id, "in_progress");
        for (const r of [1, 2]) {
            for (let i = 0; i < PROVIDERS.length; i++) await server.addResponse(id, PROVIDERS[i], r, answer(i, r));
        }
        const quiet = await server.create(`No answers yet (${vp.name})`);

        // The table: "round 2, 3 providers"; a session without responses says nothing.
        await page.goto(`${server.url}/`);
        await waitConnected(page);
        await waitProgress(page, id, "round 2, 3 providers", TIMEOUT);
        assert.equal(await rowProgress(page, quiet.session_id), vp.name === "desktop" ? "—" : "");
        const cell = await page.$eval(`#sessions-body tr[data-id="${id}"] td.query`, (td) => td.textContent);
        assert.equal(cell, s.query, "the query cell's text is still the query");
        if (vp.name === "desktop") {
            const whole = await page.$eval(`#sessions-body tr[data-id="${id}"] td.rounds`, (td) => td.scrollWidth <= td.clientWidth);
            assert.ok(whole, "the Rounds column shows the whole progress");
        } else {
            // The query and the progress both fit the row.
            const fits = await page.$eval(`#sessions-body tr[data-id="${id}"] td.query`,
                (td) => td.scrollHeight <= td.clientHeight + 1 && td.getBoundingClientRect().right <= window.innerWidth);
            assert.ok(fits, "the query cell holds the query and the progress");
        }
        await screenshot(page, `rounds-table-${vp.name}`);

        // Live: a round-3 answer reaches the row within a second.
        let t0 = Date.now();
        await server.addResponse(id, "gemini", 3, answer(1, 3));
        await waitProgress(page, id, "round 3, 3 providers", LIVE_MS);
        console.log(`     time: table shows round 3 [${vp.name}]: ${Date.now() - t0} ms`);

        // The session view: both rounds of every provider, each with its numbers.
        await page.click(`#sessions-body tr[data-id="${id}"] td.query a`);
        await page.waitForFunction((want) => document.querySelector("#session-content")?.dataset.version === want,
            String(s.version + 1 + 6 + 1), { timeout: TIMEOUT });
        const grid = await page.$$eval(".responses-grid tbody tr", (trs) => trs.map((tr) => ({
            provider: tr.dataset.provider,
            rounds: [...tr.querySelectorAll("td[data-round]")].map((td) => ({
                round: td.dataset.round,
                metrics: [...td.querySelectorAll(".response-metrics .metric")].map((m) => m.textContent),
                metricsTop: Math.round(td.querySelector(".response-metrics").getBoundingClientRect().top),
                text: td.querySelector(".response-body").textContent,
                extra: td.querySelector("pre.response-extra")?.textContent ?? null,
            })),
        })));
        assert.deepEqual(grid.map((g) => g.provider), PROVIDERS);
        for (let i = 0; i < PROVIDERS.length; i++) {
            const rounds = grid[i].rounds;
            assert.deepEqual(rounds.map((c) => c.round), i === 1 ? ["1", "2", "3"] : ["1", "2"]);
            for (const c of rounds) {
                const r = Number(c.round);
                assert.deepEqual(c.metrics, expectedMetrics(i, r), `${PROVIDERS[i]} round ${r}: its numbers`);
                assert.match(c.text, new RegExp(`round ${r}:`));
                // The numbers are not repeated as JSON; other members are.
                assert.equal(c.extra, i === 2 ? JSON.stringify({ model: "gpt-4o-2024-08-06" }, null, 2) : null);
            }
            // A provider's numbers read across: one line, at one height, in every round.
            assert.equal(new Set(rounds.map((c) => c.metricsTop)).size, 1, `${PROVIDERS[i]}: numbers on one line across rounds`);
        }
        await page.$eval(".responses-card", (el) => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 64));
        await screenshot(page, `rounds-grid-${vp.name}`);

        // One provider: its rounds side by side, across the card's width.
        await page.click('.responses-grid tr[data-provider="claude"] .provider-button');
        await page.waitForSelector('.provider-view[data-provider="claude"]', { timeout: TIMEOUT });
        assert.equal(await page.inputValue("#provider-view"), "claude");
        const cols = await page.$$eval(".provider-round", (els) => els.map((el) => {
            const b = el.getBoundingClientRect();
            return {
                round: el.dataset.round, top: Math.round(b.top), left: b.left, right: b.right, width: b.width,
                metrics: [...el.querySelectorAll(".metric")].map((m) => m.textContent),
                text: el.querySelector(".response-body").textContent,
            };
        }));
        const box = await page.$eval(".provider-rounds", (el) => el.getBoundingClientRect().toJSON());
        assert.deepEqual(cols.map((c) => c.round), ["1", "2"]);
        assert.equal(cols[0].top, cols[1].top, "round 1 and round 2 start at one height");
        assert.ok(cols[1].left >= cols[0].right, "round 2 is to the right of round 1");
        assert.ok(Math.abs(cols[0].left - box.left) < 2, "the first round starts at the card's left");
        if (vp.name === "desktop") {
            assert.ok(Math.abs(cols[1].right - box.right) < 2, "the rounds fill the card's width");
            assert.ok(cols[0].width > 400, `a wide column per round (${cols[0].width} px)`);
        } else {
            assert.ok(cols[0].width >= vp.width * 0.5, `a readable column at 390 px (${cols[0].width} px)`);
        }
        for (const c of cols) {
            assert.deepEqual(c.metrics, expectedMetrics(0, Number(c.round)));
            assert.match(c.text, new RegExp(`round ${c.round}:`));
        }
        await page.$eval(".responses-card", (el) => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 64));
        await screenshot(page, `rounds-provider-${vp.name}`);

        // Live: claude's round 3 appears as a third column within a second.
        t0 = Date.now();
        await server.addResponse(id, "claude", 3, answer(0, 3));
        await page.waitForSelector('.provider-view[data-provider="claude"] .provider-round[data-round="3"]', { timeout: LIVE_MS });
        console.log(`     time: provider view shows round 3 [${vp.name}]: ${Date.now() - t0} ms`);
        assert.deepEqual(await page.$$eval('.provider-round[data-round="3"] .metric', (ms) => ms.map((m) => m.textContent)),
            expectedMetrics(0, 3));

        // Back to every provider: the grid has round 3 for claude and gemini.
        await page.click("#all-providers");
        await page.waitForSelector(".responses-grid", { timeout: TIMEOUT });
        const third = await page.$$eval('.responses-grid td[data-round="3"]', (tds) => tds.map((td) => td.closest("tr").dataset.provider));
        assert.deepEqual(third, ["claude", "gemini"]);

        // And the table, back on it, says so too.
        await page.click("#back-link");
        await waitProgress(page, id, "round 3, 3 providers", TIMEOUT);
    });
});
