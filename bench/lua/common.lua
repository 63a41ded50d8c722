-- Shared by every scenario: numbers the threads (global `id` in each) and prints the outcome
-- as one JSON line, which the runner parses instead of wrk's human summary.
local threads = {}
exhausted = 0
block = 0

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

-- A distinct client per request, as seen through the trusted local proxy's X-Forwarded-For:
-- per-address limits then count distinct people, as they would in production.
local served = 0
function client_address()
   served = served + 1
   return string.format("10.%d.%d.%d", block, math.floor(served / 256) % 256, served % 256)
end

function done(summary, latency, requests)
   local spent = 0
   for _, thread in ipairs(threads) do
      spent = spent + (thread:get("exhausted") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%.0f,"p99_us":%.0f,"max_us":%.0f,'
         .. '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"exhausted":%d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      latency.max, e.connect, e.read, e.write, e.status, e.timeout, spent))
end
