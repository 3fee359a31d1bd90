// Browser tests of the session view (#/sessions/<id>, web/js/session_view.js) at desktop and at
// 390 px: the event list keeps its descriptions readable, a session past its TTL reads as expired
// at expires_at, provider responses render as sanitized markdown with "Show full" only where the
// clamp cuts, a deleted session says when it was deleted, a button held while the session changes
// still acts, and the timeline's dots sit under the slider's thumb. Also checks that web/vendor/
// is what tests/web_vendor/package-lock.json pins.
//
//   node session_view_test.mjs <path to quorum> [--artifacts DIR] [--web-root DIR] [--chromium PATH]

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import {
    Server, TIMEOUT, VIEWPORTS, args, forEachViewport, holdPressOn, launchBrowser, runSuite, screenshot, sleep,
    test, waitConnected,
} from "./harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const vendorNpm = path.resolve(here, "../web_vendor");

const sha256 = async (file) => createHash("sha256").update(await readFile(file)).digest("hex");

/** Every file under `dir`, as paths relative to it. */
async function listFiles(dir) {
    const out = [];
    for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
        if (entry.isFile()) out.push(path.relative(dir, path.join(entry.parentPath ?? entry.path, entry.name)));
    }
    return out.sort();
}

/** Opens session `id` and waits until its view is drawn (data-version set). */
async function openSession(page, server, id) {
    await page.goto(`${server.url}/#/sessions/${id}`);
    await waitConnected(page);
    await page.waitForFunction((want) => {
        const shown = document.querySelector('#session-content .session-kicker [title="Session id"]');
        return shown?.textContent === want && document.querySelector("#session-content").dataset.version;
    }, id, { timeout: TIMEOUT });
}

/** Fails the test on an alert/confirm/prompt or a console error (listeners set before goto). */
function watchPage(page) {
    const seen = { dialogs: [], consoleErrors: [] };
    page.on("dialog", (d) => {
        seen.dialogs.push(d.message());
        d.dismiss().catch(() => {});
    });
    page.on("console", (m) => {
        if (m.type() === "error") seen.consoleErrors.push(m.text());
    });
    return seen;
}

const MARKDOWN_ANSWER = [
    "## Title of the answer",
    "",
    "Use **bold claims** sparingly, and *emphasis* too.",
    "",
    "- first point",
    "- second point",
    "- third point",
    "",
    "See [the guide](https://example.com/guide).",
    "",
    '<img src=x onerror="window.__xss = 1; alert(1)">',
    "",
    "<script>window.__xss = 2; alert(2)</script>",
    "",
    '<a href="javascript:alert(3)">click</a>',
].join("\n");

const LONG_ANSWER = Array.from({ length: 24 }, (_, i) =>
    `Paragraph ${i + 1}: the migration keeps both schemas readable until the last reader moves.`).join("\n\n");

await runSuite(async () => {
    await test("web/vendor matches the versions locked in tests/web_vendor", async () => {
        const lock = JSON.parse(await readFile(path.join(vendorNpm, "package-lock.json"), "utf8"));
        const readme = await readFile(path.join(args.webRoot, "vendor", "README.md"), "utf8");
        // | `marked/marked.esm.js` | marked | 18.3.0 | MIT | `lib/marked.esm.js` | `<sha256>` |
        const rows = [...readme.matchAll(/^\| `([^`]+)` \| ([^ |]+) \| ([^ |]+) \| [^|]+ \| `([^`]+)` \| `([0-9a-f]{64})` \|$/gm)];
        assert.ok(rows.length >= 4, "web/vendor/README.md lists the vendored files");
        const listed = new Set(["README.md"]);
        for (const [, file, pkg, version, src, sum] of rows) {
            listed.add(file);
            const locked = lock.packages[`node_modules/${pkg}`];
            assert.ok(locked, `${pkg} is in the lock`);
            assert.equal(version, locked.version, `${file}: the version the lock pins`);
            const installed = JSON.parse(await readFile(path.join(vendorNpm, "node_modules", pkg, "package.json"), "utf8")
                .catch(() => assert.fail(`tests/web_vendor/node_modules/${pkg} is missing: run npm ci there (scripts/test.sh does)`)));
            assert.equal(installed.version, locked.version,
                `tests/web_vendor/node_modules/${pkg} is the locked version (run npm ci there)`);
            const have = await sha256(path.join(args.webRoot, "vendor", file));
            const want = await sha256(path.join(vendorNpm, "node_modules", pkg, src));
            assert.equal(have, want, `web/vendor/${file} is ${pkg}@${locked.version}/${src} (run scripts/vendor-web.sh)`);
            assert.equal(sum, have, `web/vendor/README.md names the sha256 of ${file}`);
        }
        assert.deepEqual(await listFiles(path.join(args.webRoot, "vendor")), [...listed].sort(),
            "web/vendor holds exactly the files its README lists");
        for (const pkg of ["marked", "dompurify"]) {
            assert.ok(rows.some((r) => r[2] === pkg), `${pkg} is vendored`);
            assert.ok(rows.some((r) => r[2] === pkg && /LICENSE/.test(r[1])), `${pkg}'s licence is vendored`);
        }
    });

    const server = new Server();
    await server.start();
    // A short TTL and no sweep for an hour: sessions pass expires_at with no `expired` event.
    const shortLived = new Server({ name: "quorum (ttl 4 s)",
        extraArgs: ["--ttl-seconds", "4", "--cleanup-interval", "3600"] });
    await shortLived.start();
    await launchBrowser();

    // A session with every kind of event, with long descriptions.
    const busy = await server.create("How should the billing service migrate its schema without downtime?",
        { metadata: { team: "payments" } });
    await server.setStatus(busy.session_id, "in_progress");
    await server.addResponse(busy.session_id, "claude", 1,
        "Expand and contract: add the new columns, dual-write, backfill, then switch reads and drop the old ones.");
    await server.addResponse(busy.session_id, "gpt-4o", 1, { text: "Blue-green with logical replication." });
    await server.update(busy.session_id, { metadata: { team: "payments", reviewed_by: "database guild" } });
    await server.setConsensus(busy.session_id,
        "Expand and contract with dual writes, a verified backfill and a reversible read switch.", 0.8);

    await forEachViewport("every event of the history shows its description", async (page, vp) => {
        await openSession(page, server, busy.session_id);
        const rows = await page.$$eval(".event-list li", (lis) => lis.map((li) => {
            const text = li.querySelector(".event-text");
            const r = text.getBoundingClientRect();
            return { seq: li.dataset.seq, width: r.width, height: r.height, text: text.textContent,
                visible: text.checkVisibility({ opacityProperty: true, visibilityProperty: true }) };
        }));
        assert.equal(rows.length, 7, "7 events");
        for (const row of rows) {
            assert.ok(row.text.trim().length > 0, `seq ${row.seq}: a description`);
            assert.ok(row.visible, `seq ${row.seq}: the description is visible`);
            assert.ok(row.width > 100, `seq ${row.seq}: the description is ${row.width} px wide`);
            assert.ok(row.height > 0, `seq ${row.seq}: the description has a height`);
        }
        // The row fits the list: nothing is pushed out sideways.
        const overflow = await page.$eval(".event-list", (ol) => ol.scrollWidth - ol.clientWidth);
        assert.ok(overflow <= 1, `the event list does not scroll sideways (${overflow} px)`);
        await page.locator(".event-list").scrollIntoViewIfNeeded();
        await screenshot(page, `session-events-${vp.name}`);
    });

    await forEachViewport("a session past its TTL reads as expired at expires_at", async (page, vp) => {
        const s = await shortLived.create(`Will this session outlive its TTL? (${vp.name})`);
        await shortLived.setStatus(s.session_id, "in_progress");
        const live = await shortLived.get(s.session_id);
        await openSession(page, shortLived, s.session_id);
        const expiresAt = Date.parse(live.expires_at);
        assert.ok(Date.now() < expiresAt, "opened before expires_at (the TTL is 4 s)");
        assert.equal(await page.textContent(".session-kicker .badge"), "In progress");
        assert.match(await page.textContent("#time-travel-label"), /^Live/);

        await sleep(Math.max(0, expiresAt - Date.now()) + 700);
        // The premise: the API says it is expired, and no `expired` event was written yet.
        const res = await fetch(`${shortLived.url}/v1/sessions/${s.session_id}`);
        assert.equal(res.status, 404);
        assert.equal((await res.json()).error.code, "session_expired");
        const events = (await shortLived.events(s.session_id)).events;
        assert.ok(!events.some((e) => e.type === "expired"), "no expired event yet");

        await page.waitForFunction(() => document.querySelector(".session-kicker .badge")?.textContent === "Expired",
            null, { timeout: 3000 });
        const head = await page.textContent(".session-head");
        assert.doesNotMatch(head, /In progress/, "the head no longer says In progress");
        assert.doesNotMatch(await page.textContent("#time-travel-label"), /\bLive\b/, "not Live");
        assert.match(await page.textContent(".travel-banner"), /^Expired\. This session expired at /);
        const facts = await page.$$eval(".facts dt", (dts) => dts.map((dt) => dt.textContent));
        assert.ok(facts.includes("Expired") && !facts.includes("Expires"), `facts: ${facts}`);
        await screenshot(page, `session-expired-${vp.name}`);
    });

    // Responses: markdown, short, long, and a JSON object.
    const answers = await server.create("What does a safe markdown answer look like?");
    await server.addResponse(answers.session_id, "claude", 1, MARKDOWN_ANSWER);
    await server.addResponse(answers.session_id, "gemini", 1, LONG_ANSWER);
    await server.addResponse(answers.session_id, "gpt-4o", 1, "Yes.");
    const objectAnswer = { answer: "Queue it", confidence: 0.72, tokens: { in: 812, out: 96 } };
    await server.addResponse(answers.session_id, "mistral", 1, objectAnswer);
    // The usual {"text": ...} shape: the text as markdown, the other members as JSON under it.
    await server.addResponse(answers.session_id, "llama", 1, { text: "## Short heading\n\nPlain **words**.", confidence: 0.9 });

    await forEachViewport("responses render as sanitized markdown, Show full only when cut", async (page, vp) => {
        const seen = watchPage(page);
        await openSession(page, server, answers.session_id);
        const cell = (provider) => `.responses-grid tr[data-provider="${provider}"] td[data-round="1"]`;

        // Markdown: a heading, strong text, a list, a link; nothing active.
        const md = cell("claude");
        assert.match(await page.textContent(`${md} .markdown h2`), /Title of the answer/);
        assert.equal(await page.textContent(`${md} .markdown strong`), "bold claims");
        assert.equal(await page.locator(`${md} .markdown ul > li`).count(), 3);
        const link = page.locator(`${md} .markdown a[href="https://example.com/guide"]`);
        assert.equal(await link.count(), 1, "the link is kept");
        assert.match(await link.getAttribute("rel"), /noopener/);
        const text = await page.textContent(md);
        assert.doesNotMatch(text, /##|\*\*/, "no markdown syntax is shown literally");
        const active = await page.evaluate(() => {
            const root = document.querySelector("#session-content");
            const attrs = [...root.querySelectorAll("*")].flatMap((el) => [...el.attributes]
                .filter((a) => /^on/i.test(a.name) || /^\s*javascript:/i.test(a.value)).map((a) => `${el.tagName} ${a.name}`));
            return {
                scripts: root.querySelectorAll("script").length,
                images: root.querySelectorAll("img").length,
                attrs,
                xss: window.__xss ?? null,
            };
        });
        assert.deepEqual(active, { scripts: 0, images: 0, attrs: [], xss: null }, "nothing from the answer can run");
        // Raw HTML in the answer is shown as the text it is.
        assert.match(text, /<img src=x onerror=/, "raw HTML stays text");
        assert.match(text, /<script>window.__xss = 2/, "a script tag stays text");

        // A short answer: nothing is cut, no "Show full".
        assert.equal((await page.textContent(`${cell("gpt-4o")} .response-body`)).trim(), "Yes.");
        assert.equal(await page.locator(`${cell("gpt-4o")} .response-toggle:visible`).count(), 0, "no Show full on a short answer");

        // An object: formatted JSON.
        assert.equal(await page.textContent(`${cell("mistral")} pre.response-json`), JSON.stringify(objectAnswer, null, 2));
        // An object with a text member: the text rendered, the rest as JSON (here only a number,
        // which the numbers line above the text shows instead).
        assert.equal(await page.textContent(`${cell("llama")} .markdown h2`), "Short heading");
        assert.equal(await page.textContent(`${cell("llama")} .markdown strong`), "words");
        assert.equal(await page.textContent(`${cell("llama")} .response-metrics`), "90% confidence");
        assert.equal(await page.locator(`${cell("llama")} pre.response-extra`).count(), 0);

        // Under the sticky top bar: the responses card from its title.
        await page.$eval(".responses-card", (el) => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 64));
        await screenshot(page, `session-markdown-${vp.name}`);

        // A long answer: cut, "Show full" expands it to the whole text with real line breaks.
        const long = cell("gemini");
        const toggle = page.locator(`${long} .response-toggle`);
        assert.equal(await toggle.isVisible(), true, "Show full on a long answer");
        assert.equal(await toggle.textContent(), "Show full");
        const before = await page.$eval(`${long} .response-body`, (el) => el.getBoundingClientRect().height);
        await toggle.click();
        assert.equal(await toggle.textContent(), "Show less");
        const expanded = await page.$eval(`${long} .response-body`, (el) => ({
            height: el.getBoundingClientRect().height, text: el.innerText, paragraphs: el.querySelectorAll("p").length,
        }));
        assert.ok(expanded.height > before * 2, `expanded: ${before} -> ${expanded.height} px`);
        assert.equal(expanded.paragraphs, 24);
        assert.match(expanded.text, /Paragraph 1:[^\n]*\n+Paragraph 2:/, "real line breaks");
        assert.match(expanded.text, /Paragraph 24:/, "the whole text");
        assert.doesNotMatch(expanded.text, /\\n|^"|"$/, "no JSON escapes or quotes");
        assert.deepEqual(seen.dialogs, [], "no dialog opened");
        assert.deepEqual(seen.consoleErrors, [], "no console error");
    });

    // A deleted session.
    const doomed = await server.create("Which cache should we retire first?");
    await server.addResponse(doomed.session_id, "claude", 1, "The oldest one.");
    await server.remove(doomed.session_id);
    const deletedAt = (await server.events(doomed.session_id)).events.at(-1);
    assert.equal(deletedAt.type, "deleted");

    await forEachViewport("a deleted session says when it was deleted, not when it expires", async (page, vp) => {
        await page.goto(`${server.url}/#/sessions/${doomed.session_id}`);
        await waitConnected(page);
        await page.waitForFunction(() => document.querySelector("#session-content")?.dataset.mode === "gone"
            && document.querySelector(".session-kicker .badge")?.textContent === "Deleted", null, { timeout: TIMEOUT });
        const facts = await page.$$eval(".facts > div", (divs) => divs.map((d) => ({
            label: d.querySelector("dt").textContent, time: d.querySelector("time")?.getAttribute("datetime") ?? null,
        })));
        assert.ok(!facts.some((f) => f.label === "Expires"), `no Expires: ${JSON.stringify(facts)}`);
        const deleted = facts.find((f) => f.label === "Deleted");
        assert.ok(deleted, `a Deleted fact: ${JSON.stringify(facts)}`);
        assert.equal(deleted.time, deletedAt.at, "the deleted event's time");
        await screenshot(page, `session-deleted-${vp.name}`);
    });

    // The timeline and the slider.
    const single = await server.create("Is one event enough for a timeline?");

    /** The x of the slider thumb's centre, from the box of its user-agent shadow element. */
    async function thumbX(page) {
        const cdp = await page.context().newCDPSession(page);
        try {
            const { root } = await cdp.send("DOM.getDocument", { depth: -1, pierce: true });
            let thumb = null;
            let slider = null;
            const walk = (node, inSlider) => {
                if (thumb) return;
                const attrs = node.attributes ?? [];
                const attr = (name) => {
                    const i = attrs.indexOf(name);
                    return i >= 0 && i % 2 === 0 ? attrs[i + 1] : null;
                };
                if (node.nodeName === "INPUT" && attr("id") === "time-travel") {
                    slider = node;
                    inSlider = true;
                }
                // <input type=range>'s user-agent shadow tree: div > div#track > div#thumb.
                if (inSlider && (attr("id") === "thumb" || attr("pseudo") === "-webkit-slider-thumb")) {
                    thumb = node;
                    return;
                }
                for (const c of [...(node.shadowRoots ?? []), ...(node.children ?? [])]) walk(c, inSlider);
            };
            walk(root, false);
            assert.ok(slider, "the slider is in the DOM");
            assert.ok(thumb, "the slider's thumb element is found");
            const { model } = await cdp.send("DOM.getBoxModel", { backendNodeId: thumb.backendNodeId });
            const q = model.border;  // x1 y1 x2 y2 x3 y3 x4 y4, CSS pixels of the viewport
            return (q[0] + q[2] + q[4] + q[6]) / 4;
        } finally {
            await cdp.detach().catch(() => {});
        }
    }

    const dotX = (page, index) => page.$eval(`.timeline-plot circle.dot[data-index="${index}"]`, (c) => {
        const r = c.getBoundingClientRect();
        return r.left + r.width / 2;
    });

    // The view redraws when its session changes; a press and a release on either side of that
    // redraw must still act on what was pressed (a click needs both on the same element).
    await forEachViewport("a button pressed while its session changes still acts", async (page) => {
        const query = `Pressed while the session changes: ${"a long question, ".repeat(20)}`;
        const s = await server.create(query);
        await server.setStatus(s.session_id, "in_progress");
        await server.addResponse(s.session_id, "claude", 1, { text: "First answer." });
        await server.addResponse(s.session_id, "gpt-4o", 1, { text: "Second answer." });
        await openSession(page, server, s.session_id);
        let round = 1;
        const pressDuringChange = (selector) => holdPressOn(page, selector, async () => {
            const seen = await page.evaluate(() => window.quorumDashboard.lastSeq);
            await server.addResponse(s.session_id, "gemini", ++round, { text: `Answer ${round}.` });
            await page.waitForFunction((before) => window.quorumDashboard.lastSeq > before, seen);
            await sleep(100);  // the view has what the stream delivered
        });
        await pressDuringChange(".expand-query");
        await page.waitForSelector("#session-title.expanded", { timeout: 5_000 });
        assert.equal(await page.getAttribute(".expand-query", "aria-expanded"), "true");
        await pressDuringChange('.responses-grid tr[data-provider="claude"] .provider-button');
        await page.waitForSelector('.provider-view[data-provider="claude"]', { timeout: 5_000 });
        // What arrived during the presses is shown once they are over.
        await page.selectOption("#provider-view", "gemini");
        await page.waitForFunction(() => document.querySelector(".provider-view")?.textContent.includes("Answer 3."));
        assert.equal(await page.getAttribute(".expand-query", "aria-expanded"), "true", "the query stays expanded");
        // A secondary button's press opens a context menu, after which the page may never see its
        // release: it holds no redraw.
        await holdPressOn(page, ".provider-view", async () => {
            await server.addResponse(s.session_id, "gemini", ++round, { text: `Answer ${round}.` });
            await page.waitForFunction((r) => document.querySelector(".provider-view")?.textContent.includes(`Answer ${r}.`),
                round, { timeout: 5_000 });
        }, { button: "right" });
    }, { viewports: { desktop: VIEWPORTS.desktop } });

    await forEachViewport("the timeline's dot sits under the slider's thumb", async (page, vp) => {
        await openSession(page, server, single.session_id);
        await page.locator(".timeline-card").scrollIntoViewIfNeeded();
        assert.equal(await page.locator(".timeline-plot circle.dot").count(), 1);
        const dot = await dotX(page, 1);
        const thumb = await thumbX(page);
        assert.ok(Math.abs(dot - thumb) <= 2, `one event: dot at x=${dot.toFixed(1)}, thumb at x=${thumb.toFixed(1)}`);
        await screenshot(page, `session-one-event-${vp.name}`);

        // With more events, the newest (live) position: its dot is under the thumb too.
        await openSession(page, server, busy.session_id);
        await page.locator(".timeline-card").scrollIntoViewIfNeeded();
        const last = await dotX(page, 7);
        const thumbLast = await thumbX(page);
        assert.ok(Math.abs(last - thumbLast) <= 2, `7 events, live: dot at x=${last.toFixed(1)}, thumb at x=${thumbLast.toFixed(1)}`);
    });
});
