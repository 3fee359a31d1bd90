// Events per second over the last 60 seconds, drawn as bars on a canvas once a second. At load
// it is filled from the recent events of the log, each counted in the second its `at` names
// (backfill); after that, events are counted as they arrive on the stream. Colors come from the
// stylesheet, so the chart follows the light or dark color scheme.

/** The seconds the chart covers. */
export const SECONDS = 60;

export class RateChart {
    constructor(canvas, nowLabel) {
        this.canvas = canvas;
        this.nowLabel = nowLabel;
        this.counts = new Array(SECONDS).fill(0);
        this.second = Math.floor(Date.now() / 1000);  // the second counts[SECONDS - 1] covers
        this.total = 0;
        setInterval(() => this.draw(), 1000);
        matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => this.draw());
        new ResizeObserver(() => this.draw()).observe(canvas);
        this.draw();
    }

    /** Counts `n` events now. */
    record(n = 1) {
        this.advance();
        this.counts[SECONDS - 1] += n;
        this.total += n;
    }

    /**
     * Counts events that happened before the stream started, by their times (milliseconds since
     * the epoch): those older than the chart are left out, and a time ahead of this browser's
     * clock counts in the current second.
     */
    backfill(times) {
        this.advance();
        for (const t of times) {
            if (!Number.isFinite(t)) continue;
            const age = this.second - Math.floor(t / 1000);
            if (age >= SECONDS) continue;
            this.counts[SECONDS - 1 - Math.max(0, age)]++;
            this.total++;
        }
        this.draw();
    }

    /** Forgets every count (another log). */
    reset() {
        this.counts.fill(0);
        this.second = Math.floor(Date.now() / 1000);
        this.total = 0;
        this.draw();
    }

    /** The counts per second, oldest first; the last is the second still filling. */
    snapshot() {
        this.advance();
        return [...this.counts];
    }

    advance() {
        const now = Math.floor(Date.now() / 1000);
        const shift = Math.min(SECONDS, now - this.second);
        if (shift > 0) {
            this.counts.splice(0, shift);
            for (let i = 0; i < shift; i++) this.counts.push(0);
            this.second = now;
        }
    }

    draw() {
        this.advance();
        const canvas = this.canvas;
        const dpr = window.devicePixelRatio || 1;
        const cssW = canvas.clientWidth || 320;
        const cssH = canvas.clientHeight || 72;
        if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
            canvas.width = Math.round(cssW * dpr);
            canvas.height = Math.round(cssH * dpr);
        }
        const ctx = canvas.getContext("2d");
        ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
        ctx.clearRect(0, 0, cssW, cssH);

        const style = getComputedStyle(canvas);
        const bar = style.getPropertyValue("--chart-bar").trim() || "#4f46e5";
        const grid = style.getPropertyValue("--chart-grid").trim() || "#ddd";
        const text = style.getPropertyValue("--chart-text").trim() || "#666";

        // The newest second is still filling; show the last complete one as "now".
        const current = this.counts[SECONDS - 2];
        this.nowLabel.textContent = `${current.toLocaleString()}/s`;
        const max = Math.max(...this.counts);
        const top = niceCeil(Math.max(5, max));

        const padTop = 14;
        const padBottom = 2;
        const plotH = cssH - padTop - padBottom;
        ctx.strokeStyle = grid;
        ctx.lineWidth = 1;
        ctx.beginPath();
        for (const f of [0, 0.5, 1]) {
            const y = Math.round(padTop + plotH * (1 - f)) + 0.5;
            ctx.moveTo(0, y);
            ctx.lineTo(cssW, y);
        }
        ctx.stroke();

        ctx.fillStyle = text;
        ctx.font = "10px system-ui, sans-serif";
        ctx.textBaseline = "top";
        ctx.textAlign = "left";
        ctx.fillText(`${top.toLocaleString()}/s`, 0, 0);
        ctx.textAlign = "right";
        ctx.fillText("last 60 s", cssW, 0);

        const step = cssW / SECONDS;
        const w = Math.max(1, step - 1.5);
        ctx.fillStyle = bar;
        for (let i = 0; i < SECONDS; i++) {
            const v = this.counts[i];
            if (!v) continue;
            const bh = Math.max(1.5, (v / top) * plotH);
            ctx.fillRect(i * step + 0.75, padTop + plotH - bh, w, bh);
        }
        const sum = this.counts.reduce((a, b) => a + b, 0);
        canvas.setAttribute("aria-label", `Events per second over the last 60 seconds: ` +
            `${current} in the last second, peak ${max}, ${sum} in all`);
        canvas.dataset.total = String(sum);
        canvas.dataset.peak = String(max);
    }
}

/** 5, 10, 20, 50, 100, ... at or above v. */
function niceCeil(v) {
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
}
