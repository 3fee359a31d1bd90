// Loading docs/openapi.yaml and checking HTTP responses against it.
//
// The document's component schemas are registered with Ajv (JSON Schema 2020-12, the dialect of
// OpenAPI 3.1) under one root; every `#/components/schemas/X` reference is rewritten to point
// there, so a response schema is compiled exactly as the document states it.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

// The test tools live in tests/node (its own npm project, `npm ci --prefix tests/node`); resolve
// packages from there.
const requireFromTools = createRequire(new URL("../node/package.json", import.meta.url));

function missingTool(name) {
    const dir = new URL("../node/", import.meta.url).pathname;
    console.error(`error: the package '${name}' is not installed in ${dir}node_modules.\n` +
        "Install the test tools with: npm ci --prefix tests/node");
    process.exit(1);
}

/// require() from tests/node; exits with a clear message when the tools are not installed.
export function requireTool(name) {
    try {
        return requireFromTools(name);
    } catch (e) {
        if (e.code !== "MODULE_NOT_FOUND") throw e;
        return missingTool(name);
    }
}

/// The file of a package in tests/node (for ESM-only packages, to import()).
export function resolveTool(name) {
    try {
        return requireFromTools.resolve(name);
    } catch (e) {
        if (e.code !== "MODULE_NOT_FOUND") throw e;
        return missingTool(name);
    }
}

const { parse: parseYaml } = requireTool("yaml");
const Ajv2020 = requireTool("ajv/dist/2020.js").default;
const addFormats = requireTool("ajv-formats").default;

const ROOT_ID = "https://quorum.invalid/openapi";

// Keywords OpenAPI adds to JSON Schema; Ajv must know them to stay strict about everything else.
const OPENAPI_KEYWORDS = ["example", "discriminator", "xml", "externalDocs"];

export async function loadDocument(path) {
    return parseYaml(await readFile(path, "utf8"));
}

/// A new Ajv instance, strict, with formats and the OpenAPI keywords.
export function makeAjv() {
    const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
    addFormats(ajv);
    ajv.addVocabulary(OPENAPI_KEYWORDS);
    return ajv;
}

function rewriteRefs(node) {
    if (Array.isArray(node)) return node.map(rewriteRefs);
    if (node === null || typeof node !== "object") return node;
    const out = {};
    for (const [k, v] of Object.entries(node)) {
        if (k === "$ref" && typeof v === "string" && v.startsWith("#/components/schemas/")) {
            out[k] = `${ROOT_ID}#/$defs/${v.slice("#/components/schemas/".length)}`;
        } else {
            out[k] = rewriteRefs(v);
        }
    }
    return out;
}

/// Follows a local `$ref` ("#/components/...") in the document; returns the object itself
/// otherwise. Throws when the reference does not resolve.
export function deref(doc, obj) {
    let cur = obj;
    for (let hops = 0; cur && typeof cur === "object" && typeof cur.$ref === "string"; ++hops) {
        if (hops > 16) throw new Error(`reference loop at ${obj.$ref}`);
        const ref = cur.$ref;
        if (!ref.startsWith("#/")) throw new Error(`non-local reference ${ref}`);
        let target = doc;
        for (const raw of ref.slice(2).split("/")) {
            const part = raw.replaceAll("~1", "/").replaceAll("~0", "~");
            if (target === null || typeof target !== "object" || !(part in target)) {
                throw new Error(`unresolved reference ${ref}`);
            }
            target = target[part];
        }
        cur = target;
    }
    return cur;
}

/// Normalizes a media type for comparison: lower case, no spaces around parameters.
function normalizeMediaType(value) {
    return value
        .split(";")
        .map((p) => p.trim().toLowerCase())
        .filter((p) => p.length > 0)
        .join(";");
}

/// Compiles schemas of the document on demand and checks responses against it.
export class ResponseChecker {
    constructor(doc) {
        this.doc = doc;
        this.ajv = makeAjv();
        this.ajv.addSchema({ $id: ROOT_ID, $defs: rewriteRefs(doc.components?.schemas ?? {}) });
        this.cache = new Map();
        /// "<operationId or response name> <status>" -> count, for coverage.
        this.seen = new Map();
    }

    compile(schema) {
        const key = JSON.stringify(schema);
        let fn = this.cache.get(key);
        if (!fn) {
            fn = this.ajv.compile(rewriteRefs(schema));
            this.cache.set(key, fn);
        }
        return fn;
    }

    /// The operation for `method` on the path template, or undefined.
    operation(template, method) {
        return this.doc.paths?.[template]?.[method.toLowerCase()];
    }

    /// Every documented (template, method, operation).
    *operations() {
        const methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
        for (const [template, item] of Object.entries(this.doc.paths ?? {})) {
            for (const m of methods) {
                if (item[m]) yield { template, method: m.toUpperCase(), op: item[m] };
            }
        }
    }

    /// Checks one response against the operation `method template`. Returns a list of problems
    /// (empty when the response is as documented).
    checkOperation(method, template, response) {
        const op = this.operation(template, method);
        if (!op) return [`${method} ${template} is not documented`];
        const status = String(response.status);
        const declared = op.responses?.[status] ?? op.responses?.[`${status[0]}XX`] ??
            op.responses?.default;
        const label = `${op.operationId ?? `${method} ${template}`} ${status}`;
        if (!declared) {
            return [`${label}: status ${status} is not documented for ${method} ${template}` +
                ` (body: ${truncate(response.text)})`];
        }
        this.seen.set(label, (this.seen.get(label) ?? 0) + 1);
        return this.checkResponseObject(label, deref(this.doc, declared), response);
    }

    /// Checks a response against a named entry of components/responses (for answers that any
    /// path can get, such as 404 not_found and 405 method_not_allowed).
    checkNamed(name, status, response) {
        const label = `components/responses/${name}`;
        const problems = [];
        if (response.status !== status) {
            problems.push(`${label}: expected status ${status}, got ${response.status}` +
                ` (body: ${truncate(response.text)})`);
        }
        const declared = this.doc.components?.responses?.[name];
        if (!declared) return [...problems, `${label} is not in the document`];
        this.seen.set(`${label} ${status}`, (this.seen.get(`${label} ${status}`) ?? 0) + 1);
        return [...problems, ...this.checkResponseObject(label, declared, response)];
    }

    checkResponseObject(label, declared, response) {
        const problems = [];
        // Headers the response object documents.
        for (const [name, hdr] of Object.entries(declared.headers ?? {})) {
            const h = deref(this.doc, hdr);
            const value = response.headers.get(name);
            if (value === null) {
                if (h.required) problems.push(`${label}: header ${name} is missing`);
                continue;
            }
            if (h.schema) {
                const validate = this.compile(h.schema);
                if (!validate(value)) {
                    problems.push(`${label}: header ${name}: ${JSON.stringify(value)} ` +
                        this.ajv.errorsText(validate.errors));
                }
            }
        }
        // Body. A response to HEAD has the headers of the GET response and never a body.
        const content = declared.content;
        if (response.method === "HEAD") {
            if (response.text.length > 0) problems.push(`${label}: a HEAD response has a body`);
            if (content && response.headers.get("content-type") === null) {
                problems.push(`${label}: no Content-Type`);
            }
            return problems;
        }
        if (!content) {
            if (response.text.length > 0) {
                problems.push(`${label}: documented without a body, got ${truncate(response.text)}`);
            }
            return problems;
        }
        const contentType = response.headers.get("content-type");
        if (contentType === null) {
            problems.push(`${label}: no Content-Type`);
            return problems;
        }
        // A documented media type without parameters matches on the type alone; one with
        // parameters must match exactly. JSON is always sent as UTF-8 and says so (the
        // document's conventions).
        const actual = normalizeMediaType(contentType);
        const base = actual.split(";")[0];
        const mediaKey = Object.keys(content).find((k) => {
            const n = normalizeMediaType(k);
            return n.includes(";") ? n === actual : n === base;
        });
        if (mediaKey === undefined) {
            problems.push(`${label}: Content-Type ${contentType} is not one of ` +
                Object.keys(content).join(", "));
            return problems;
        }
        if (base === "application/json" && actual !== "application/json;charset=utf-8") {
            problems.push(`${label}: Content-Type ${contentType}, expected ` +
                "application/json; charset=utf-8");
        }
        const schema = content[mediaKey].schema;
        if (!schema) return problems;
        let body = response.text;
        if (normalizeMediaType(mediaKey).startsWith("application/json")) {
            try {
                body = JSON.parse(response.text);
            } catch (e) {
                problems.push(`${label}: body is not JSON (${e.message}): ${truncate(response.text)}`);
                return problems;
            }
        }
        const validate = this.compile(schema);
        if (!validate(body)) {
            problems.push(`${label}: body does not match the schema: ` +
                `${this.ajv.errorsText(validate.errors, { separator: "; " })}` +
                ` (body: ${truncate(response.text)})`);
        }
        return problems;
    }
}

export function truncate(text, max = 400) {
    if (text === undefined || text === null) return String(text);
    return text.length <= max ? text : `${text.slice(0, max)}... (${text.length} chars)`;
}
