-- wrk script of the storm: the error URL until STORM_ERROR_S have passed, then the healthy URL, so every
-- error request wrk sent was answered before wrk stops (its last, unanswered requests are healthy ones).
-- done() prints the exact counts and 1,000 latency quantiles (microseconds) for bench/storm.py to merge.
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
local deadline, error_request, healthy_request

local function scan_request()
  local word = {}
  for i = 1, 10 do
    local n = math.random(1, #letters)
    word[i] = letters:sub(n, n)
  end
  return wrk.format("GET", "/scan/" .. table.concat(word) .. "/")
end

function init(args)
  error_request = wrk.format("GET", os.getenv("STORM_ERROR_PATH") or "/pets/999/")
  healthy_request = wrk.format("GET", os.getenv("STORM_HEALTHY_PATH") or "/pets/7/")
  deadline = now() + error_s
  math.randomseed(os.time())
end

function request()
  if now() < deadline then
    if unique then
      return scan_request()
    end
    return error_request
  end
  return healthy_request
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "STORM-SUMMARY requests=%d duration_us=%d bytes=%d status=%d connect=%d read=%d write=%d timeout=%d max_us=%d\n",
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout, latency.max))
  local parts = {}
  for i = 1, 1000 do
    parts[i] = tostring(latency:percentile((i - 0.5) / 10))
  end
  io.write("STORM-QUANTILES " .. table.concat(parts, ",") .. "\n")
end
