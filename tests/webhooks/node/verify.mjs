// Verifies one webhook request with the reference Standard Webhooks library.
// Usage: node verify.mjs <request.json>, where the file holds
//   {"secret": "whsec_...", "headers": {"webhook-id": ..., "webhook-timestamp": ...,
//    "webhook-signature": ...}, "body": "<the exact body text>"}
// Exits 0 and prints "ok" when the signature verifies; exits 1 with the reason otherwise.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { Webhook } = require("standardwebhooks");

const request = JSON.parse(readFileSync(process.argv[2], "utf8"));
try {
    new Webhook(request.secret).verify(request.body, request.headers);
    console.log("ok");
} catch (err) {
    console.error(`verification failed: ${err.message}`);
    process.exit(1);
}
