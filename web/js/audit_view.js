// The audit view (#/audit): the head of the hash chain (GET /v1/audit/head) with a button that
// copies it as "<seq>:<hash>" (what `quorum verify --expect-head` takes), and, for an admin token,
// "Verify the log": POST /v1/audit/verify starts the server's check of the whole log, then GET
// /v1/audit/verify every 500 ms shows its progress (events checked of the head) and its result.
// A narrower token gets 403 from GET /v1/audit/verify: the view then says verifying needs admin.

import { api, ApiError } from "./api.js";
import { formatFullTime, h, nf, PressHold, replaceChildren } from "./dom.js";

const POLL_MS = 500;

export class AuditView {
    constructor(root) {
        this.root = root;
        this.active = false;
        this.generation = 0;
        this.head = null;
        this.status = null;
        this.forbidden = false;
        this.error = null;
        this.copyNote = "";
        this.timer = 0;
        // A press held while a running check is polled is not lost to its redraw (dom.js).
        this.press = new PressHold(root, () => this.render());
    }

    open() {
        if (this.active) return;
        this.active = true;
        this.generation++;
        this.render();
        this.load();
    }

    close() {
        this.active = false;
        this.generation++;
        clearTimeout(this.timer);
        this.press.drop();
    }

    async load() {
        const gen = this.generation;
        try {
            this.head = await api("/v1/audit/head");
            this.error = null;
        } catch (e) {
            this.error = e instanceof ApiError ? e.message : "The server cannot be reached.";
        }
        if (gen !== this.generation) return;
        await this.poll(gen);
    }

    async poll(gen) {
        try {
            this.status = await api("/v1/audit/verify");
            this.forbidden = false;
        } catch (e) {
            if (e instanceof ApiError && e.status === 403) this.forbidden = true;
            else this.error = e instanceof ApiError ? e.message : "The server cannot be reached.";
        }
        if (gen !== this.generation) return;
        this.render();
        if (this.status?.state === "running") {
            this.timer = setTimeout(() => this.poll(gen), POLL_MS);
        }
    }

    async verify() {
        const gen = this.generation;
        clearTimeout(this.timer);
        try {
            this.status = await api("/v1/audit/verify", { method: "POST" });
        } catch (e) {
            // 409: a check already runs (started elsewhere): follow it.
            if (!(e instanceof ApiError && e.status === 409)) {
                this.error = e instanceof ApiError ? e.message : "The server cannot be reached.";
            }
        }
        if (gen !== this.generation) return;
        await this.poll(gen);
    }

    async copyHead() {
        if (!this.head) return;
        const text = `${this.head.seq}:${this.head.hash}`;
        try {
            await navigator.clipboard.writeText(text);
            this.copyNote = "Copied.";
        } catch {
            this.copyNote = "Copying is not allowed here: select the text instead.";
        }
        this.render();
    }

    renderResult() {
        const s = this.status;
        if (!s || s.state === "idle") return h("p", { className: "muted", id: "audit-result" }, "No check since the server started.");
        const progress = `${nf.format(s.checked)} of ${nf.format(s.head_seq)} events checked`;
        if (s.state === "running") {
            return h("p", { id: "audit-result", dataset: { state: "running" } }, `Checking… ${progress}`);
        }
        const when = s.finished_at ? ` (${formatFullTime(s.finished_at)})` : "";
        if (s.state === "done" && s.ok) {
            return h("p", { id: "audit-result", className: "audit-ok", dataset: { state: "ok", started: s.started_at ?? "" } },
                `OK: the log holds. ${progress}, up to seq ${nf.format(s.head_seq)}${when}.`);
        }
        return h("div", { id: "audit-result", className: "audit-bad", dataset: { state: s.ok ? "ok" : "bad" } },
            h("p", {}, s.state === "failed" ? `The check could not finish${when}.` : `FAILED: the log does not hold${when}. ${progress}.`),
            h("ul", {}, (s.problems ?? []).map((p) => h("li", {}, p.message))));
    }

    render() {
        if (!this.active || this.press.holds()) return;
        const head = this.head;
        const headText = head ? `${head.seq}:${head.hash}` : "…";
        const verifyPart = this.forbidden
            ? h("p", { className: "muted", id: "audit-needs-admin" }, "Verifying the log needs an admin token.")
            : [
                h("button", {
                    type: "button", className: "primary-button", id: "audit-verify",
                    disabled: this.status?.state === "running",
                    onclick: () => this.verify(),
                }, "Verify the log"),
                this.renderResult(),
            ];
        replaceChildren(this.root,
            h("h1", { id: "audit-title" }, "Audit"),
            this.error ? h("p", { className: "form-error", role: "alert" }, this.error) : null,
            h("section", { className: "audit-head", "aria-labelledby": "audit-head-title" },
                h("h2", { id: "audit-head-title" }, "Chain head"),
                h("p", { className: "muted" }, "Keep a copy elsewhere: quorum verify --expect-head SEQ:HASH checks that the log still reaches it."),
                h("dl", { className: "audit-fields" },
                    h("dt", {}, "Seq"), h("dd", { id: "audit-seq" }, head ? String(head.seq) : "…"),
                    h("dt", {}, "Hash"), h("dd", { id: "audit-hash", className: "mono" }, head ? head.hash : "…")),
                h("button", { type: "button", id: "audit-copy", disabled: !head, dataset: { copy: headText }, onclick: () => this.copyHead() }, "Copy"),
                h("span", { id: "audit-copy-note", role: "status" }, this.copyNote)),
            h("section", { className: "audit-verify", "aria-labelledby": "audit-verify-title" },
                h("h2", { id: "audit-verify-title" }, "Verify the log"),
                verifyPart));
    }
}
