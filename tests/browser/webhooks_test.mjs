// The webhooks view (#/webhooks): a server with --allow-private-webhooks and a fast retry
// schedule delivers to a receiver in this process; the view lists the endpoint (its URL redacted
// as the logs show it), and its delivery attempts newest first, a failed attempt (HTTP 500) and
// then the success of the retry; "Replay from seq" schedules new deliveries that show up; the
// Enabled switch disables the endpoint (nothing is delivered) and enables it again (new events are);
// a token without the admin scope gets a note instead of the view; a button held over the view's
// periodic refresh still acts. At 1280x800 and 390x844.

import assert from "node:assert/strict";
import http from "node:http";

import {
    forEachViewport, holdPressOn, launchBrowser, makeTokensFile, runSuite, screenshot, Server, sleep, TIMEOUT,
    waitConnected, withToken,
} from "./harness.mjs";

/** A loopback receiver: `/flaky` answers 500 to the first request of each webhook-id, then 200. */
class Receiver {
    constructor() {
        this.requests = [];
        this.seen = new Set();
        this.server = http.createServer((req, res) => {
            req.resume();
            req.on("end", () => {
                const id = req.headers["webhook-id"];
                const p = req.url.split("?")[0];
                const status = p === "/flaky" && !this.seen.has(id) ? 500 : 200;
                if (p === "/flaky") this.seen.add(id);
                this.requests.push({ path: p, id, status });
                res.writeHead(status, { "content-type": "text/plain" });
                res.end("ok");
            });
        });
    }

    async start() {
        await new Promise((resolve) => this.server.listen(0, "127.0.0.1", resolve));
        this.port = this.server.address().port;
    }

    url(p) {
        return `http://127.0.0.1:${this.port}${p}`;
    }

    async stop() {
        this.server.closeAllConnections();
        await new Promise((resolve) => this.server.close(resolve));
    }
}

async function waitFor(what, predicate, ms = TIMEOUT) {
    const deadline = Date.now() + ms;
    for (;;) {
        const value = await predicate();
        if (value) return value;
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
        await sleep(50);
    }
}

/** The attempts the page shows, in display order. */
const shownAttempts = (page) => page.$$eval("#wh-deliveries tbody tr", (trs) => trs.map((tr) => ({
    seq: Number(tr.dataset.seq),
    attempt: Number(tr.dataset.attempt),
    state: tr.dataset.state,
    http: tr.querySelector(".wh-http").textContent,
    error: tr.querySelector(".wh-err").textContent,
})));


await runSuite(async ({ tmp }) => {
    const receiver = new Receiver();
    await receiver.start();
    try {
        const made = await makeTokensFile(tmp, [["ops-admin", "admin"], ["viewer", "read"]]);
        const tokens = { admin: made.tokens["ops-admin"], read: made.tokens.viewer };
        const tokensFile = made.file;
        const server = new Server({
            name: "quorum (webhooks)",
            extraArgs: ["--tokens-file", tokensFile, "--allow-private-webhooks", "--webhook-retry-scale", "0.001",
                "--webhook-timeout", "5"],
        });
        server.token = tokens.admin;
        await server.start();

        // One endpoint whose URL carries a secret in its query (never delivered to: "deleted" only),
        // and the one under test, registered after it (shown first and selected).
        const secretHook = await server.request("POST", "/v1/webhooks",
            { url: receiver.url("/ok?token=s3cr3t-value&team=ops"), events: ["deleted"], description: "ops channel" },
            { expect: 201 });
        const hook = await server.request("POST", "/v1/webhooks",
            { url: receiver.url("/flaky"), events: ["created"], description: "orders" }, { expect: 201 });
        const deliveriesOf = async () =>
            (await server.request("GET", `/v1/webhooks/${hook.id}/deliveries?limit=1000`)).deliveries;

        const sessions = [];
        for (const q of ["Which queue?", "Which database?"]) sessions.push(await server.create(q));
        const createdSeqs = [];
        for (const s of sessions) createdSeqs.push((await server.events(s.session_id)).events[0].seq);
        // Each created event: attempt 1 answered 500 (pending), attempt 2 answered 200 (delivered).
        await waitFor("the retries", async () => (await deliveriesOf()).filter((d) => d.state === "delivered").length === 2);

        await launchBrowser();

        await forEachViewport("the view lists the endpoint and its attempts, a failure then the retry", async (page, vp) => {
            await withToken(page, tokens.admin);
            await page.goto(`${server.url}/#/webhooks`);
            await waitConnected(page);
            await page.waitForSelector(`.wh-endpoint[data-id="${hook.id}"]`, { timeout: TIMEOUT });

            // The endpoints, newest first, the selected one the newest; URLs redacted like the logs.
            const listed = await page.$$eval(".wh-endpoint", (bs) => bs.map((b) => ({
                id: b.dataset.id, url: b.querySelector(".wh-url").textContent,
                state: b.querySelector(".badge").textContent, pressed: b.getAttribute("aria-pressed"),
            })));
            assert.deepEqual(listed, [
                { id: hook.id, url: receiver.url("/flaky"), state: "Enabled", pressed: "true" },
                { id: secretHook.id, url: receiver.url("/ok?token=***&team=***"), state: "Enabled", pressed: "false" },
            ]);
            assert.ok(!(await page.$eval("#webhooks-view", (el) => el.innerHTML)).includes("s3cr3t"),
                "the query's secret is not in the view");
            // Nor anywhere else on the page: the feed names the registration with the URL redacted.
            await page.waitForFunction(() => document.querySelector("#feed")?.textContent.includes("registered"),
                null, { timeout: TIMEOUT });
            assert.ok(!(await page.evaluate(() => document.body.outerHTML)).includes("s3cr3t"),
                "the query's secret is nowhere on the page");
            assert.equal(await page.textContent("#wh-summary"), "2 endpoints");
            assert.equal(await page.$eval("#webhooks-link", (a) => a.getAttribute("aria-current")), "page");
            // The top bar, with its new link and the token button, fits the width.
            const outside = await page.$$eval(".topbar *", (els) => els
                .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > innerWidth + 0.5)
                .map((e) => `${e.id || e.className}: ${Math.round(e.getBoundingClientRect().right)}`));
            assert.deepEqual(outside, [], "nothing in the top bar reaches past the viewport");

            // The attempts, exactly as the API lists them (newest first).
            const api = await deliveriesOf();
            await page.waitForFunction((n) => document.querySelectorAll("#wh-deliveries tbody tr").length === n,
                api.length, { timeout: TIMEOUT });
            const shown = await shownAttempts(page);
            assert.deepEqual(shown.map((a) => [a.seq, a.attempt, a.state]), api.map((d) => [d.seq, d.attempt, d.state]));
            for (const seq of createdSeqs) {
                // The first delivery's attempts are the oldest of this seq (replays come after).
                const mine = shown.filter((a) => a.seq === seq).slice(-2);
                assert.deepEqual(mine.map((a) => [a.attempt, a.state, a.http]),
                    [[2, "delivered", "200"], [1, "pending", "500"]], `seq ${seq}: the retry above the failure`);
                assert.match(mine[1].error, /HTTP 500 \(server\)/);
                assert.equal(mine[0].error, "—");
            }
            assert.match(await page.textContent(".wh-detail .facts"), new RegExp(`2 delivered · ${api.length} attempts`));
            await screenshot(page, `webhooks-${vp.name}`);

            // Replay from the registration: every created event is sent again and shows up.
            const before = api.length;
            await page.fill("#wh-replay-after", String(hook.registered_seq));
            await page.click("#wh-replay button[type=submit]");
            await page.waitForSelector("#wh-replay-note", { timeout: TIMEOUT });
            assert.equal(await page.textContent("#wh-replay-note"),
                `Sending 2 events again (seq ${hook.registered_seq} to ${createdSeqs.at(-1)}).`);
            await page.waitForFunction((n) => document.querySelectorAll("#wh-deliveries tbody tr").length === n,
                before + 2, { timeout: TIMEOUT });
            const after = await shownAttempts(page);
            const fresh = after.slice(0, 2);
            assert.deepEqual(fresh.map((a) => a.seq).sort((x, y) => x - y), createdSeqs);
            for (const a of fresh) assert.deepEqual([a.attempt, a.state, a.http], [1, "delivered", "200"]);
            assert.deepEqual(after.slice(2), shown, "the older attempts are still listed under the new ones");
            await screenshot(page, `webhooks-replay-${vp.name}`);
        });

        await forEachViewport("the switch disables the endpoint and enables it again", async (page, vp) => {
            await withToken(page, tokens.admin);
            await page.goto(`${server.url}/#/webhooks`);
            await waitConnected(page);
            await page.waitForSelector(`.wh-detail[data-id="${hook.id}"] #wh-enabled[aria-checked="true"]`,
                { timeout: TIMEOUT });
            const createdEventOf = async (q) => {
                const s = await server.create(q);
                return (await server.events(s.session_id)).events[0];
            };

            // Off: the API says so, the list's badge too, and a new session is not delivered.
            await page.click("#wh-enabled");
            await page.waitForSelector('#wh-enabled[aria-checked="false"]', { timeout: TIMEOUT });
            const off = await server.request("GET", `/v1/webhooks/${hook.id}`);
            assert.equal(off.disabled, true);
            assert.equal(off.disabled_reason, "disabled by ops-admin");
            await page.waitForFunction((id) =>
                document.querySelector(`.wh-endpoint[data-id="${id}"] .badge`)?.textContent === "Disabled",
            hook.id, { timeout: TIMEOUT });
            assert.equal(await page.isDisabled("#wh-replay button[type=submit]"), true);
            const missed = await createdEventOf(`Missed while disabled (${vp.name})?`);
            await sleep(1_500);
            assert.equal(receiver.requests.filter((r) => r.id === missed.event_id).length, 0,
                "nothing is delivered to a disabled endpoint");
            assert.equal((await deliveriesOf()).filter((d) => d.seq === missed.seq).length, 0);
            await screenshot(page, `webhooks-disabled-${vp.name}`);

            // On again: the next session is delivered (through the 500 and its retry), the missed
            // one is not.
            await page.click("#wh-enabled");
            await page.waitForSelector('#wh-enabled[aria-checked="true"]', { timeout: TIMEOUT });
            assert.equal((await server.request("GET", `/v1/webhooks/${hook.id}`)).disabled, false);
            const next = await createdEventOf(`Delivered after enabling (${vp.name})?`);
            await waitFor("the delivery after enabling", () =>
                receiver.requests.some((r) => r.id === next.event_id && r.status === 200));
            assert.equal(receiver.requests.filter((r) => r.id === missed.event_id).length, 0);
            await page.waitForSelector(`#wh-deliveries tr[data-seq="${next.seq}"][data-state="delivered"]`,
                { timeout: TIMEOUT });
        });

        await forEachViewport("a token without the admin scope gets a note instead of the view", async (page, vp) => {
            await withToken(page, tokens.read);
            await page.goto(`${server.url}/#/webhooks`);
            await waitConnected(page);
            await page.waitForSelector("#webhooks-forbidden", { timeout: TIMEOUT });
            const note = await page.textContent("#webhooks-forbidden");
            assert.match(note, /admin scope/);
            assert.match(note, /the token 'viewer' has 'read'/);
            assert.equal(await page.$$eval(".wh-endpoint, #wh-deliveries", (els) => els.length), 0);
            assert.ok(!(await page.content()).includes(String(receiver.port)), "no endpoint URL on the page");
            await screenshot(page, `webhooks-forbidden-${vp.name}`);
            // The overview still works with that token.
            await page.click("a.brand");
            await page.waitForSelector("#overview-view:not([hidden])", { timeout: TIMEOUT });
            assert.equal(await page.$eval("#webhooks-view", (el) => el.hidden), true);
        });

        // The view reads the endpoints again every 2 s and draws them anew; a press held over that
        // redraw must still act on what was pressed (a click needs its press and release on the
        // same element).
        await forEachViewport("a button held over a refresh still acts", async (page) => {
            await withToken(page, tokens.admin);
            await page.goto(`${server.url}/#/webhooks`);
            await page.waitForSelector(`.wh-detail[data-id="${hook.id}"] #wh-delete`, { timeout: TIMEOUT });
            // Held over a whole refresh: the list, then the selected endpoint's attempts.
            await holdPressOn(page, "#wh-delete", async () => {
                await page.waitForResponse((r) => r.url().endsWith("/v1/webhooks"), { timeout: TIMEOUT });
                await page.waitForResponse((r) => r.url().includes(`/v1/webhooks/${hook.id}/deliveries`),
                    { timeout: TIMEOUT });
                await sleep(100);
            });
            await page.waitForSelector("#wh-delete-confirm", { timeout: 5_000 });
            await page.click("#wh-delete-confirm + button");  // Cancel
            await page.waitForSelector("#wh-delete", { timeout: 5_000 });
            await server.request("GET", `/v1/webhooks/${hook.id}`, undefined, { expect: 200 });
        }, { viewports: { desktop: { width: 1280, height: 800 } } });

        await forEachViewport("deleting an endpoint takes it off the list", async (page) => {
            await withToken(page, tokens.admin);
            await page.goto(`${server.url}/#/webhooks`);
            await page.click(`.wh-endpoint[data-id="${secretHook.id}"]`);
            await page.waitForSelector(`.wh-detail[data-id="${secretHook.id}"]`, { timeout: TIMEOUT });
            await page.click("#wh-delete");
            await page.click("#wh-delete-confirm");
            await page.waitForFunction((id) => !document.querySelector(`.wh-endpoint[data-id="${id}"]`),
                secretHook.id, { timeout: TIMEOUT });
            await server.request("GET", `/v1/webhooks/${secretHook.id}`, undefined, { expect: 404 });
            assert.equal(await page.textContent("#wh-summary"), "1 endpoint");
        }, { viewports: { desktop: { width: 1280, height: 800 } } });
    } finally {
        await receiver.stop();
    }
});
