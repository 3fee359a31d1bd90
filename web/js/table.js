// The sessions table, virtualized: only the rows in (and just around) the visible window exist in
// the DOM, between two spacer rows that give the scroll area its full height, so 10,000 sessions
// scroll and filter as smoothly as 10. Rows have a fixed height (--row-height in app.css).
//
// Keyboard: the table is one tab stop (a grid with aria-activedescendant); the arrow keys,
// Page Up/Down, Home and End move the active row, Enter or Space opens it. Focus stays on the
// table while rows come and go, so virtualization never drops it.

import { h, formatFullTime, formatRelative, modeLabel, nf, statusBadge } from "./dom.js";

const OVERSCAN = 8;

export class SessionsTable {
    /**
     * store: a SessionStore; elements: {scroll, table, body, empty, summary};
     * onOpen(id) when a row is opened.
     */
    constructor(store, { scroll, table, body, empty, summary }, onOpen) {
        this.store = store;
        this.scroll = scroll;
        this.table = table;
        this.body = body;
        this.empty = empty;
        this.summary = summary;
        this.onOpen = onOpen;
        this.filter = { status: "", search: "" };
        this.rows = [];            // the filtered sessions, newest first
        this.seenRevision = -1;
        this.activeId = null;
        this.rendered = new Map();  // id -> {tr, version, relative}
        this.frame = 0;
        this.rowHeight = 40;
        this.loaded = false;

        this.topSpacer = spacerRow();
        this.bottomSpacer = spacerRow();
        this.body.append(this.topSpacer, this.bottomSpacer);

        this.scroll.addEventListener("scroll", () => this.schedule(), { passive: true });
        new ResizeObserver(() => this.schedule()).observe(this.scroll);
        this.table.addEventListener("keydown", (e) => this.onKey(e));
        this.table.addEventListener("focus", () => {
            if (!this.activeId && this.rows.length) this.setActive(0, false);
        });
        this.body.addEventListener("click", (e) => {
            if (e.target.closest("a") && (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0)) return;
            const tr = e.target.closest("tr[data-id]");
            if (!tr) return;
            e.preventDefault();
            this.activeId = tr.dataset.id;
            this.onOpen(tr.dataset.id);
        });
    }

    setFilter(filter) {
        this.filter = { ...this.filter, ...filter };
        this.seenRevision = -1;
        this.scroll.scrollTop = 0;
        this.schedule();
    }

    /** Redraws on the next animation frame (many changes in one frame draw once). */
    schedule() {
        if (this.frame) return;
        this.frame = requestAnimationFrame(() => {
            this.frame = 0;
            this.render();
        });
    }

    /** Redraws the visible rows now and then, so that "5 s ago" moves on. */
    tick() {
        for (const r of this.rendered.values()) r.relative = null;
        this.schedule();
    }

    render() {
        if (this.seenRevision !== this.store.revision) {
            this.seenRevision = this.store.revision;
            this.rows = this.store.select(this.filter);
            this.updateSummary();
        }
        this.table.dataset.revision = String(this.store.revision);
        const n = this.rows.length;
        const rh = this.rowHeight;
        this.table.setAttribute("aria-rowcount", String(n + 1));
        this.empty.hidden = n > 0 || !this.loaded;

        const viewTop = this.scroll.scrollTop;
        const viewHeight = this.scroll.clientHeight || 600;
        const headHeight = this.table.tHead?.offsetHeight ?? 0;
        const first = Math.max(0, Math.floor((viewTop - headHeight) / rh) - OVERSCAN);
        const last = Math.min(n, Math.ceil((viewTop + viewHeight) / rh) + OVERSCAN);

        const hadFocus = document.activeElement === this.table;
        const keep = new Map();
        const trs = [];
        const now = Date.now();
        for (let i = first; i < last; i++) {
            const s = this.rows[i];
            let r = this.rendered.get(s.session_id);
            if (!r) {
                r = { tr: createRow(s.session_id), version: -1, relative: null };
            }
            const relative = formatRelative(s.updated_at, now);
            if (r.version !== s.version || r.relative !== relative) {
                fillRow(r.tr, s, relative);
                r.version = s.version;
                r.relative = relative;
            }
            r.tr.setAttribute("aria-rowindex", String(i + 2));
            r.tr.classList.toggle("active", s.session_id === this.activeId);
            keep.set(s.session_id, r);
            trs.push(r.tr);
        }
        this.rendered = keep;

        this.topSpacer.firstChild.style.height = `${first * rh}px`;
        this.bottomSpacer.firstChild.style.height = `${(n - last) * rh}px`;
        this.topSpacer.hidden = first === 0;
        this.bottomSpacer.hidden = last === n;
        // Rebuild the row list only when it changed (scrolling by less than a row changes nothing).
        const current = Array.from(this.body.children).slice(1, -1);
        if (current.length !== trs.length || current.some((tr, i) => tr !== trs[i])) {
            this.body.replaceChildren(this.topSpacer, ...trs, this.bottomSpacer);
        }
        this.body.dataset.first = String(first);

        const activeRendered = this.activeId && keep.has(this.activeId);
        if (activeRendered) {
            this.table.setAttribute("aria-activedescendant", rowDomId(this.activeId));
        } else {
            this.table.removeAttribute("aria-activedescendant");
        }
        if (hadFocus && document.activeElement !== this.table) this.table.focus({ preventScroll: true });
    }

    updateSummary() {
        const total = this.store.size;
        const shown = this.rows.length;
        this.table.dataset.total = String(total);
        this.table.dataset.shown = String(shown);
        if (!this.loaded) return;
        const filtered = this.filter.status || this.filter.search.trim();
        this.summary.textContent = filtered
            ? `${nf.format(shown)} of ${nf.format(total)} sessions match`
            : `${nf.format(total)} session${total === 1 ? "" : "s"}`;
    }

    onKey(e) {
        if (!this.rows.length) return;
        const idx = Math.max(0, this.rows.findIndex((s) => s.session_id === this.activeId));
        const page = Math.max(1, Math.floor(this.scroll.clientHeight / this.rowHeight) - 1);
        let next = null;
        switch (e.key) {
            case "ArrowDown": next = this.activeId ? idx + 1 : 0; break;
            case "ArrowUp": next = idx - 1; break;
            case "PageDown": next = idx + page; break;
            case "PageUp": next = idx - page; break;
            case "Home": next = 0; break;
            case "End": next = this.rows.length - 1; break;
            case "Enter":
            case " ":
                if (this.activeId) {
                    e.preventDefault();
                    this.onOpen(this.activeId);
                }
                return;
            default:
                return;
        }
        e.preventDefault();
        this.setActive(Math.min(this.rows.length - 1, Math.max(0, next)), true);
    }

    /** Makes row `index` of the filtered view active, scrolling it into view if asked. */
    setActive(index, scroll) {
        const s = this.rows[index];
        if (!s) return;
        this.activeId = s.session_id;
        if (scroll) {
            const headHeight = this.table.tHead?.offsetHeight ?? 0;
            const top = index * this.rowHeight;
            const viewTop = this.scroll.scrollTop;
            const viewHeight = this.scroll.clientHeight - headHeight;
            if (top < viewTop) this.scroll.scrollTop = top;
            else if (top + this.rowHeight > viewTop + viewHeight) {
                this.scroll.scrollTop = top + this.rowHeight - viewHeight;
            }
        }
        this.render();
    }
}

function spacerRow() {
    const tr = h("tr", { className: "spacer", "aria-hidden": "true" }, h("td", { colspan: "4" }));
    tr.hidden = true;
    return tr;
}

const rowDomId = (id) => `row-${id}`;

function createRow(id) {
    return h("tr", { id: rowDomId(id), dataset: { id } });
}

function fillRow(tr, s, relative) {
    const query = String(s.query);
    tr.dataset.status = s.status;
    tr.replaceChildren(
        h("td", {}, statusBadge(s.status)),
        h("td", { className: "mode" }, modeLabel(s.mode)),
        h("td", { className: "query", title: query.length > 600 ? `${query.slice(0, 600)}…` : query },
            h("a", { href: `#/sessions/${encodeURIComponent(s.session_id)}`, tabindex: "-1" }, query)),
        h("td", { className: "num updated", title: formatFullTime(s.updated_at) }, relative),
    );
}
