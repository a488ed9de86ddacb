-- wrk script of the storm: the error URL for STORM_ERROR_S seconds, then the healthy URL, so every error
-- request wrk sent is answered before wrk stops. The thread stops as soon as every error request sent has
-- its answer; else wrk's own duration ends it. done() prints exact counts and 1,000 latency quantiles (µs).
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } storm_timespec;
int clock_gettime(int clk_id, storm_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("storm_timespec")

local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local error_s = tonumber(os.getenv("STORM_ERROR_S") or "10")
-- STORM_UNIQUE_PATHS=1: a scanner, every error URL new (letters g-z, which no placeholder replaces).
local unique = os.getenv("STORM_UNIQUE_PATHS") == "1"
local letters = "ghijklmnopqrstuvwxyz"
local threads = {}
local deadline, error_request, healthy_request

-- Per thread, read by done() through thread:get().
sent_errors, answered_errors, healthy_answers, stopped_early = 0, 0, 0, 0
-- wrk calls the first thread's request() once before the run, to check it parses; that one is never sent.
local checked = false

local function scan_request()
  local word = {}
  for i = 1, 10 do
    local n = math.random(1, #letters)
    word[i] = letters:sub(n, n)
  end
  return wrk.format("GET", "/scan/" .. table.concat(word) .. "/")
end

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end

function init(args)
  error_request = wrk.format("GET", os.getenv("STORM_ERROR_PATH") or "/pets/999/")
  healthy_request = wrk.format("GET", os.getenv("STORM_HEALTHY_PATH") or "/pets/7/")
  deadline = now() + error_s
  math.randomseed(os.time())
end

function request()
  if thread_number == 1 and not checked then
    checked = true
    return error_request
  end
  if now() < deadline then
    sent_errors = sent_errors + 1
    if unique then
      return scan_request()
    end
    return error_request
  end
  return healthy_request
end

function response(status, headers, body)
  if status > 399 then
    answered_errors = answered_errors + 1
  else
    healthy_answers = healthy_answers + 1
  end
  if answered_errors >= sent_errors and now() >= deadline then
    stopped_early = 1
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local sent, answered, healthy, early = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    sent = sent + t:get("sent_errors")
    answered = answered + t:get("answered_errors")
    healthy = healthy + t:get("healthy_answers")
    early = early + t:get("stopped_early")
  end
  io.write(string.format(
    "STORM-SUMMARY requests=%d duration_us=%d bytes=%d status=%d connect=%d read=%d write=%d timeout=%d " ..
    "max_us=%d sent_errors=%d answered_errors=%d healthy_answers=%d stopped_early=%d\n",
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
    latency.max, sent, answered, healthy, early))
  local parts = {}
  for i = 1, 1000 do
    parts[i] = tostring(latency:percentile((i - 0.5) / 10))
  end
  io.write("STORM-QUANTILES " .. table.concat(parts, ",") .. "\n")
end
