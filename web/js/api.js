// The REST side of the server (docs/api.md): fetch with the bearer token when one is set, and a
// token prompt on 401 that retries the request once the user has entered a token.

const TOKEN_KEY = "quorum.token";

/** An error answer from the server: `status`, and the body's `code` and `message`. */
export class ApiError extends Error {
    constructor(status, code, message) {
        super(message || `HTTP ${status}`);
        this.name = "ApiError";
        this.status = status;
        this.code = code || "";
    }
}

/** Kept as well as sessionStorage, for browsers where storage is disabled. */
let memoryToken = "";

export function getToken() {
    try {
        return sessionStorage.getItem(TOKEN_KEY) || "";
    } catch {
        return "";  // storage disabled: no token
    }
}

export function setToken(token) {
    try {
        if (token) sessionStorage.setItem(TOKEN_KEY, token);
        else sessionStorage.removeItem(TOKEN_KEY);
    } catch {
        // storage disabled: the token lasts as long as this page (kept below)
    }
    memoryToken = token;
}

const currentToken = () => getToken() || memoryToken;

/**
 * The newest log position this page has seen (an event from the live stream, the Quorum-Seq of a
 * write). Every request asks the server to have applied it (Quorum-Min-Seq): behind a load
 * balancer the REST answers may come from another node than the stream, and the page must never
 * show a state older than an event it has already shown (docs/cluster.md).
 */
let seenSeq = 0;

/** Notes a log position the page has shown (stream events call it). */
export function noteSeq(seq) {
    if (Number.isSafeInteger(seq) && seq > seenSeq) seenSeq = seq;
}

/** Forgets the positions seen: the server's log changed, and they belong to the old one. */
export function forgetSeq() {
    seenSeq = 0;
}

/**
 * Called on a 401 with the rejected token; resolves once a new token was stored. Set by the page
 * (main.js) to show its token form. Concurrent 401s share one prompt.
 */
let askForToken = null;
let pendingPrompt = null;

export function onUnauthorized(fn) {
    askForToken = fn;
}

function promptForToken(rejected) {
    if (!askForToken) return Promise.reject(new ApiError(401, "unauthorized", "Unauthorized"));
    pendingPrompt ??= askForToken(rejected).finally(() => {
        pendingPrompt = null;
    });
    return pendingPrompt;
}

/**
 * GET (or another method) a /v1 path; resolves with the parsed JSON body (null for 204).
 * Rejects with ApiError for an error answer, and with a TypeError when the server cannot be
 * reached. A 401 shows the token prompt and retries with the new token.
 */
export async function api(path, { method = "GET", body, signal } = {}) {
    for (;;) {
        const token = currentToken();
        const headers = { Accept: "application/json" };
        if (token) headers.Authorization = `Bearer ${token}`;
        if (body !== undefined) headers["Content-Type"] = "application/json";
        // Reads only: a write or a stream ticket does not depend on what the page has seen, and
        // must not wait on positions of a log the server may no longer have (the stream's hello
        // tells the page so, and forgetSeq() follows).
        if (seenSeq > 0 && method === "GET") headers["Quorum-Min-Seq"] = String(seenSeq);
        const res = await fetch(path, {
            method,
            headers,
            body: body === undefined ? undefined : JSON.stringify(body),
            signal,
            cache: "no-store",
        });
        if (res.status === 401) {
            await promptForToken(token);
            continue;
        }
        const written = Number(res.headers.get("Quorum-Seq"));
        if (res.ok && written > 0) noteSeq(written);
        if (res.status === 204) return null;
        let payload = null;
        const text = await res.text();
        if (text) {
            try {
                payload = JSON.parse(text);
            } catch {
                payload = null;
            }
        }
        if (!res.ok) {
            const err = payload?.error ?? {};
            throw new ApiError(res.status, err.code, err.message || res.statusText);
        }
        return payload;
    }
}

/** Every session (GET /v1/sessions, all pages, newest first). */
export async function listAllSessions({ signal, pageSize = 1000 } = {}) {
    const out = [];
    let after = null;
    for (;;) {
        const q = new URLSearchParams({ limit: String(pageSize) });
        if (after) q.set("after", after);
        const page = await api(`/v1/sessions?${q}`, { signal });
        for (const s of page.sessions) out.push(s);
        if (!page.next) return out;
        after = page.next;
    }
}

/**
 * A one-time ticket for opening the live stream (POST /v1/stream/tickets, with the token in the
 * Authorization header as every request): the token itself never goes into a URL. The ticket is
 * good for one connection within `expires_in` seconds.
 */
export async function streamTicket({ signal } = {}) {
    const answer = await api("/v1/stream/tickets", { method: "POST", signal });
    return answer.ticket;
}

/** The URL of the live stream for `params` (after, ticket...). */
export function streamUrl(params) {
    const url = new URL("/v1/stream", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    for (const [k, v] of Object.entries(params)) {
        if (v !== null && v !== undefined && v !== "") url.searchParams.set(k, String(v));
    }
    return url.toString();
}
