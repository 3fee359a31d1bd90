// Markdown from providers, rendered safely. Responses are untrusted: marked turns the text into
// HTML (raw HTML in the text stays text), and DOMPurify sanitizes that HTML (in an inert document, so nothing in it runs or loads)
// into a DocumentFragment of allowed elements, which is what reaches the page. The libraries are
// the npm packages copied into web/vendor/ by scripts/vendor-web.sh.

import DOMPurify from "../vendor/dompurify/purify.es.mjs";
import { Marked } from "../vendor/marked/marked.esm.js";

/** `text` with the characters that HTML gives a meaning escaped. */
function escapeHtml(text) {
    return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// Raw HTML in an answer is shown as the text it is, never parsed as markup: markdown gives
// answers their structure, and markup (`<img onerror=...>`) never even reaches the sanitizer's
// parser, where a browser enforcing the page's Content-Security-Policy reports its handlers.
const markdown = new Marked({
    async: false,
    gfm: true,
    breaks: true,
    renderer: { html: ({ text }) => escapeHtml(text) },
});

// No element that loads something (a tracking image, a frame, media), nothing interactive, no
// styles: answers are text with structure.
const PURIFY_CONFIG = {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ["img", "picture", "source", "video", "audio", "track", "iframe", "frame", "object",
        "embed", "style", "link", "meta", "base", "form", "input", "button", "textarea", "select",
        "option", "dialog", "details", "summary", "svg", "math", "template"],
    FORBID_ATTR: ["style", "class", "id", "name", "srcset", "background", "poster", "action",
        "formaction", "tabindex", "accesskey"],
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
    RETURN_DOM_FRAGMENT: true,
};

let hookAdded = false;

function addLinkHook() {
    if (hookAdded) return;
    hookAdded = true;
    // Links from an answer open in a new tab that cannot reach back to this page.
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
        if (node.nodeName === "A" && node.hasAttribute("href")) {
            node.setAttribute("target", "_blank");
            node.setAttribute("rel", "noopener noreferrer nofollow");
        }
    });
}

/** Sanitized fragments by source text (cloned on use): a session re-renders on each event. */
const cache = new Map();
const CACHE_MAX = 256;

/** The markdown `text` as a DocumentFragment of sanitized elements. */
export function renderMarkdown(text) {
    const source = String(text ?? "");
    let fragment = cache.get(source);
    if (!fragment) {
        addLinkHook();
        const html = markdown.parse(source);
        fragment = DOMPurify.sanitize(html, PURIFY_CONFIG);
        if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value);
        cache.set(source, fragment);
    }
    return fragment.cloneNode(true);
}
