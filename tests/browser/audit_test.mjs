// The audit view (#/audit): the chain head shown equals GET /v1/audit/head, Copy puts
// "<seq>:<hash>" on the clipboard, and for an admin "Verify the log" runs the server's check
// (POST then GET /v1/audit/verify every 500 ms) to "OK"; a read token sees the head and a note
// that verifying needs admin; Copy held while the check is followed still copies. At 1280x800 and
// 390x844.

import assert from "node:assert/strict";

import {
    forEachViewport, holdPressOn, makeTokensFile, withToken, launchBrowser, runSuite, screenshot, Server, sleep,
    TIMEOUT,
} from "./harness.mjs";


await runSuite(async ({ tmp }) => {
    const made = await makeTokensFile(tmp, [["ops-admin", "admin"], ["viewer", "read"]]);
    const tokens = { admin: made.tokens["ops-admin"], read: made.tokens.viewer };
    const tokensFile = made.file;
    const server = new Server({ name: "quorum (audit)", extraArgs: ["--tokens-file", tokensFile] });
    server.token = tokens.admin;
    await server.start();
    for (const q of ["Which queue?", "Which database?", "Which cache?"]) await server.create(q);
    const head = await server.request("GET", "/v1/audit/head");
    assert.ok(head.seq >= 3);

    await launchBrowser();

    await forEachViewport("an admin sees the head, copies it and verifies the log", async (page, vp) => {
        await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
        await withToken(page, tokens.admin);
        await page.goto(`${server.url}/#/audit`);
        await page.waitForFunction((seq) => document.querySelector("#audit-seq")?.textContent === String(seq),
            head.seq, { timeout: TIMEOUT });
        assert.equal(await page.textContent("#audit-hash"), head.hash);
        assert.equal(await page.$eval("#audit-link", (a) => a.getAttribute("aria-current")), "page");
        assert.equal(await page.$eval("#overview-view", (el) => el.hidden), true);

        if (vp.name === "desktop") {
            await page.click("#audit-copy");
            await page.waitForFunction(() => document.querySelector("#audit-copy-note")?.textContent === "Copied.",
                undefined, { timeout: TIMEOUT });
            assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `${head.seq}:${head.hash}`);
        }

        // The view may still show the result of an earlier check (the other viewport's): wait for
        // the result of the check this click starts (another start time).
        const before = await page.$eval("#audit-result", (el) => el.dataset.started ?? "");
        await page.click("#audit-verify");
        await page.waitForFunction((prev) => {
            const el = document.querySelector("#audit-result");
            return el?.dataset.state === "ok" && (el.dataset.started ?? "") !== prev;
        }, before, { timeout: TIMEOUT });
        const result = await page.textContent("#audit-result");
        assert.match(result, /^OK: the log holds\./);
        assert.match(result, new RegExp(`${head.seq} of ${head.seq} events checked`));
        const api = await server.request("GET", "/v1/audit/verify");
        assert.equal(api.state, "done");
        assert.equal(api.ok, true);
        // Nothing reaches past the viewport.
        const outside = await page.$$eval("#audit-view *, .topbar *", (els) => els
            .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > innerWidth + 0.5)
            .map((e) => `${e.id || e.className}: ${Math.round(e.getBoundingClientRect().right)}`));
        assert.deepEqual(outside, [], "nothing reaches past the viewport");
        await screenshot(page, `audit-${vp.name}`);
    });

    await forEachViewport("a read token sees the head and a note that verifying needs admin", async (page, vp) => {
        await withToken(page, tokens.read);
        await page.goto(`${server.url}/#/audit`);
        await page.waitForSelector("#audit-needs-admin", { timeout: TIMEOUT });
        assert.equal(await page.textContent("#audit-seq"), String(head.seq));
        assert.equal(await page.textContent("#audit-hash"), head.hash);
        assert.match(await page.textContent("#audit-needs-admin"), /needs an admin token/);
        assert.equal(await page.$$eval("#audit-verify", (els) => els.length), 0);
        await screenshot(page, `audit-read-${vp.name}`);
    });

    // While a check runs the view reads its state every 500 ms and draws itself anew; a press
    // held over that redraw must still act (a click needs its press and release on one element).
    await forEachViewport("Copy held while the check is followed still copies", async (page) => {
        await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
        await withToken(page, tokens.admin);
        await page.goto(`${server.url}/#/audit`);
        await page.waitForFunction((seq) => document.querySelector("#audit-seq")?.textContent === String(seq),
            head.seq, { timeout: TIMEOUT });
        // The check starts under the held press; the view reads its state and draws it.
        await holdPressOn(page, "#audit-copy", async () => {
            const polled = page.waitForResponse((r) => r.url().endsWith("/v1/audit/verify") &&
                r.request().method() === "GET", { timeout: TIMEOUT });
            await page.$eval("#audit-verify", (b) => b.click());
            await polled;
            await sleep(100);
        });
        await page.waitForFunction(() => document.querySelector("#audit-copy-note")?.textContent === "Copied.",
            undefined, { timeout: 5_000 });
        assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `${head.seq}:${head.hash}`);
        // And what the check reported is drawn after the release.
        await page.waitForSelector('#audit-result[data-state="ok"]', { timeout: TIMEOUT });
    }, { viewports: { desktop: { width: 1280, height: 800 } } });
});
