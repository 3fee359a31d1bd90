// Rounds: how far a session's deliberation has come (the sessions table's "round 2, 3
// providers"), and the numbers a provider reports with an answer (confidence, tokens, latency),
// read from the response object so that they can be shown on one line per round.

import { h, nf } from "./dom.js";

/**
 * {round, providers} of a session's provider_responses: the highest round any provider answered
 * and how many providers answered at all; null when there is no response yet.
 */
export function roundProgress(responses) {
    let round = 0;
    let providers = 0;
    for (const byRound of Object.values(responses ?? {})) {
        if (!byRound || typeof byRound !== "object") continue;
        let answered = false;
        for (const key of Object.keys(byRound)) {
            const r = Number(key);
            if (!Number.isInteger(r)) continue;
            answered = true;
            if (r > round) round = r;
        }
        if (answered) providers++;
    }
    return providers ? { round, providers } : null;
}

/** "round 2, 3 providers", or "" when there is no response yet. */
export function roundProgressText(responses) {
    const p = roundProgress(responses);
    if (!p) return "";
    return `round ${nf.format(p.round)}, ${nf.format(p.providers)} provider${p.providers === 1 ? "" : "s"}`;
}

const isNumber = (v) => typeof v === "number" && Number.isFinite(v);

/**
 * The numbers a response object reports, in a fixed order: [{key, text, title, members}] where
 * `members` names the members of `value` the line says all of; empty for a
 * string or for an object without them. Recognised members (numbers only):
 * - `confidence`: 0..1 shows as a percentage, a larger number as it is;
 * - `tokens` (a total), or `tokens: {in, out}` / `{input, output}`, or `input_tokens` and
 *   `output_tokens`;
 * - `latency_ms`, or `latency` (also milliseconds).
 */
export function responseMetrics(value) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return [];
    const out = [];
    if (isNumber(value.confidence)) {
        const c = value.confidence;
        out.push({
            key: "confidence",
            text: c >= 0 && c <= 1 ? `${Math.round(c * 100)}% confidence` : `confidence ${nf.format(c)}`,
            title: `confidence: ${c}`,
            members: ["confidence"],
        });
    }
    const t = value.tokens;
    let tin = null;
    let tout = null;
    if (t && typeof t === "object" && !Array.isArray(t)) {
        tin = isNumber(t.in) ? t.in : isNumber(t.input) ? t.input : null;
        tout = isNumber(t.out) ? t.out : isNumber(t.output) ? t.output : null;
    }
    if (tin === null && isNumber(value.input_tokens)) tin = value.input_tokens;
    if (tout === null && isNumber(value.output_tokens)) tout = value.output_tokens;
    if (isNumber(t) || tin !== null || tout !== null) {
        const total = isNumber(t) ? t : (tin ?? 0) + (tout ?? 0);
        const split = [tin !== null ? `${nf.format(tin)} in` : null, tout !== null ? `${nf.format(tout)} out` : null]
            .filter(Boolean).join(", ");
        const members = ["input_tokens", "output_tokens"].filter((k) => isNumber(value[k]));
        // A tokens object is said in full only when it has nothing but the counts shown.
        if (isNumber(t) || (t && typeof t === "object" && !Array.isArray(t)
            && Object.keys(t).every((k) => ["in", "out", "input", "output"].includes(k) && isNumber(t[k])))) {
            members.push("tokens");
        }
        out.push({
            key: "tokens",
            text: `${nf.format(total)} tokens${split ? ` (${split})` : ""}`,
            title: "tokens",
            members,
        });
    }
    const latencyKey = isNumber(value.latency_ms) ? "latency_ms" : isNumber(value.latency) ? "latency" : null;
    if (latencyKey) {
        const ms = value[latencyKey];
        out.push({ key: "latency", text: formatLatency(ms), title: `latency: ${nf.format(ms)} ms`, members: [latencyKey] });
    }
    return out;
}

/** The members of a response object that its numbers line shows in full. */
export function metricMembers(value) {
    return new Set(responseMetrics(value).flatMap((m) => m.members));
}

/** The numbers of one response on one line (null when it reports none). */
export function metricsLine(value) {
    const metrics = responseMetrics(value);
    if (!metrics.length) return null;
    return h("p", { className: "response-metrics", "aria-label": "Reported numbers" },
        metrics.map((m) => h("span", { className: "metric", dataset: { metric: m.key }, title: m.title }, m.text)));
}

function formatLatency(ms) {
    if (ms < 1000) return `${nf.format(Math.round(ms))} ms`;
    if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
    return `${(ms / 60_000).toFixed(1)} min`;
}
