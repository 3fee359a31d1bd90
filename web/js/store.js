// The dashboard's in-memory copy of the sessions: a map by id filled from GET /v1/sessions, then
// kept current by applying each event of the live stream to the one session it names, the same
// way the server folds its log (docs/events.md, "Event types"). Nothing is refetched per event.

/** The webhook registry's events carry this session id; they are not sessions. */
export const NIL_ID = "00000000-0000-0000-0000-000000000000";

export const STATUSES = ["pending", "in_progress", "completed", "failed"];

/**
 * A session resource as the server would return it, from its `created` event. `ttlMs` may hold
 * a fraction of a millisecond (the server keeps the TTL in microseconds): `expires_at` is
 * `created_at` plus the TTL to the microsecond, as the server computes it.
 */
export function sessionFromCreated(ev, ttlMs) {
    const created = epochMicros(ev.at);
    return {
        session_id: ev.session_id,
        created_at: ev.at,
        updated_at: ev.at,
        expires_at: ttlMs > 0 && !Number.isNaN(created)
            ? formatMicros(created + Math.round(ttlMs * 1000)) : null,
        status: "pending",
        query: ev.data?.query ?? "",
        mode: ev.data?.mode ?? "full_deliberation",
        provider_responses: {},
        consensus: null,
        metadata: ev.data?.metadata ?? {},
        error: null,
        version: ev.version,
    };
}

/**
 * Microseconds since the epoch of an RFC 3339 time from the server (up to six fraction digits
 * count), or NaN. Exact: server times are far below 2^53 microseconds.
 */
export function epochMicros(text) {
    if (typeof text !== "string") return NaN;
    const ms = Date.parse(text);  // the fraction's first three digits
    if (Number.isNaN(ms)) return NaN;
    const extra = /\.\d{3}(\d{1,3})\d*(?:Z|[+-]\d\d:\d\d)$/i.exec(text)?.[1] ?? "";
    return ms * 1000 + Number(extra.padEnd(3, "0"));
}

/** The TTL a session resource implies (expires_at - created_at) in milliseconds, or NaN. */
export function ttlMsBetween(createdAt, expiresAt) {
    return (epochMicros(expiresAt) - epochMicros(createdAt)) / 1000;
}

/** The server's form of a time: RFC 3339, UTC, six fraction digits. */
function formatMicros(us) {
    const ms = Math.floor(us / 1000);
    const micros = String(us - ms * 1000).padStart(3, "0");
    return new Date(ms).toISOString().replace(/Z$/, `${micros}Z`);
}

/**
 * Applies one event (not `created`) to `s` in place. Returns false when the session already
 * includes it (its version is not newer), so an event seen twice changes nothing. `deleted` and
 * `expired` only mark the session; the caller drops it.
 */
export function applyEvent(s, ev) {
    if (ev.version <= s.version) return false;
    const d = ev.data ?? {};
    switch (ev.type) {
        case "status_changed":
            s.status = d.to;
            if ("error" in d) s.error = d.error;
            break;
        case "response_added": {
            const byRound = { ...(s.provider_responses[d.provider] ?? {}) };
            byRound[String(d.round)] = d.response;
            s.provider_responses = { ...s.provider_responses, [d.provider]: byRound };
            break;
        }
        case "responses_replaced":
            s.provider_responses = d.provider_responses ?? {};
            break;
        case "consensus_set":
            s.consensus = d.consensus ?? null;
            break;
        case "metadata_updated":
            s.metadata = d.metadata ?? {};
            break;
        case "error_set":
            s.error = d.error ?? null;
            break;
        case "deleted":
            s.deleted = true;
            break;
        case "expired":
            s.expired = true;
            break;
        default:
            break;  // a type this page does not know: only the version moves
    }
    s.updated_at = ev.at;
    s.version = ev.version;
    return true;
}

/**
 * Every live session by id, with counts by status and the creation order (newest first is the
 * reverse of `order`). `revision` grows on every change so that views can tell when to redraw;
 * `shapeRevision` only when a session is added or removed or changes status, the only changes
 * that can change which sessions `select` returns or their order (events never change a query).
 */
export class SessionStore {
    constructor() {
        this.reset([], 0);
    }

    /** Replaces everything with `sessionsNewestFirst` (GET /v1/sessions order). */
    reset(sessionsNewestFirst, ttlMs) {
        this.ttlMs = ttlMs;
        this.byId = new Map();
        this.expiresMs = new Map();
        /** Ids in creation order, oldest first; may hold removed ids until compact(). */
        this.order = [];
        this.removedInOrder = 0;
        /** Ids that left (deleted, expired): a late `created` replay must not bring them back. */
        this.gone = new Set();
        this.counts = { pending: 0, in_progress: 0, completed: 0, failed: 0 };
        for (let i = sessionsNewestFirst.length - 1; i >= 0; i--) this.add(sessionsNewestFirst[i]);
        this.revision = (this.revision ?? 0) + 1;
        this.shapeRevision = (this.shapeRevision ?? 0) + 1;
    }

    get size() {
        return this.byId.size;
    }

    get(id) {
        return this.byId.get(id);
    }

    add(s) {
        this.shapeRevision = (this.shapeRevision ?? 0) + 1;
        this.byId.set(s.session_id, s);
        this.order.push(s.session_id);
        const exp = Date.parse(s.expires_at);
        if (!Number.isNaN(exp)) this.expiresMs.set(s.session_id, exp);
        if (s.status in this.counts) this.counts[s.status]++;
    }

    remove(id) {
        const s = this.byId.get(id);
        if (!s) return;
        this.shapeRevision++;
        if (s.status in this.counts) this.counts[s.status]--;
        this.byId.delete(id);
        this.expiresMs.delete(id);
        this.gone.add(id);
        this.removedInOrder++;
        if (this.removedInOrder > 256 && this.removedInOrder > this.order.length / 4) this.compact();
    }

    compact() {
        this.order = this.order.filter((id) => this.byId.has(id));
        this.removedInOrder = 0;
    }

    /**
     * Applies one event of the stream. Returns true when it changed a session. Events of the
     * webhook registry (nil session id) and events already reflected are ignored.
     */
    apply(ev) {
        const id = ev.session_id;
        if (id === NIL_ID) return false;
        let changed = false;
        if (ev.type === "created") {
            if (!this.byId.has(id) && !this.gone.has(id)) {
                this.add(sessionFromCreated(ev, this.ttlMs));
                changed = true;
            }
        } else {
            const s = this.byId.get(id);
            if (s) {
                const before = s.status;
                if (applyEvent(s, ev)) {
                    changed = true;
                    if (s.deleted || s.expired) {
                        s.status = before;  // counted under the status it had
                        this.remove(id);
                    } else if (before !== s.status) {
                        this.shapeRevision++;
                        if (before in this.counts) this.counts[before]--;
                        if (s.status in this.counts) this.counts[s.status]++;
                    }
                }
            }
        }
        if (changed) this.revision++;
        return changed;
    }

    /**
     * Drops sessions past their TTL: the server leaves them out of its lists before its cleanup
     * pass appends `expired`. Returns how many were dropped.
     */
    sweepExpired(now = Date.now()) {
        let n = 0;
        for (const [id, exp] of this.expiresMs) {
            if (exp <= now) {
                this.remove(id);
                n++;
            }
        }
        if (n) this.revision++;
        return n;
    }

    /** Ids newest first, optionally filtered by status and by a lower-case query substring. */
    select({ status = "", search = "" } = {}) {
        const out = [];
        const needle = search.trim().toLowerCase();
        for (let i = this.order.length - 1; i >= 0; i--) {
            const s = this.byId.get(this.order[i]);
            if (!s) continue;
            if (status && s.status !== status) continue;
            if (needle) {
                s.lowerQuery ??= String(s.query).toLowerCase();
                if (!s.lowerQuery.includes(needle)) continue;
            }
            out.push(s);
        }
        return out;
    }
}
