-- wrk script for `stagegate bench` (the bench writes the data file and runs
-- wrk; see README "Benchmarks").
--
--   wrk -t THREADS -s stagegate.lua URL -- DATA_FILE RATE ONCE THREADS
--
-- DATA_FILE: one request per line, `path TAB headers TAB body`, headers as
--   `Name: value` joined by `|`. A body containing {{ID}} is a template: each
--   request gets a unique id there (Teams activity ids, Graph notification
--   ids — the bot refuses replays, so every request must be new).
-- RATE: requests per second for the whole run, 0 = as fast as possible.
--   Each thread paces its own share on a fixed schedule (LuaJIT FFI clock):
--   the delay before a request is the time until its slot, so the rate holds
--   while latency stays below connections / rate.
-- ONCE: 1 = use each line at most once and stop the thread when its lines
--   are used up (pre-signed Slack requests: a replay would be refused).
--
-- At the end one line `STAGEGATE-WRK {json}` with the figures.

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local function now_ms()
  local t = ffi.new("bench_timespec")
  ffi.C.clock_gettime(1, t) -- CLOCK_MONOTONIC
  return tonumber(t.tv_sec) * 1000 + tonumber(t.tv_nsec) / 1e6
end

local threads = {}
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local records = {}
local next_record = 1
local sequence = 0
local interval_ms = 0
local start_ms = nil
local slot = 0
local once = false
local prefix = ""

local function split(s, sep)
  local out = {}
  local from = 1
  while true do
    local i = string.find(s, sep, from, true)
    if not i then
      table.insert(out, string.sub(s, from))
      return out
    end
    table.insert(out, string.sub(s, from, i - 1))
    from = i + #sep
  end
end

function init(args)
  local file = args[1]
  local rate = tonumber(args[2] or "0")
  once = args[3] == "1"
  local nthreads = tonumber(args[4] or "1")
  prefix = string.format("bench-%d-%d-", index, os.time())
  local n = 0
  for line in io.lines(file) do
    if n % nthreads == index then
      local fields = split(line, "\t")
      local headers = {}
      if fields[2] ~= "" then
        for _, h in ipairs(split(fields[2], "|")) do
          local colon = string.find(h, ":", 1, true)
          headers[string.sub(h, 1, colon - 1)] = string.sub(h, colon + 2)
        end
      end
      table.insert(records, { path = fields[1], headers = headers, body = fields[3] })
    end
    n = n + 1
  end
  if rate > 0 then
    interval_ms = 1000 * nthreads / rate
  end
end

function delay()
  if interval_ms == 0 then
    return 0
  end
  local now = now_ms()
  if start_ms == nil then
    start_ms = now
  end
  local due = start_ms + slot * interval_ms
  slot = slot + 1
  if due <= now then
    return 0
  end
  return math.floor(due - now)
end

function request()
  if next_record > #records then
    if once then
      wrk.thread:stop()
    end
    next_record = 1
  end
  local r = records[next_record]
  next_record = next_record + 1
  local body = r.body
  if string.find(body, "{{ID}}", 1, true) then
    sequence = sequence + 1
    body = string.gsub(body, "{{ID}}", prefix .. sequence, 1)
  end
  return wrk.format("POST", r.path, r.headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'STAGEGATE-WRK {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
