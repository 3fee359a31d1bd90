// A plain Node WebSocket fan-out (the ws library), serving what quorum_stream_load asks of a
// quorum server, so that the stream benchmark can measure a reference beside quorum in the same
// run (bench/stream_compare.sh):
//   GET /v1/stream (WebSocket)  the hello frame, then every event as it is "appended";
//   POST /v1/sessions           appends one `created` event (in memory: nothing is stored) and
//                               sends its frame to every subscriber, one ws.send each;
//   GET /v1/audit/head          {"seq": N};
//   GET /healthz, GET /metrics  for the tools' start-up and counters.
// The frames have the shape and about the size of quorum's (the envelope of a created event).
//
//   node bench/reference/stream_reference.mjs --port 18600
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { WebSocketServer } from 'ws';

const portArg = process.argv.indexOf('--port');
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 18600;
const logId = randomUUID();
let seq = 0;
let framesSent = 0;

/** RFC 3339 UTC with microseconds, as quorum writes `at`. */
function rfc3339Micros(date) {
    return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/healthz') {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"status":"ok"}');
    } else if (req.method === 'GET' && req.url === '/v1/audit/head') {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(`{"seq":${seq}}`);
    } else if (req.method === 'GET' && req.url === '/metrics') {
        res.writeHead(200, { 'Content-Type': 'text/plain' })
            .end(`# reference\nquorum_stream_frames_sent_total ${framesSent}\n`);
    } else if (req.method === 'POST' && req.url === '/v1/sessions') {
        let body = '';
        req.on('data', (chunk) => { body += chunk; });
        req.on('end', () => {
            seq += 1;
            const session = randomUUID();
            const envelope = `{"seq":${seq},"event_id":"${randomUUID()}","session_id":"${session}",` +
                `"version":1,"type":"created","at":"${rfc3339Micros(new Date())}",` +
                `"data":{"query":${JSON.stringify(JSON.parse(body).query ?? '')},` +
                `"mode":"quick_consensus","metadata":{}},"actor":null}`;
            const frame = `{"type":"event","event":${envelope}}`;
            for (const ws of wss.clients) {
                ws.send(frame);
                framesSent += 1;
            }
            res.writeHead(201, { 'Content-Type': 'application/json' })
                .end(`{"session_id":"${session}","version":1}`);
        });
    } else {
        res.writeHead(404).end();
    }
});

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
server.on('upgrade', (req, socket, head) => {
    if (!req.url.startsWith('/v1/stream')) {
        socket.destroy();
        return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
        ws.send(`{"type":"hello","log_id":"${logId}","head_seq":${seq}}`);
    });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
