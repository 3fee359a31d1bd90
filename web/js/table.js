// The sessions table, virtualized: only the rows in (and just around) the visible window exist in
// the DOM, between two spacer rows that give the table its full height, so 20,000 sessions scroll
// and filter as smoothly as 10. Rows have a fixed height (--row-height in app.css).
//
// The table scrolls in its own box (#table-scroll) on wide screens and with the page on narrow
// ones (where the stylesheet gives the box no overflow): the visible window is measured either way.
//
// Rows stay still under the pointer: when sessions arrive (or leave) above the visible window
// while the table is scrolled down, the scroll position moves by their height, so the same rows
// stay where they were, and a "N new sessions" button offers to jump to the top. At the top, new
// sessions simply appear first.
//
// Keyboard: the table is one tab stop (a grid with aria-activedescendant); the arrow keys,
// Page Up/Down, Home and End move the active row, Enter or Space opens it. Focus stays on the
// table while rows come and go, so virtualization never drops it.

import {
    h, formatFullTime, formatRelative, modeLabel, nf, setBadgeStatus, shortId, statusBadge,
} from "./dom.js";
import { roundProgressText } from "./rounds.js";

const OVERSCAN = 8;
/** A search of 8 or more of these characters may be (the start of) a session id. */
const ID_PREFIX = /^[0-9a-f-]{8,36}$/;

/**
 * The search: a query substring (case-insensitive), or a session id or its first 8+ characters
 * (as pasted: surrounding spaces and case do not matter). Returns null for an empty search.
 */
export function sessionMatcher(search) {
    const needle = String(search ?? "").trim().toLowerCase();
    if (!needle) return null;
    const maybeId = ID_PREFIX.test(needle);
    return (s) => {
        if (maybeId && String(s.session_id).toLowerCase().startsWith(needle)) return true;
        s.lowerQuery ??= String(s.query).toLowerCase();
        return s.lowerQuery.includes(needle);
    };
}

export class SessionsTable {
    /**
     * store: a SessionStore; elements: {scroll, table, body, empty, summary, newRows};
     * onOpen(id) when a row is opened.
     */
    constructor(store, { scroll, table, body, empty, summary, newRows = null }, onOpen) {
        this.store = store;
        this.scroll = scroll;
        this.table = table;
        this.body = body;
        this.empty = empty;
        this.summary = summary;
        this.newRows = newRows;
        this.onOpen = onOpen;
        this.filter = { status: "", search: "" };
        this.rows = [];            // the filtered sessions, newest first
        this.seenRevision = -1;
        this.activeId = null;
        this.rendered = new Map();  // id -> {tr, version, relative}
        this.frame = 0;
        this.rowHeight = 40;
        this.loaded = false;
        /** The newest row when the table was scrolled away from the top: what counts as new. */
        this.mark = null;
        this.newCount = 0;
        /** Where the rows in view were when the table was last drawn: {id, dy}, to come back to. */
        this.resume = null;
        this.wasHidden = false;

        this.topSpacer = spacerRow();
        this.bottomSpacer = spacerRow();
        this.body.append(this.topSpacer, this.bottomSpacer);

        this.scroll.addEventListener("scroll", () => this.schedule(), { passive: true });
        window.addEventListener("scroll", () => this.schedule(), { passive: true });
        window.addEventListener("resize", () => this.schedule());
        new ResizeObserver(() => this.schedule()).observe(this.scroll);
        this.table.addEventListener("keydown", (e) => this.onKey(e));
        this.table.addEventListener("focus", () => {
            if (!this.activeId && this.rows.length) this.setActive(0, false);
        });
        this.body.addEventListener("click", (e) => {
            const copy = e.target.closest("button.copy-id");
            if (copy) {
                e.preventDefault();
                copyText(copy.dataset.copy, copy);
                return;
            }
            if (e.target.closest("a") && (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0)) return;
            const tr = e.target.closest("tr[data-id]");
            if (!tr) return;
            e.preventDefault();
            this.activeId = tr.dataset.id;
            this.onOpen(tr.dataset.id);
        });
        this.newRows?.addEventListener("click", () => this.toTop());
        // Back from a session, the table puts the rows that were in view back itself (sessions may
        // have arrived meanwhile): the browser's restoring of an old scroll offset would undo it.
        if ("scrollRestoration" in history) history.scrollRestoration = "manual";
    }

    setFilter(filter) {
        this.filter = { ...this.filter, ...filter };
        this.seenRevision = -1;
        this.toTop();
    }

    /** Scrolls back to the first row (the newest session). */
    toTop() {
        const vp = this.viewport();
        if (vp.visible && vp.scrolledBy > 0) this.scrollByPx(-vp.scrolledBy);
        this.mark = null;
        this.schedule();
    }

    /** Redraws on the next animation frame (many changes in one frame draw once). */
    schedule() {
        if (this.frame) return;
        this.frame = requestAnimationFrame(() => {
            this.frame = 0;
            const changed = this.seenRevision !== this.store.revision;
            this.render();
            // While changes keep coming (a burst of events), take the next frame's slot now: this
            // callback then runs before the feed and the counters write to the page in that frame,
            // so the layout it reads is still clean instead of being computed twice a frame.
            if (changed) this.schedule();
        });
    }

    /** Redraws the visible rows now and then, so that "5 s ago" moves on. */
    tick() {
        for (const r of this.rendered.values()) r.relative = null;
        this.schedule();
    }

    /** Whether the table scrolls with the page (narrow screens) rather than in its own box. */
    get pageScrolls() {
        return getComputedStyle(this.scroll).overflowY === "visible";
    }

    /**
     * Where the rows are on screen: `rowsTop`, the viewport y of the first row's top (whether it
     * is drawn or not); `top`/`bottom`, the part of the screen where rows can be seen (below the
     * sticky header); `scrolledBy`, how far the table is scrolled past its first row.
     */
    viewport() {
        const headHeight = this.table.tHead?.offsetHeight ?? 0;
        const visible = this.table.offsetParent !== null;
        const tableTop = this.table.getBoundingClientRect().top;
        let top;
        let bottom;
        if (this.pageScrolls) {
            // The header sticks below the page's own sticky top bar: its `top` says where.
            const th = this.table.tHead?.rows[0]?.cells[0];
            const stickTop = th ? parseFloat(getComputedStyle(th).top) || 0 : 0;
            top = stickTop;
            bottom = window.innerHeight;
        } else {
            const box = this.scroll.getBoundingClientRect();
            top = box.top + this.scroll.clientTop;
            bottom = top + (this.scroll.clientHeight || 600);
        }
        return {
            visible,
            headHeight,
            rowsTop: tableTop + headHeight,
            top: top + headHeight,
            bottom,
            scrolledBy: Math.max(0, top - tableTop),
        };
    }

    scrollByPx(dy) {
        if (!dy) return;
        if (this.pageScrolls) window.scrollBy({ top: dy, behavior: "instant" });
        else this.scroll.scrollTop += dy;
    }

    render() {
        const rh = this.rowHeight = readRowHeight(this.table, this.rowHeight);
        let vp = this.viewport();
        let restore = null;
        if (vp.visible && this.wasHidden) {
            // Back from a session: the rows that were in view are again, whatever arrived since.
            this.wasHidden = false;
            if (this.seenRevision !== this.store.revision) {
                this.reselect();
                this.updateSummary();
            }
            const j = this.resume ? this.rows.findIndex((s) => s.session_id === this.resume.id) : -1;
            if (j >= 0) {
                this.sizeSpacers(0, 0, rh);  // room to scroll to any row
                this.scrollByPx(Math.round(vp.rowsTop + j * rh - (vp.top + this.resume.dy)));
                vp = this.viewport();
                restore = this.resume;  // checked against the drawn row below
            }
        }
        const prevRows = this.rows;

        // The row at the top of the visible window, to keep in place if the rows above it change.
        let anchor = null;
        if (vp.visible && vp.scrolledBy > 0 && prevRows.length) {
            const idx = Math.min(prevRows.length - 1, Math.max(0, Math.floor((vp.top - vp.rowsTop) / rh)));
            anchor = { idx, y: vp.rowsTop + idx * rh };
        }

        let shift = 0;  // rows the anchor moved by
        if (this.seenRevision !== this.store.revision) {
            if (this.reselect() && anchor) shift = anchorShift(prevRows, this.rows, anchor.idx);
            this.updateSummary();
        }
        this.table.dataset.revision = String(this.store.revision);
        const n = this.rows.length;
        this.table.setAttribute("aria-rowcount", String(n + 1));
        this.empty.hidden = n > 0 || !this.loaded;
        if (!vp.visible) {
            this.wasHidden = true;  // the overview is hidden: draw when it shows again
            return;
        }

        // Sessions that arrived above the window since the table was scrolled away from the top.
        const scrolled = vp.scrolledBy + shift * rh > 0;
        if (!scrolled) {
            this.mark = null;
        } else if (!this.mark && prevRows.length) {
            this.mark = { id: prevRows[0].session_id, created: prevRows[0].created_at };
        }
        this.newCount = this.mark ? countNewer(this.rows, this.mark) : 0;
        this.showNewRows();

        // The window to draw, as it will be once the scroll position follows the anchor.
        const from = vp.top - vp.rowsTop + shift * rh;
        const to = vp.bottom - vp.rowsTop + shift * rh;
        const first = Math.min(n, Math.max(0, Math.floor(from / rh) - OVERSCAN));
        const last = Math.min(n, Math.max(first, Math.ceil(to / rh) + OVERSCAN));

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
            if (r.version !== s.version) {
                fillRow(r.tr, s, relative);
            } else if (r.relative !== relative) {
                setText(updatedCell(r.tr), relative);
            }
            r.version = s.version;
            r.relative = relative;
            r.tr.setAttribute("aria-rowindex", String(i + 2));
            r.tr.classList.toggle("active", s.session_id === this.activeId);
            keep.set(s.session_id, r);
            trs.push(r.tr);
        }
        this.rendered = keep;

        this.sizeSpacers(first, last, rh);
        // Rebuild the row list only when it changed (scrolling by less than a row changes nothing).
        const current = Array.from(this.body.children).slice(1, -1);
        if (current.length !== trs.length || current.some((tr, i) => tr !== trs[i])) {
            this.body.replaceChildren(this.topSpacer, ...trs, this.bottomSpacer);
        }
        this.body.dataset.first = String(first);

        if (anchor && shift) {
            this.scrollByPx(shift * rh);
            // Whatever else moved meanwhile (the browser's own anchoring, a header that changed
            // height), the anchor row ends where it was.
            const s = this.rows[anchor.idx + shift];
            const tr = s && this.rendered.get(s.session_id)?.tr;
            if (tr) this.scrollByPx(Math.round(tr.getBoundingClientRect().top - anchor.y));
        }

        if (restore) {
            const tr = this.rendered.get(restore.id)?.tr;
            if (tr) this.scrollByPx(Math.round(tr.getBoundingClientRect().top - (vp.top + restore.dy)));
        }

        const topIdx = Math.min(n - 1, Math.max(0, Math.floor(from / rh)));
        this.resume = n && scrolled
            ? { id: this.rows[topIdx].session_id, dy: Math.round(vp.rowsTop + (topIdx - shift) * rh - vp.top) }
            : null;

        const activeRendered = this.activeId && keep.has(this.activeId);
        if (activeRendered) {
            this.table.setAttribute("aria-activedescendant", rowDomId(this.activeId));
        } else {
            this.table.removeAttribute("aria-activedescendant");
        }
        if (hadFocus && document.activeElement !== this.table) this.table.focus({ preventScroll: true });
    }

    /**
     * Takes in the store's changes: the row list is selected again only when the sessions it can
     * hold or their order may have changed (a session added, removed or with a new status, or new
     * filters: seenRevision -1); a response or a consensus leaves it as it is, so a burst of them
     * costs no walk over every session. Returns whether the list was selected again.
     */
    reselect() {
        const again = this.seenRevision === -1 || this.seenShape !== this.store.shapeRevision;
        this.seenRevision = this.store.revision;
        if (!again) return false;
        this.seenShape = this.store.shapeRevision;
        this.rows = this.filtered();
        return true;
    }

    /** The sessions the filters let through, newest first. */
    filtered() {
        const matches = sessionMatcher(this.filter.search);
        const byStatus = this.store.select({ status: this.filter.status });
        return matches ? byStatus.filter(matches) : byStatus;
    }

    /** Spacers for rows [0, first) and [last, n): the table has its full height. */
    sizeSpacers(first, last, rh) {
        const n = this.rows.length;
        this.topSpacer.firstChild.style.height = `${first * rh}px`;
        this.bottomSpacer.firstChild.style.height = `${(n - last) * rh}px`;
        this.topSpacer.hidden = first === 0;
        this.bottomSpacer.hidden = last === n;
    }

    showNewRows() {
        if (!this.newRows) return;
        const n = this.newCount;
        this.newRows.hidden = n === 0;
        this.newRows.dataset.count = String(n);
        const text = n ? `↑ ${nf.format(n)} new session${n === 1 ? "" : "s"}` : "";
        if (this.newRows.textContent !== text) this.newRows.textContent = text;
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
        const vp = this.viewport();
        const page = Math.max(1, Math.floor((vp.bottom - vp.top) / this.rowHeight) - 1);
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
            const vp = this.viewport();
            const top = vp.rowsTop + index * this.rowHeight;
            if (top < vp.top) this.scrollByPx(top - vp.top);
            else if (top + this.rowHeight > vp.bottom) this.scrollByPx(top + this.rowHeight - vp.bottom);
        }
        this.render();
    }
}

/** The row height the stylesheet sets (it differs on narrow screens). */
function readRowHeight(table, fallback) {
    const v = parseFloat(getComputedStyle(table).getPropertyValue("--row-height"));
    return v > 0 ? v : fallback;
}

/**
 * How many rows the row at `idx` of `before` moved by in `after`. When that session left, the
 * next one of `before` that is still there stands in for it (then the one before it).
 */
function anchorShift(before, after, idx) {
    const find = (i) => {
        const id = before[i]?.session_id;
        if (id === undefined) return -1;
        // The anchor is usually still near where it was: look there first.
        const guess = Math.min(after.length - 1, i);
        for (let d = 0; d < 64; d++) {
            if (after[guess + d]?.session_id === id) return guess + d;
            if (d && after[guess - d]?.session_id === id) return guess - d;
        }
        return after.findIndex((s) => s.session_id === id);
    };
    for (let i = idx; i < Math.min(before.length, idx + 16); i++) {
        const j = find(i);
        if (j >= 0) return j - i;
    }
    return 0;
}

/** Rows ahead of `mark` (the newest row when the table left the top). */
function countNewer(rows, mark) {
    const limit = Math.min(rows.length, 100_000);
    for (let i = 0; i < limit; i++) {
        const s = rows[i];
        if (s.session_id === mark.id || !(String(s.created_at) > String(mark.created))) return i;
    }
    return limit;
}

async function copyText(text, button) {
    try {
        await navigator.clipboard.writeText(text);
        button.dataset.copied = "";
        setTimeout(() => delete button.dataset.copied, 1200);
    } catch {
        // No clipboard (an insecure origin, or permission refused): the id is in the title.
    }
}

function spacerRow() {
    const tr = h("tr", { className: "spacer", "aria-hidden": "true" }, h("td", { colspan: "6" }));
    tr.hidden = true;
    return tr;
}

const rowDomId = (id) => `row-${id}`;

/**
 * A row's cells, made once for its session: later changes (its status, its rounds, "5 s ago")
 * are written into them in place. A row rebuilt under the pointer would lose a click whose
 * press and release fell on either side of the redraw (the 5-second tick redraws every row).
 */
function createRow(id) {
    const short = shortId(id);
    return h("tr", { id: rowDomId(id), dataset: { id } },
        h("td", { className: "status" }, statusBadge(""),
            h("span", { className: "sid-inline mono", title: id }, short)),
        h("td", { className: "sid" },
            h("span", { className: "mono", title: id }, short),
            h("button", {
                type: "button", className: "copy-id", tabindex: "-1", title: "Copy the session id",
                "aria-label": "Copy the session id", dataset: { copy: id },
            })),
        h("td", { className: "mode" }),
        h("td", { className: "rounds" }, h("span")),
        h("td", { className: "query" },
            h("a", { href: `#/sessions/${encodeURIComponent(id)}`, tabindex: "-1" })),
        h("td", { className: "num updated" }));
}

/** Sets a node's text when it differs (an unchanged cell is left alone). */
function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
}

/** Writes session `s` into the cells of its row (from createRow()). */
function fillRow(tr, s, relative) {
    const query = String(s.query);
    // "round 2, 3 providers": the highest round answered and how many providers answered.
    const progress = roundProgressText(s.provider_responses);
    const [status, , mode, rounds, queryCell] = tr.cells;
    tr.dataset.status = s.status;
    setBadgeStatus(status.firstChild, s.status);
    setText(mode, modeLabel(s.mode));
    const roundsText = rounds.firstChild;
    roundsText.classList.toggle("muted", !progress);
    setText(roundsText, progress || "—");
    // Narrow screens show the round progress under the query (data-rounds; the column is left
    // out there), as generated text: the cell's text stays the query.
    queryCell.title = query.length > 600 ? `${query.slice(0, 600)}…` : query;
    if (progress) queryCell.dataset.rounds = progress;
    else delete queryCell.dataset.rounds;
    setText(queryCell.firstChild, query);
    const updated = updatedCell(tr);
    updated.title = formatFullTime(s.updated_at);
    setText(updated, relative);
}

/** The row's "updated" cell ("5 s ago"), which the 5-second tick rewrites. */
const updatedCell = (tr) => tr.cells[tr.cells.length - 1];
