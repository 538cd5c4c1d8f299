-- wrk script of the throughput measurement (benchmarks/throughput.py).
-- Cycles through the Authorization header values in the file named by the
-- first script argument, one request per user in turn, and prints a JSON
-- summary when done.

local requests = {}
local index = 0

function init(args)
   for line in io.lines(args[1]) do
      if line ~= "" then
         requests[#requests + 1] = wrk.format("GET", nil, { Authorization = line })
      end
   end
   index = math.random(#requests) - 1
end

function request()
   index = index % #requests + 1
   return requests[index]
end

function done(summary, latency, requests)
   local errors = summary.errors
   io.write(string.format(
      '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f, '
         .. '"max_us": %d, "errors_connect": %d, "errors_read": %d, "errors_write": %d, '
         .. '"errors_status": %d, "errors_timeout": %d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      latency.mean, latency.max, errors.connect, errors.read, errors.write, errors.status,
      errors.timeout))
end
