// The live stream (GET /v1/stream, WebSocket; docs/api.md "Live stream"): connects with
// after=<last seq seen>, so a reconnection resumes exactly where the page left off; reconnects
// with exponential backoff; pings the server to notice a dead connection; reports its state
// (connecting, connected, reconnecting, offline) for the indicator.
//
// The stream delivers events in seq order with no gap and no duplicate. This client still
// checks: a repeated seq is dropped, and a gap is counted (and reported to the console) since it
// would mean an event was missed.

import { ApiError, noteSeq, streamTicket, streamUrl } from "./api.js";

const PING_EVERY_MS = 20_000;
const PONG_TIMEOUT_MS = 10_000;
const BACKOFF_FIRST_MS = 400;
const BACKOFF_MAX_MS = 10_000;
/** Failed attempts in a row after which the indicator says offline instead of reconnecting. */
const OFFLINE_AFTER_FAILURES = 4;

export class LiveStream {
    /**
     * onHello({log_id, head_seq}) -> nothing, or "reload" to stop and let the owner reload;
     * onEvent(envelope) for each new event in seq order; onState(state, detail) on changes.
     */
    constructor({ onHello, onEvent, onState }) {
        this.onHello = onHello;
        this.onEvent = onEvent;
        this.onState = onState;
        this.ws = null;
        this.lastSeq = 0;
        this.failures = 0;
        this.retryTimer = null;
        this.pingTimer = null;
        this.pongTimer = null;
        this.running = false;
        this.state = "offline";
        /** Counters for diagnostics (and the browser tests). */
        this.stats = { connects: 0, hellos: 0, events: 0, duplicates: 0, gaps: 0 };
        this.retryAt = 0;

        window.addEventListener("online", () => this.retryNow());
    }

    /** Starts (or restarts) streaming every event after `afterSeq`. */
    start(afterSeq) {
        this.stop();
        this.running = true;
        this.lastSeq = afterSeq;
        this.failures = 0;
        this.connect();
    }

    stop() {
        this.running = false;
        clearTimeout(this.retryTimer);
        this.retryTimer = null;
        this.stopPings();
        if (this.ws) {
            const ws = this.ws;
            this.ws = null;
            ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
            ws.close(1000, "client stop");
        }
    }

    /** Skips the backoff wait (the "Retry now" button, the browser coming back online). */
    retryNow() {
        if (!this.running || this.ws) return;
        clearTimeout(this.retryTimer);
        this.retryTimer = null;
        this.connect();
    }

    setState(state, detail = {}) {
        this.state = state;
        this.onState(state, detail);
    }

    async connect() {
        if (!this.running) return;
        this.setState(this.stats.hellos === 0 ? "connecting" : this.retryState());
        // A plain request first, for a one-time ticket: the token goes in its header, never in the
        // stream's URL. A browser cannot see why a WebSocket upgrade failed, but this request also
        // tells a server that is down from one that wants a token (and shows the prompt).
        let ticket;
        try {
            ticket = await streamTicket();
        } catch (err) {
            if (!this.running) return;
            this.scheduleRetry(err instanceof ApiError ? `server answered ${err.status}` : "server unreachable");
            return;
        }
        if (!this.running || this.ws) return;

        this.stats.connects++;
        let ws;
        try {
            ws = new WebSocket(streamUrl({ after: this.lastSeq, ticket }));
        } catch (err) {
            this.scheduleRetry(String(err));
            return;
        }
        this.ws = ws;

        ws.onmessage = (msg) => {
            let frame;
            try {
                frame = JSON.parse(msg.data);
            } catch {
                console.warn("stream: a frame that is not JSON", msg.data);
                return;
            }
            if (frame.type === "event") {
                this.receive(frame.event);
            } else if (frame.type === "hello") {
                this.stats.hellos++;
                this.failures = 0;
                this.setState("connected");
                this.startPings(ws);
                if (this.onHello(frame) === "reload") this.stop();
            } else if (frame.type === "pong") {
                clearTimeout(this.pongTimer);
                this.pongTimer = null;
            }
        };
        ws.onclose = (ev) => {
            if (this.ws !== ws) return;
            this.ws = null;
            this.stopPings();
            if (!this.running) return;
            // 1013 "slow consumer": resume at once from the last seq seen; nothing is lost.
            const delay = ev.code === 1013 ? 0 : undefined;
            this.scheduleRetry(ev.reason || `closed (${ev.code})`, delay);
        };
        ws.onerror = () => {
            // Always followed by a close event, which schedules the retry.
        };
    }

    receive(ev) {
        if (!ev || typeof ev.seq !== "number") return;
        if (ev.seq <= this.lastSeq) {
            this.stats.duplicates++;
            return;
        }
        if (ev.seq !== this.lastSeq + 1) {
            this.stats.gaps++;
            console.warn(`stream: gap between seq ${this.lastSeq} and ${ev.seq}`);
        }
        this.lastSeq = ev.seq;
        noteSeq(ev.seq);
        this.stats.events++;
        this.onEvent(ev);
    }

    retryState() {
        return !navigator.onLine || this.failures >= OFFLINE_AFTER_FAILURES ? "offline" : "reconnecting";
    }

    scheduleRetry(reason, delay) {
        clearTimeout(this.retryTimer);
        if (delay === undefined) {
            const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(this.failures, 10));
            delay = Math.round(base * (0.5 + Math.random() * 0.5));  // jitter: spread reconnects
            this.failures++;
        }
        this.retryAt = Date.now() + delay;
        this.setState(this.retryState(), { reason, retryAt: this.retryAt });
        this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.connect();
        }, delay);
    }

    startPings(ws) {
        this.stopPings();
        this.pingTimer = setInterval(() => {
            if (ws.readyState !== WebSocket.OPEN) return;
            ws.send(JSON.stringify({ op: "ping" }));
            if (this.pongTimer) return;
            this.pongTimer = setTimeout(() => {
                // No answer: the connection is dead without a close. Drop it and reconnect.
                this.pongTimer = null;
                console.warn("stream: no pong, reconnecting");
                ws.close(4000, "no pong");
                if (this.ws === ws) ws.onclose({ code: 4000, reason: "no pong" });
            }, PONG_TIMEOUT_MS);
        }, PING_EVERY_MS);
    }

    stopPings() {
        clearInterval(this.pingTimer);
        clearTimeout(this.pongTimer);
        this.pingTimer = null;
        this.pongTimer = null;
    }
}
