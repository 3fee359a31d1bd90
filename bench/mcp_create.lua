-- wrk script of bench/mcp_load.sh: creates sessions, each request numbered uniquely, and checks
-- every answer.
--
--   wrk ... -s bench/mcp_create.lua http://127.0.0.1:8080 -- mcp <Mcp-Session-Id>
--   wrk ... -s bench/mcp_create.lua http://127.0.0.1:8080 -- rest
--
-- mcp:  POST /mcp, JSON-RPC tools/call create_session; an answer counts as created when it is a
--       2xx whose body holds "isError":false (a JSON-RPC error or a tool result with
--       isError: true is counted apart, as tool_errors).
-- rest: POST /v1/sessions; an answer counts as created when it is a 201 (any other status is
--       counted in non2xx, with its code).
-- At the end one line "mcp_create: sent=... ok=... non2xx=... tool_errors=... statuses=..." sums
-- the threads: sent counts the requests written, so sent - (ok + non2xx + tool_errors) were still
-- in flight when wrk stopped (the server may have committed them).

local threads = {}

function setup(thread)
    thread:set("tid", #threads + 1)
    table.insert(threads, thread)
end

function init(args)
    mode = args[1] or "mcp"
    sent, ok, non2xx, tool_errors = 0, 0, 0, 0
    statuses = {}
    status_text = ""
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    if mode == "mcp" then
        path = "/mcp"
        wrk.headers["Accept"] = "application/json, text/event-stream"
        wrk.headers["Mcp-Session-Id"] = args[2]
        wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
    else
        path = "/v1/sessions"
    end
end

local function arguments(n)
    return '{"query":"Should we use microservices or a monolith? #' .. tid .. '-' .. n ..
        '","mode":"quick_consensus","metadata":{"team":"platform"}}'
end

function request()
    sent = sent + 1
    if mode == "mcp" then
        return wrk.format(nil, path, nil,
            '{"jsonrpc":"2.0","id":"' .. tid .. '-' .. sent ..
            '","method":"tools/call","params":{"name":"create_session","arguments":' ..
            arguments(sent) .. '}}')
    end
    return wrk.format(nil, path, nil, arguments(sent))
end

local function refused(status)
    non2xx = non2xx + 1
    statuses[status] = (statuses[status] or 0) + 1
    -- wrk copies only plain values between threads: keep the breakdown as a string.
    local parts = {}
    for code, count in pairs(statuses) do
        table.insert(parts, code .. ":" .. count)
    end
    status_text = table.concat(parts, ",")
end

function response(status, headers, body)
    if mode == "mcp" then
        if status < 200 or status > 299 then
            refused(status)
        elseif string.find(body, '"isError":false', 1, true) then
            ok = ok + 1
        else
            tool_errors = tool_errors + 1
        end
    elseif status == 201 then
        ok = ok + 1
    else
        refused(status)
    end
end

function done(summary, latency, requests)
    local s, o, n, t, codes = 0, 0, 0, 0, {}
    for _, thread in ipairs(threads) do
        s = s + thread:get("sent")
        o = o + thread:get("ok")
        n = n + thread:get("non2xx")
        t = t + thread:get("tool_errors")
        local text = thread:get("status_text")
        if text and text ~= "" then table.insert(codes, text) end
    end
    local joined = table.concat(codes, ",")
    if joined == "" then joined = "-" end
    io.write(string.format("mcp_create: sent=%d ok=%d non2xx=%d tool_errors=%d statuses=%s\n",
        s, o, n, t, joined))
end
