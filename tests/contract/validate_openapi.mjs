// Validates docs/openapi.yaml: the document against the OpenAPI 3.1 schema, then the rules this
// project keeps on top of it. Exits non-zero with every problem found.
//
// Usage: node tests/contract/validate_openapi.mjs <openapi.yaml> [<source dir>]
//   <source dir>: the repository's src/; when given, every error code the transport module
//   defines must be documented, and the routes the server registers must be exactly the
//   documented operations.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";

import { deref, loadDocument, makeAjv, resolveTool } from "./openapi_lib.mjs";

// The error codes the wire contract names (shared spec, "Errors").
const CONTRACT_CODES = [
    "invalid_json", "invalid_argument", "invalid_field", "field_not_updatable",
    "session_not_found", "session_expired", "not_found", "method_not_allowed",
    "invalid_transition", "version_mismatch", "payload_too_large", "unauthorized", "not_ready",
];

const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

const problems = [];
const problem = (where, what) => problems.push(`${where}: ${what}`);

function walk(node, at, visit) {
    if (node === null || typeof node !== "object") return;
    visit(node, at);
    for (const [k, v] of Object.entries(node)) walk(v, `${at}/${k}`, visit);
}

/// Every code an Error-derived schema allows (its `const` or `enum` for error.code).
function documentedCodes(doc) {
    const codes = new Set();
    for (const schema of Object.values(doc.components?.schemas ?? {})) {
        for (const part of schema.allOf ?? []) {
            const code = part?.properties?.error?.properties?.code;
            if (code?.const) codes.add(code.const);
            for (const c of code?.enum ?? []) codes.add(c);
        }
    }
    return codes;
}

/// True when `schema` is the Error schema or an allOf that includes it.
function isErrorSchema(doc, schema) {
    if (!schema) return false;
    if (schema.$ref === "#/components/schemas/Error") return true;
    if (schema.$ref) return isErrorSchema(doc, deref(doc, schema));
    return (schema.allOf ?? []).some((s) => isErrorSchema(doc, s));
}

/// True when `schema` is the JSON-RPC error response (the errors the MCP transport answers with),
/// or a choice (anyOf/oneOf) each of whose members is that or an Error schema.
function isJsonRpcErrorSchema(doc, schema) {
    if (!schema) return false;
    if (schema.$ref === "#/components/schemas/JsonRpcErrorResponse") return true;
    if (schema.$ref) return isJsonRpcErrorSchema(doc, deref(doc, schema));
    const choice = schema.anyOf ?? schema.oneOf;
    return Array.isArray(choice) && choice.length > 0 &&
        choice.every((s) => isErrorSchema(doc, s) || isJsonRpcErrorSchema(doc, s));
}

/// Every .cpp file under `dir`, recursively.
async function sourceFiles(dir) {
    const out = [];
    for (const entry of await readdir(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) out.push(...await sourceFiles(full));
        else if (entry.name.endsWith(".cpp")) out.push(full);
    }
    return out;
}

async function main() {
    const [file, sourceDir] = process.argv.slice(2);
    if (!file) {
        console.error("usage: validate_openapi.mjs <openapi.yaml> [<source dir>]");
        process.exit(2);
    }

    // 1. The document against the OpenAPI schema of its version.
    const { Validator } = await import(pathToFileURL(resolveTool("@seriousme/openapi-schema-validator")));
    const doc = await loadDocument(file);
    const validator = new Validator();
    const res = await validator.validate(doc);
    if (!res.valid) {
        for (const e of res.errors ?? []) {
            problem(`schema ${e.instancePath || "/"}`, `${e.message} ${JSON.stringify(e.params ?? {})}`);
        }
    } else if (validator.version !== "3.1") {
        problem("openapi", `expected an OpenAPI 3.1 document, found ${validator.version}`);
    }

    // 2. Every local reference resolves.
    walk(doc, "#", (node, at) => {
        if (typeof node.$ref !== "string") return;
        try {
            deref(doc, { $ref: node.$ref });
        } catch (e) {
            problem(at, e.message);
        }
    });
    if (problems.length > 0) return;

    // 3. Every schema compiles under strict JSON Schema 2020-12 (the dialect of OpenAPI 3.1).
    const ajv = makeAjv();
    const rootId = "https://quorum.invalid/openapi";
    const rewritten = JSON.parse(JSON.stringify(doc.components?.schemas ?? {}).replaceAll(
        '"#/components/schemas/', `"${rootId}#/$defs/`));
    try {
        ajv.addSchema({ $id: rootId, $defs: rewritten });
        for (const name of Object.keys(rewritten)) ajv.getSchema(`${rootId}#/$defs/${name}`);
    } catch (e) {
        problem("components/schemas", e.message);
        return;
    }
    const compile = (schema, at) => {
        try {
            return ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll(
                '"#/components/schemas/', `"${rootId}#/$defs/`)));
        } catch (e) {
            problem(at, `schema does not compile: ${e.message}`);
            return null;
        }
    };
    // Schema examples must satisfy their schema.
    for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
        const validate = compile(schema, `components/schemas/${name}`);
        for (const ex of schema.examples ?? []) {
            if (validate && !validate(ex)) {
                problem(`components/schemas/${name}`, `example ${JSON.stringify(ex)}: ` +
                    ajv.errorsText(validate.errors));
            }
        }
    }

    // 4. Operations.
    const operationIds = new Map();
    const securitySchemes = doc.components?.securitySchemes ?? {};
    for (const [template, item] of Object.entries(doc.paths ?? {})) {
        const templateParams = [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
        for (const method of HTTP_METHODS) {
            const op = item[method];
            if (!op) continue;
            const where = `${method.toUpperCase()} ${template}`;
            if (!op.operationId) problem(where, "no operationId");
            else if (operationIds.has(op.operationId)) {
                problem(where, `operationId ${op.operationId} also used by ${operationIds.get(op.operationId)}`);
            } else operationIds.set(op.operationId, where);

            // Path parameters: declared exactly for the template's {names}.
            const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p) => deref(doc, p));
            const pathParams = params.filter((p) => p.in === "path").map((p) => p.name);
            for (const n of templateParams) {
                if (!pathParams.includes(n)) problem(where, `path parameter {${n}} is not declared`);
            }
            for (const n of pathParams) {
                if (!templateParams.includes(n)) problem(where, `path parameter ${n} is not in the path`);
            }
            for (const p of params) {
                if (p.schema) compile(p.schema, `${where} parameter ${p.name}`);
            }

            // Request body examples.
            for (const [media, m] of Object.entries(deref(doc, op.requestBody ?? {})?.content ?? {})) {
                const validate = m.schema ? compile(m.schema, `${where} request ${media}`) : null;
                if (validate && "example" in m && !validate(m.example)) {
                    problem(`${where} request example`, ajv.errorsText(validate.errors));
                }
            }

            // /v1 needs the bearer scheme (optional), and answers 401 and 503.
            const security = op.security ?? doc.security ?? [];
            for (const req of security) {
                for (const scheme of Object.keys(req)) {
                    if (!securitySchemes[scheme]) problem(where, `unknown security scheme ${scheme}`);
                }
            }
            if (template.startsWith("/v1/")) {
                if (!security.some((r) => "bearerAuth" in r)) problem(where, "does not name bearerAuth");
                for (const s of ["401", "503"]) {
                    if (!op.responses?.[s]) problem(where, `no ${s} response`);
                }
            }

            // Responses: every error carries the Error schema (on /mcp, the transport's own
            // refusals carry a JSON-RPC error instead); every schema compiles.
            if (!op.responses || Object.keys(op.responses).length === 0) problem(where, "no responses");
            for (const [status, r] of Object.entries(op.responses ?? {})) {
                const resp = deref(doc, r);
                if (!resp.description) problem(`${where} ${status}`, "no description");
                for (const [name, h] of Object.entries(resp.headers ?? {})) {
                    const hdr = deref(doc, h);
                    if (hdr.schema) compile(hdr.schema, `${where} ${status} header ${name}`);
                }
                for (const [media, m] of Object.entries(resp.content ?? {})) {
                    if (m.schema) compile(m.schema, `${where} ${status} ${media}`);
                    if (/^[45]/.test(status)) {
                        const errorBody = isErrorSchema(doc, m.schema) ||
                            (template === "/mcp" && isJsonRpcErrorSchema(doc, m.schema));
                        if (!media.startsWith("application/json") || !errorBody) {
                            problem(`${where} ${status}`, "an error response must be application/json with the Error schema" +
                                " (on /mcp: or JsonRpcErrorResponse)");
                        }
                    }
                }
                if (/^[45]/.test(status) && !resp.content) {
                    problem(`${where} ${status}`, "an error response must have a body");
                }
            }
        }
    }
    for (const [name, r] of Object.entries(doc.components?.responses ?? {})) {
        for (const [media, m] of Object.entries(r.content ?? {})) {
            if (m.schema) compile(m.schema, `components/responses/${name} ${media}`);
        }
    }

    // 5. Error codes: the contract's, and (with a source dir) every code the server defines.
    const codes = documentedCodes(doc);
    for (const c of CONTRACT_CODES) {
        if (!codes.has(c)) problem("error codes", `the contract's code ${c} is not documented`);
    }
    if (sourceDir) {
        const fromSource = new Set();
        const hpp = await readFile(path.join(sourceDir, "transport/errors.hpp"), "utf8");
        for (const m of hpp.matchAll(/constexpr std::string_view \w+ = "([a-z_]+)";/g)) fromSource.add(m[1]);
        const cpp = await readFile(path.join(sourceDir, "transport/errors.cpp"), "utf8");
        for (const m of cpp.matchAll(/\{http::status::\w+, "([a-z_]+)"/g)) fromSource.add(m[1]);
        if (fromSource.size === 0) problem("error codes", `found no error code in ${sourceDir}/transport`);
        for (const c of fromSource) {
            if (!codes.has(c)) problem("error codes", `${c} (src/transport) is not documented`);
        }

        // 6. Routes: every route the server registers is documented, and every documented
        //    operation is a registered route (the dashboard, served from files, excepted).
        const routes = new Set();
        for (const file of await sourceFiles(sourceDir)) {
            const text = await readFile(file, "utf8");
            for (const m of text.matchAll(/\.add\(\s*(?:v|verb|http::verb)::(\w+),\s*"([^"]+)"/g)) {
                routes.add(`${m[1].replace(/_$/, "").toUpperCase()} ${m[2]}`);
            }
        }
        if (routes.size === 0) problem("routes", `found no route registration in ${sourceDir}`);
        const documented = new Set();
        for (const [template, item] of Object.entries(doc.paths ?? {})) {
            for (const method of HTTP_METHODS) {
                if (item[method]) documented.add(`${method.toUpperCase()} ${template}`);
            }
        }
        const servedAsFiles = new Set(["GET /", "HEAD /"]);
        for (const r of routes) {
            if (!documented.has(r)) problem("routes", `${r} is served but not documented`);
        }
        for (const d of documented) {
            if (!routes.has(d) && !servedAsFiles.has(d)) {
                problem("routes", `${d} is documented but the server registers no such route`);
            }
        }
    }
}

await main();
if (problems.length > 0) {
    console.error(`${process.argv[2]}: ${problems.length} problem(s):`);
    for (const p of problems) console.error(`  - ${p}`);
    process.exit(1);
}
console.log(`${process.argv[2]}: valid OpenAPI 3.1; all references resolve, all schemas compile.`);
