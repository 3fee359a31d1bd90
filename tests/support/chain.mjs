// The event log's hash chain, as docs/events.md defines it, for the Node.js tests that check a
// head or write a log: link(0) is 32 zero bytes, link(n) = SHA-256(link(n-1) || UTF-8 bytes of
// envelope(n)).
import { createHash } from "node:crypto";

/// link(0).
export const GENESIS = Buffer.alloc(32);

/// link(n) from link(n-1) (a Buffer of 32 bytes) and envelope n's text.
export function nextLink(previous, envelope) {
    return createHash("sha256").update(previous).update(envelope, "utf8").digest();
}
