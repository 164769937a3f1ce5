-- wrk script for scripts/load: POSTs Alertmanager webhooks (version 4) whose alerts are all distinct, so the
-- daemon really writes a ledger entry and an outbox row for each.
--
-- Arguments (after `--`): ALERTS RUN [LIMIT]
--   ALERTS    alerts per webhook
--   RUN       a number 0-255 told apart in every fingerprint, so runs against one database never repeat
--   LIMIT     webhooks per wrk thread; after that the thread stops (0 = until wrk's -d ends)
--             (wrk calls request() once on thread 0 to check the script; that request is never sent, so
--             thread 0 sends one webhook fewer and its first sequence numbers are skipped)
-- Environment: LOAD_DELAY_MS, when set and > 0, is each connection's pause before its next request (paced
-- load). It is read when the script loads because wrk decides whether to call delay() before init() runs.
-- LOAD_STAGGER_MS (with LOAD_DELAY_MS) delays thread N's first request by N times this many milliseconds.
-- Fingerprints are 16 hex digits: run (2), thread (2), then the alert's sequence number in the thread (12).

local thread_count = 0

-- LOAD_STAGGER_MS: with LOAD_DELAY_MS, thread N sends its first request after N times this many milliseconds,
-- so that one connection per thread gives evenly spaced arrivals instead of bursts.
local stagger_ms = tonumber(os.getenv("LOAD_STAGGER_MS") or "0")

function setup(thread)
  thread:set("thread_id", thread_count)
  thread:set("first_delay", thread_count * stagger_ms)
  thread_count = thread_count + 1
end

function init(args)
  alerts = tonumber(args[1] or "1")
  run = tonumber(args[2] or "0")
  limit = tonumber(args[3] or "0")
  sent = 0
  answered = 0
  headers = { ["Content-Type"] = "application/json" }
  if limit > 0 then
    -- Counting answers needs the response hook; without a limit it stays undefined, so wrk skips parsing.
    response = function(status, headers, body)
      answered = answered + 1
      if answered >= limit then wrk.thread:stop() end
    end
  end
end

local delay_ms = tonumber(os.getenv("LOAD_DELAY_MS") or "0")
if delay_ms > 0 then
  function delay()
    -- A thread's first request waits its stagger offset (see setup), so threads do not send in step.
    if first_delay then
      local wait = first_delay
      first_delay = nil
      return wait
    end
    return delay_ms
  end
end

local head = '{"version":"4","groupKey":"{}:{alertname=\\"LoadTest\\"}","truncatedAlerts":0,"status":"firing",'
  .. '"receiver":"pagerduty","groupLabels":{"alertname":"LoadTest"},"commonLabels":{"alertname":"LoadTest"},'
  .. '"commonAnnotations":{},"externalURL":"http://alertmanager.example:9093","alerts":['

local function alert(sequence)
  local fingerprint = string.format("%02x%02x%012x", run, thread_id, sequence)
  return '{"status":"firing","labels":{"alertname":"LoadTest","instance":"host-' .. sequence
    .. '.example:9100","job":"node","severity":"critical","team":"load"},'
    .. '"annotations":{"summary":"Load test alert ' .. fingerprint .. ' on host-' .. sequence .. '"},'
    .. '"startsAt":"2026-11-23T13:52:16.045Z","endsAt":"0001-01-01T00:00:00Z",'
    .. '"generatorURL":"http://prometheus.example:9090/graph?g0.expr=up","fingerprint":"' .. fingerprint .. '"}'
end

function request()
  if limit > 0 and sent >= limit then
    -- Connections still asking after the limit get a request that writes nothing.
    return wrk.format("GET", "/healthz", {}, nil)
  end
  local parts = {}
  for i = 1, alerts do
    parts[i] = alert(sent * alerts + i - 1)
  end
  sent = sent + 1
  return wrk.format("POST", "/v1/alertmanager", headers, head .. table.concat(parts, ",") .. "]}")
end

function done(summary, latency, requests)
  local e = summary.errors
  -- One machine-readable line for scripts/load.
  io.write(string.format(
    "RESULT requests=%d duration_us=%d status_errors=%d socket_errors=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
