-- wrk script: POST /payments approvals with distinct payment ids over many accounts.
-- Environment: BENCH_APP_KEY, BENCH_APP_TOKEN, BENCH_ACCOUNTS (how many buyer e-mails),
-- BENCH_PREFIX (makes payment ids unique per run), BENCH_VALUE (amount, default 1.00).
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  approved = 0
  refused = 0
  accounts = tonumber(os.getenv("BENCH_ACCOUNTS") or "1000")
  prefix = os.getenv("BENCH_PREFIX") or "run"
  value = os.getenv("BENCH_VALUE") or "1.00"
  math.randomseed(id * 7919 + 17)
  headers = {
    ["Content-Type"] = "application/json",
    ["X-VTEX-API-AppKey"] = os.getenv("BENCH_APP_KEY"),
    ["X-VTEX-API-AppToken"] = os.getenv("BENCH_APP_TOKEN"),
  }
end

function request()
  counter = counter + 1
  local payment_id = prefix .. "-" .. id .. "-" .. counter
  local email = "bench-" .. math.random(0, accounts - 1) .. "@example.com"
  local body = '{"paymentId":"' .. payment_id .. '","transactionId":"tx-' .. payment_id ..
    '","orderId":"o-' .. payment_id .. '","paymentMethod":"Promissories","value":"' .. value ..
    '","currency":"BRL","installments":1,"miniCart":{"buyer":{"email":"' .. email .. '"}}}'
  return wrk.format("POST", "/payments", headers, body)
end

function response(status, headers, body)
  if status == 200 and string.find(body, '"status": *"approved"') then
    approved = approved + 1
  else
    refused = refused + 1
  end
end

function done(summary, latency, requests)
  local ok, bad = 0, 0
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("approved")
    bad = bad + thread:get("refused")
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"approved":%d,"not_approved":%d,' ..
    '"socket_errors":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, ok, bad,
    errors.connect + errors.read + errors.write + errors.timeout + errors.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
