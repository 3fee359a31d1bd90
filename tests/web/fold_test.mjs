// The dashboard's fold (web/js/store.js) against the shared golden fixtures of
// tests/fixtures/fold, the same files tests/projections/fold_fixture_test.cpp folds with the
// server's fold: each holds a session's events as the wire carries them and the session resource
// folding them must give. Run: node tests/web/fold_test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const fixturesDir = join(root, "tests", "fixtures", "fold");
const { applyEvent, sessionFromCreated, SessionStore, ttlMsBetween } = await import(
    pathToFileURL(join(root, "web", "js", "store.js")).href);

const files = readdirSync(fixturesDir).filter((f) => f.endsWith(".json")).sort();

/** The session resource's members of a folded session (the page keeps a few of its own). */
function resource(s) {
    const { deleted, expired, lowerQuery, ...rest } = s;
    return rest;
}

test("there are fixtures", () => {
    assert.ok(files.length >= 5, `only ${files.length} fixtures in ${fixturesDir}`);
});

for (const file of files) {
    const fixture = JSON.parse(readFileSync(join(fixturesDir, file), "utf8"));
    // The page learns the TTL in hours (GET /v1/stats ttl_hours) and turns it into ms.
    const ttlHours = fixture.ttl_us / 3.6e9;
    const ttlMs = ttlHours * 3_600_000;

    test(`${file}: applyEvent gives the server's session`, () => {
        const [first, ...rest] = fixture.events;
        assert.equal(first.type, "created");
        const s = sessionFromCreated(first, ttlMs);
        for (const ev of rest) assert.equal(applyEvent(s, ev), true, `event seq ${ev.seq}`);
        assert.deepEqual(resource(s), fixture.session);
        assert.equal(Boolean(s.deleted), fixture.ended === "deleted");
        assert.equal(Boolean(s.expired), fixture.ended === "expired");
    });

    test(`${file}: the same with the TTL the session view reads off a resource`, () => {
        // The session view has no TTL of its own: it takes expires_at - created_at.
        const ttl = ttlMsBetween(fixture.session.created_at, fixture.session.expires_at);
        const [first, ...rest] = fixture.events;
        const s = sessionFromCreated(first, ttl);
        for (const ev of rest) applyEvent(s, ev);
        assert.equal(s.expires_at, fixture.session.expires_at);
    });

    test(`${file}: an event seen twice changes nothing`, () => {
        const [first, ...rest] = fixture.events;
        const s = sessionFromCreated(first, ttlMs);
        for (const ev of rest) {
            applyEvent(s, ev);
            const before = structuredClone(s);
            assert.equal(applyEvent(s, ev), false);
            assert.deepEqual(s, before);
        }
    });

    test(`${file}: the store holds the session until it ends`, () => {
        const store = new SessionStore();
        store.reset([], ttlMs);
        for (const ev of fixture.events) store.apply(ev);
        const id = fixture.session.session_id;
        if (fixture.ended) {
            assert.equal(store.get(id), undefined);
            assert.equal(store.size, 0);
        } else {
            assert.deepEqual(resource(store.get(id)), fixture.session);
            assert.equal(store.counts[fixture.session.status], 1);
        }
    });
}
