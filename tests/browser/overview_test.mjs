// Browser tests of the dashboard's overview with 20,000 sessions: rows stay under the pointer when
// sessions arrive while the table is scrolled down ("N new sessions" jumps to the top), the table
// shows session ids and search finds a pasted id, and at 390 px the overview is one scroll area
// with the sessions in the first screen and readable queries. The real server, its 20,000 sessions
// imported into its log before it starts (Server.importSessions) and the ones that arrive during
// the tests created over REST, the page in headless Chromium at 1280x800 and 390x844.
//
//   node overview_test.mjs <path to quorum> [--artifacts DIR] [--web-root DIR] [--chromium PATH]

import assert from "node:assert/strict";

import {
    Server, VIEWPORTS, expectInSync, forEachViewport, launchBrowser, pool, renderedRows, runSuite,
    screenshot, timing, waitConnected, waitShown, waitTotal,
} from "./harness.mjs";

/** Sessions in the table; QUORUM_OVERVIEW_SESSIONS may lower it while working on the page. */
const N = Number(process.env.QUORUM_OVERVIEW_SESSIONS) || 20_000;
const TOPICS = ["latency", "pricing", "hiring", "security", "storage"];

/** Two animation frames: whatever was scheduled has been drawn. */
const settle = (page) => page.evaluate(() => new Promise((resolve) =>
    requestAnimationFrame(() => requestAnimationFrame(resolve))));

/** The session row under the viewport point (x, y): {id, top} or null. */
const rowAt = (page, x, y) => page.evaluate(([px, py]) => {
    const tr = document.elementFromPoint(px, py)?.closest("#sessions-body tr[data-id]");
    return tr ? { id: tr.dataset.id, top: Math.round(tr.getBoundingClientRect().top) } : null;
}, [x, y]);

/** rowAt() once it is the same for two checks a few frames apart (scrolling has finished). */
async function stableRowAt(page, x, y) {
    let last = null;
    for (let i = 0; i < 100; i++) {
        await settle(page);
        const now = await rowAt(page, x, y);
        if (now && last && now.id === last.id && now.top === last.top) return now;
        last = now;
        await page.waitForTimeout(30);
    }
    throw new Error(`no stable row under (${x}, ${y})`);
}

/** A point over the query column, in the lower half of where the table's rows can be seen. */
const pointOverRows = (page) => page.evaluate(() => {
    const q = [...document.querySelectorAll("#sessions-table thead th")]
        .find((th) => th.textContent.trim().toLowerCase() === "query").getBoundingClientRect();
    const box = document.querySelector("#table-scroll").getBoundingClientRect();
    const bottom = Math.min(window.innerHeight, box.bottom);
    return { x: Math.round(q.left + 30), y: Math.round(bottom - (bottom - q.bottom) * 0.35) };
});

/** How far the table is scrolled past its first row (its own box, or the page at 390 px). */
const scrolledBy = (page) => page.evaluate(() => {
    const scroller = document.querySelector("#table-scroll");
    if (getComputedStyle(scroller).overflowY !== "visible") return scroller.scrollTop;
    const th = document.querySelector("#sessions-table thead th");
    const stick = parseFloat(getComputedStyle(th).top) || 0;
    return Math.max(0, stick - document.querySelector("#sessions-table").getBoundingClientRect().top);
});

await runSuite(async () => {
    const server = new Server();
    let t0 = Date.now();
    const created = await server.importSessions(Array.from({ length: N }, (_, i) =>
        `Load ${String(i).padStart(5, "0")}: ${TOPICS[i % TOPICS.length]} review #${i % 100}`));
    await server.start();
    timing(`import ${N} sessions (quorum import) and start the server`, Date.now() - t0);
    const queryOf = new Map(created.map((s) => [s.session_id, s.query]));
    let total = N;
    let arrivals = 0;
    /** Creates `k` sessions at once (in parallel, as a busy server gets them). */
    const arrive = async (k) => {
        const made = await pool(Array.from({ length: k }, () => ++arrivals), k, (i) =>
            server.create(`Arrived ${i}: a session created while the table was scrolled`));
        for (const s of made) queryOf.set(s.session_id, s.query);
        total += k;
        return made;
    };

    await launchBrowser();

    // Defect 1: rows move under the pointer.
    await forEachViewport("scrolled down, arriving sessions leave the row under the pointer in place", async (page, vp) => {
        t0 = Date.now();
        await page.goto(`${server.url}/`);
        await waitConnected(page);
        await waitTotal(page, total, 60_000);
        timing(`load ${total} sessions [${vp.name}]`, Date.now() - t0);
        const { x, y } = await pointOverRows(page);
        await page.mouse.move(x, y);
        await page.mouse.wheel(0, 6000);
        await page.waitForFunction(() => document.querySelector("#sessions-body").dataset.first !== "0");
        const before = await stableRowAt(page, x, y);
        assert.ok(await scrolledBy(page) > 1000, "the table is scrolled down");

        const k = 7;
        const made = await arrive(k);
        await waitTotal(page, total);
        await settle(page);
        const after = await rowAt(page, x, y);
        assert.deepEqual(after, before, "the same row, at the same place, is under the pointer");
        await page.waitForSelector("#new-rows:not([hidden])");
        assert.equal(await page.getAttribute("#new-rows", "data-count"), String(k));
        assert.match(await page.textContent("#new-rows"), new RegExp(`\\b${k} new sessions\\b`));
        await screenshot(page, `overview-new-sessions-${vp.name}`);

        // "N new sessions" jumps to the top: the newest session first, in view.
        await page.click("#new-rows");
        await page.waitForSelector("#new-rows", { state: "hidden" });
        await settle(page);
        assert.equal(await scrolledBy(page), 0, "back at the first row");
        const first = (await renderedRows(page))[0];
        assert.ok(made.some((s) => s.session_id === first.id), "the newest session leads the table");
        const firstTop = await page.$eval(`#sessions-body tr[data-id="${first.id}"]`,
            (tr) => tr.getBoundingClientRect().top);
        assert.ok(firstTop >= 0 && firstTop < vp.height, "the first row is on screen");

        // Scrolled down again, a second burst, then a click: the session under the pointer opens.
        await page.mouse.move(x, y);
        await page.mouse.wheel(0, 9000);
        await page.waitForFunction(() => Number(document.querySelector("#sessions-body").dataset.first) > 50);
        const target = await stableRowAt(page, x, y);
        await arrive(5);
        await waitTotal(page, total);
        await settle(page);
        assert.deepEqual(await rowAt(page, x, y), target, "still the same row under the pointer");
        assert.equal(await page.getAttribute("#new-rows", "data-count"), "5");
        await page.mouse.click(x, y);
        await page.waitForFunction((id) => location.hash === `#/sessions/${id}`, target.id);
        await page.waitForFunction((q) => document.querySelector("#session-title")?.textContent === q,
            queryOf.get(target.id));

        // Back to the list, after more sessions arrived: the same rows are in view again.
        await arrive(3);
        await page.goBack();
        await page.waitForSelector("#overview-view:not([hidden])");
        await waitTotal(page, total);
        await settle(page);
        assert.deepEqual(await stableRowAt(page, x, y), target, "back in the list where it was left");
        assert.equal(await page.getAttribute("#new-rows", "data-count"), "8");
    });

    // Defect 4 (table and search): the table shows ids; a pasted id finds its session.
    await forEachViewport("the table shows session ids and search finds a pasted id", async (page, vp) => {
        await page.goto(`${server.url}/`);
        await waitConnected(page);
        await waitTotal(page, total, 60_000);
        const wanted = created[Math.floor(created.length * 0.6)];
        await page.fill("#search", wanted.session_id);
        await waitShown(page, 1);
        assert.deepEqual((await renderedRows(page)).map((r) => r.id), [wanted.session_id]);
        // Pasted with spaces around it and in capitals.
        await page.fill("#search", `  ${wanted.session_id.toUpperCase()}  `);
        await waitShown(page, 1);
        assert.deepEqual((await renderedRows(page)).map((r) => r.id), [wanted.session_id]);
        await screenshot(page, `overview-search-id-${vp.name}`);
        // A prefix of 8 or more characters finds every session whose id starts with it.
        const prefix = wanted.session_id.slice(0, 8);
        const expected = [...queryOf.keys()].filter((id) => id.startsWith(prefix));
        await page.fill("#search", prefix);
        await waitShown(page, expected.length);
        assert.ok((await renderedRows(page)).some((r) => r.id === wanted.session_id));
        // Query text still matches.
        await page.fill("#search", "security review #7");
        const text = [...queryOf.values()].filter((q) => q.includes("security review #7")).length;
        await waitShown(page, text);
        await page.fill("#search", "");
        await waitShown(page, total);
        await expectInSync(page, server);

        // Each row shows its id's first 8 characters, the full id in the title (and, on wide
        // screens, a button that copies it).
        const first = (await renderedRows(page))[0];
        const idCell = await page.$eval(`#sessions-body tr[data-id="${first.id}"]`, (tr) => {
            const el = [...tr.querySelectorAll("[title]")].find((e) => e.title === tr.dataset.id &&
                e.getBoundingClientRect().width > 0);
            return el ? { text: el.textContent, copy: tr.querySelector("button.copy-id")?.dataset.copy } : null;
        });
        assert.ok(idCell, "a visible element of the row carries the full id as its title");
        assert.equal(idCell.text, first.id.slice(0, 8), "the row shows the id's first 8 characters");
        assert.equal(idCell.copy, first.id, "the copy button carries the full id");
        if (vp.name === "desktop") {
            // The button copies the id, and does not open the session.
            await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
            await page.hover(`#sessions-body tr[data-id="${first.id}"] td.sid`);
            await page.click(`#sessions-body tr[data-id="${first.id}"] button.copy-id`);
            await page.waitForSelector(`#sessions-body tr[data-id="${first.id}"] button.copy-id[data-copied]`);
            assert.equal(await page.evaluate(() => navigator.clipboard.readText()), first.id);
            assert.equal(await page.evaluate(() => location.hash), "", "still the overview");
        }
    });

    // Defect 8: the overview at 390 px.
    const long = "Which of our sixty-character queries stays readable on a phone?";
    assert.ok(long.length >= 60);
    await forEachViewport("at 390 px the overview is one scroll area with readable queries first", async (page, vp) => {
        await server.create(long);
        total++;
        await page.goto(`${server.url}/`);
        await waitConnected(page);
        await waitTotal(page, total, 60_000);
        await settle(page);
        const firstRow = await page.$eval("#sessions-body tr[data-id]", (tr) => ({
            top: tr.getBoundingClientRect().top, query: tr.querySelector("td.query").textContent,
        }));
        assert.equal(firstRow.query, long);

        // Characters of the query that can be seen: inside the clip box of the cell and its link.
        const visible = await page.$eval("#sessions-body tr[data-id] td.query", (td) => {
            const link = td.querySelector("a");
            const text = link.firstChild;
            const clips = [td.getBoundingClientRect(), link.getBoundingClientRect()];
            const range = document.createRange();
            let n = 0;
            for (let i = 0; i < text.length; i++) {
                range.setStart(text, i);
                range.setEnd(text, i + 1);
                const r = range.getBoundingClientRect();
                if (r.width === 0) continue;
                if (clips.every((c) => r.left >= c.left - 0.5 && r.right <= c.right + 0.5 &&
                    r.top >= c.top - 0.5 && r.bottom <= c.bottom + 0.5)) n++;
            }
            return n;
        });

        // One scroll area: nothing in the page scrolls by itself but the document.
        const nested = await page.evaluate(() => [...document.querySelectorAll("body *")]
            .filter((el) => {
                const cs = getComputedStyle(el);
                const scrolls = (v) => v === "auto" || v === "scroll";
                return el.getClientRects().length > 0 &&
                    ((scrolls(cs.overflowY) && el.scrollHeight > el.clientHeight + 1) ||
                     (scrolls(cs.overflowX) && el.scrollWidth > el.clientWidth + 1));
            })
            .map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}.${[...el.classList].join(".")}`));
        await screenshot(page, "overview-mobile-layout");
        assert.deepEqual({ firstRowOnFirstScreen: firstRow.top < vp.height, queryCharsShown: visible >= 40, nested },
            { firstRowOnFirstScreen: true, queryCharsShown: true, nested: [] },
            `first row at y=${Math.round(firstRow.top)} of ${vp.height}; ${visible} of the query's ` +
            `${long.length} characters show (40 wanted); no element but the page may scroll`);
        assert.ok(await page.evaluate(() => document.scrollingElement.scrollHeight > window.innerHeight * 10),
            "the page itself scrolls through the sessions");
        // Nothing sticks out sideways: the page is as wide as the screen.
        const width = await page.evaluate(() => document.scrollingElement.scrollWidth);
        assert.ok(width <= vp.width, `the page is ${width} px wide on a ${vp.width} px screen`);
    }, { viewports: { mobile: VIEWPORTS.mobile } });
});
