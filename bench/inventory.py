"""Flash-sale inventory workloads: Redis + Lua (EVALSHA) against stockd's native SKU.* commands.

Run it through bench/inventory (see there for usage). Server A is Debian's redis-server
(--save "" --appendonly no) running the Lua scripts below, loaded once with SCRIPT LOAD; server B
is build/stockd (--shards 2, otherwise its defaults, as bench/compare starts it) running the
native command for the same job:

    workload  redis (EVALSHA of ...)                         stockd
    deduct    DEDUCT_LUA: HEXISTS flow order -> duplicate;   SKU.DEDUCT sku order 1
              GET stock; DECRBY; HSET flow order qty
    reserve   RESERVE_LUA: as deduct, plus ZADD deadlines    SKU.RESERVE sku order 1 TTL 600000
              (now + ttl) order, the order-timeout index
    enter     ENTER_LUA: SISMEMBER users -> duplicate;       SKU.ENTER sku user
              LLEN queue >= capacity -> FULL; SADD users;
              RPUSH queue user (a bounded admission queue)

Stock is 10^9 and the queue capacity 10^7 (stockd's limit on live admissions per SKU), so
nothing sells out or fills up during a run: every request takes the success path, which is the
work being compared. Work stockd does that the Lua scripts do not: every change also appends a
journal record (the deduction flow, bounded per SKU) and counts the SKU's request rate (SKU.HOT);
an admission also holds one unit of stock for HOLD ms (default 60 s, longer than a run).

Unique ids. redis-benchmark (7.0, checked in its source and by experiment) replaces every
occurrence of __rand_int__ in a custom command, separately and anew for every command sent
(pipelined copies included), with a 12-digit zero-padded `random() % r`; its -r is parsed with
atoi into an int, so the largest usable keyspace is 2^31 - 1 (a larger -r wraps negative and
redis-benchmark then substitutes 0 everywhere). random() is seeded per process from the time and
pid. An id is therefore built from two occurrences:

    order id  o:__rand_int__-__rand_int__    (27 bytes; user ids u:..., same shape)

which gives N = (2^31 - 1)^2 ~= 4.6e18 equally likely ids. Every run writes to fresh keys, so
collisions only matter within one run of n requests: expected colliding pairs ~= n^2 / (2N),
which is 6.3e-9 for n = 240,000 (the default pipelined run) and 1.1e-7 even for n = 10^6. A
single __rand_int__ (N ~= 2.1e9) would give ~13 duplicate pairs per 240,000-request run.

Durability (--fsync). "no", the default, is the comparison above with persistence off on both
(redis --appendonly no, stockd --appendonly no). "always" and "everysec" run both servers logging
every write: redis-server --appendonly yes --appendfsync MODE (an fsync of the AOF per event-loop
iteration that wrote, before any reply; or once a second in a background thread), stockd
--appendonly yes --appendfsync MODE (its RocksDB WAL: a reply waits until its record is synced,
the group commit of docs/wal.md; or synced once a second). In these modes every run gets freshly
started servers on fresh data directories (Python's tempfile directory, $TMPDIR, so both on the
same disk), so no run pays for an earlier run's log, and after each run the logs' own figures are
printed from INFO persistence: stockd's records per batch (mean, max), syncs and sync latency
(p50, p99: histogram bucket bounds), Redis's AOF size, aof_delayed_fsync and rewrites. When
`perf` can count syscall tracepoints, the fsync/fdatasync calls each server made during the run
are counted too (perf stat; Redis reports no such figure itself), so Redis's batch is known as
well; and for always, one extra run per server, workload and depth (not in the medians: tracing
slows a server down) times every call with perf trace -s, so that each server's fsync latency
is known. Once
before and once after the runs, a probe times write + fdatasync of 4 KiB appended to a file in
that same directory: the raw latency of this disk, which bounds what one sync round costs. It
does so for two files in turn: a plain one (Redis appends its AOF so) and one whose blocks were
reserved with fallocate first (RocksDB reserves its WAL files' blocks so; then fdatasync does not
allocate blocks).

Checking the workload did what it claims: after each run the keys it wrote are counted and
compared with the number of requests redis-benchmark sent (it sends -n rounded up to a multiple
of -P): HLEN flow (and ZCARD deadlines, GET stock) for the Lua side, SKU.GET's counters for
stockd. A run whose count is off by more than VERIFY_TOLERANCE is reported and makes the exit
status 1.
"""

import argparse
import ctypes
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare  # noqa: E402  (also puts tests/integration on sys.path)
from compare import fmt, print_rows, print_table, run_one, server_version  # noqa: E402
from resp import RespConnection, RespError  # noqa: E402
from server import Server, ServerError, is_redis_binary  # noqa: E402

WORKLOADS = ("deduct", "reserve", "enter")
STOCK_UNITS = 1_000_000_000
# stockd caps a SKU's live admissions at 10^7 (storage::kSkuAdmissionsMax); the Lua queue gets
# the same capacity.
QUEUE_CAPACITY = 10_000_000
ORDER_QUANTITY = 1
RESERVATION_TTL_MS = 600_000  # longer than any run, so no reservation expires mid-run
# redis-benchmark -r: the largest keyspace its atoi-parsed int accepts.
RANDOM_KEYSPACE_MAX = 2**31 - 1
ORDER_ID_PATTERN = "o:__rand_int__-__rand_int__"
USER_ID_PATTERN = "u:__rand_int__-__rand_int__"
# A run's record count may fall short of its request count by at most this fraction (id
# collisions are expected at ~1e-8 per run, so any real shortfall is a broken workload).
VERIFY_TOLERANCE = 1e-4
DEFAULT_REQUESTS = 60_000

# --fsync: "no" is persistence off on both servers; the others are both servers' appendfsync.
FSYNC_MODES = ("no", "always", "everysec")
# The disk probe: this many appends of this many bytes, each followed by fdatasync.
FSYNC_PROBE_WRITES = 300
FSYNC_PROBE_BYTES = 4096
FALLOC_FL_KEEP_SIZE = 1  # linux/falloc.h
# The goals for appendfsync always: stockd/redis at pipeline 1 and at pipeline 16.
DURABLE_GOALS = {1: 2.0, 16: 3.0}
# The sync calls a server can make (RocksDB and Redis use fdatasync on Linux), traced by perf.
SYNC_SYSCALLS = ("fdatasync", "fsync")

# KEYS[1] stock counter, KEYS[2] deduction-flow hash; ARGV[1] order id, ARGV[2] quantity.
# The flow record is the idempotency record: a retried order id deducts nothing.
DEDUCT_LUA = """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  return redis.status_reply('DUPLICATE')
end
local qty = tonumber(ARGV[2])
local stock = tonumber(redis.call('GET', KEYS[1]) or '0')
if stock < qty then
  return redis.error_reply('SOLDOUT')
end
redis.call('DECRBY', KEYS[1], qty)
redis.call('HSET', KEYS[2], ARGV[1], qty)
return stock - qty
"""

# As DEDUCT_LUA, plus KEYS[3], a sorted set of order ids by deadline (ms), which a sweeper
# reads to close unpaid orders and return their units; ARGV[3] is the timeout in ms.
RESERVE_LUA = """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  return redis.status_reply('DUPLICATE')
end
local qty = tonumber(ARGV[2])
local stock = tonumber(redis.call('GET', KEYS[1]) or '0')
if stock < qty then
  return redis.error_reply('SOLDOUT')
end
redis.call('DECRBY', KEYS[1], qty)
redis.call('HSET', KEYS[2], ARGV[1], qty)
local now = redis.call('TIME')
local deadline_ms = now[1] * 1000 + math.floor(now[2] / 1000) + tonumber(ARGV[3])
redis.call('ZADD', KEYS[3], deadline_ms, ARGV[1])
return stock - qty
"""

# KEYS[1] set of admitted users (dedupe), KEYS[2] FIFO queue for the order service;
# ARGV[1] user id, ARGV[2] capacity. Replies the user's position in the queue.
ENTER_LUA = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then
  return redis.status_reply('DUPLICATE')
end
if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[2]) then
  return redis.error_reply('FULL')
end
redis.call('SADD', KEYS[1], ARGV[1])
return redis.call('RPUSH', KEYS[2], ARGV[1])
"""

LUA = {"deduct": DEDUCT_LUA, "reserve": RESERVE_LUA, "enter": ENTER_LUA}


def redis_keys(workload, tag):
    base = f"inv:{workload}:{tag}"
    if workload == "enter":
        return [f"{base}:users", f"{base}:queue"]
    keys = [f"{base}:stock", f"{base}:flow"]
    return keys + [f"{base}:deadlines"] if workload == "reserve" else keys


def redis_setup(conn, workload, keys):
    check(conn.call("DEL", *keys))
    if workload != "enter":
        check(conn.call("SET", keys[0], STOCK_UNITS))


def redis_command(workload, sha, keys):
    if workload == "enter":
        return ["EVALSHA", sha, "2", *keys, USER_ID_PATTERN, str(QUEUE_CAPACITY)]
    args = [ORDER_ID_PATTERN, str(ORDER_QUANTITY)]
    if workload == "reserve":
        args.append(str(RESERVATION_TTL_MS))
    return ["EVALSHA", sha, str(len(keys)), *keys, *args]


def redis_counts(conn, workload, keys):
    """The records the Lua side wrote: one number per structure, each expected to equal n."""
    if workload == "enter":
        return {"SCARD users": conn.call("SCARD", keys[0]),
                "LLEN queue": conn.call("LLEN", keys[1])}
    counts = {"HLEN flow": conn.call("HLEN", keys[1]),
              "stock taken": STOCK_UNITS - int(conn.call("GET", keys[0]))}
    if workload == "reserve":
        counts["ZCARD deadlines"] = conn.call("ZCARD", keys[2])
    return counts


def stockd_sku(workload, tag):
    return f"sku:{workload}:{tag}"


def stockd_setup(conn, workload, sku):
    conn.call("DEL", sku)  # best effort: a fresh name per run is what guarantees a clean start
    args = ["SKU.SET", sku, STOCK_UNITS]
    if workload == "enter":
        args += ["QUEUE", QUEUE_CAPACITY]
    check(conn.call(*args))


def stockd_command(workload, sku):
    if workload == "enter":
        return ["SKU.ENTER", sku, USER_ID_PATTERN]
    command = "SKU.DEDUCT" if workload == "deduct" else "SKU.RESERVE"
    args = [command, sku, ORDER_ID_PATTERN, str(ORDER_QUANTITY)]
    return args + ["TTL", str(RESERVATION_TTL_MS)] if workload == "reserve" else args


# SKU.GET's fields that must each equal n after a run, per workload. SKU.GET replies
# field/value pairs (a flat array in RESP2, a map in RESP3).
STOCKD_COUNTERS = {"deduct": ("orders", "sold"), "reserve": ("open_orders", "reserved"),
                   "enter": ("admissions", "held")}


def stockd_counts(conn, workload, sku):
    """The records stockd holds after a run (None for a field SKU.GET lacks)."""
    fields = reply_fields(check(conn.call("SKU.GET", sku)))
    counts = {f"SKU.GET {name}": fields.get(name) for name in STOCKD_COUNTERS[workload]}
    if workload == "deduct":
        counts["stock taken"] = STOCK_UNITS - fields["on_hand"] if "on_hand" in fields else None
    return counts


def reply_fields(reply):
    if isinstance(reply, dict):
        items = reply.items()
    elif isinstance(reply, list):
        items = zip(reply[0::2], reply[1::2])
    else:
        return {}
    return {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in items}


def check(reply):
    if isinstance(reply, RespError):
        raise RuntimeError(f"setup command failed: {reply}")
    return reply


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bench/inventory",
        description="Redis + Lua against stockd's SKU.* commands, side by side.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--server-a", default=compare.DEFAULT_SERVER_A,
                   help="the Redis running the Lua scripts")
    p.add_argument("--server-b", default=compare.DEFAULT_SERVER_B,
                   help="stockd, running SKU.* natively")
    p.add_argument("--shards", type=int, default=compare.DEFAULT_SHARDS,
                   help="stockd's --shards")
    p.add_argument("--server-b-arg", action="append", default=[], metavar="ARG",
                   help="extra argument for stockd (repeat; use --server-b-arg=--flag)")
    p.add_argument("-n", "--requests", type=int, default=DEFAULT_REQUESTS,
                   help="requests per workload at pipeline 1")
    p.add_argument("--pipelined-requests", type=int,
                   help="requests per workload when pipelining (default: "
                        f"{compare.PIPELINED_REQUESTS_FACTOR} x --requests)")
    p.add_argument("-c", "--clients", type=int, default=compare.DEFAULT_CLIENTS)
    p.add_argument("-w", "--workloads", default=",".join(WORKLOADS),
                   help="comma-separated subset of " + ",".join(WORKLOADS))
    p.add_argument("-P", "--pipelines", default=compare.DEFAULT_PIPELINES,
                   help="comma-separated pipeline depths")
    p.add_argument("-R", "--repeats", type=int, default=compare.DEFAULT_REPEATS,
                   help="runs per measurement; the table shows the median")
    p.add_argument("--benchmark", default=shutil.which("redis-benchmark") or "redis-benchmark",
                   help="redis-benchmark binary")
    p.add_argument("--fsync", default="no",
                   help="comma-separated persistence modes to run, each a full comparison: no "
                        "(both --appendonly no), always, everysec (both --appendonly yes "
                        "--appendfsync MODE, fresh servers and data directories every run)")
    p.add_argument("--fsync-probe-writes", type=int, default=FSYNC_PROBE_WRITES,
                   help="write + fdatasync rounds of the disk probe (0: no probe)")
    p.add_argument("--no-count-syncs", dest="count_syncs", action="store_false",
                   help="do not count each server's fsync/fdatasync calls with perf, nor time "
                        "them in extra runs")
    opts = p.parse_args(argv)
    opts.fsync_modes = [m for m in opts.fsync.split(",") if m]
    for m in opts.fsync_modes:
        if m not in FSYNC_MODES:
            p.error(f"unknown --fsync mode {m!r} (choose from {', '.join(FSYNC_MODES)})")
    if not opts.fsync_modes:
        p.error("--fsync needs at least one mode")
    opts.pipeline_depths = [int(x) for x in opts.pipelines.split(",") if x]
    opts.workload_list = [w for w in opts.workloads.split(",") if w]
    for w in opts.workload_list:
        if w not in WORKLOADS:
            p.error(f"unknown workload {w!r} (choose from {', '.join(WORKLOADS)})")
    if opts.pipelined_requests is None:
        opts.pipelined_requests = opts.requests * compare.PIPELINED_REQUESTS_FACTOR
    for name in ("requests", "pipelined_requests", "clients", "repeats"):
        if getattr(opts, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if not is_redis_binary(opts.server_a):
        p.error("--server-a must be a redis-server: it runs the Lua side")
    opts.label_a, opts.label_b = "redis", "stockd"
    return opts


def requests_sent(opts, pipeline):
    """What redis-benchmark actually sends for -n: it hands out whole pipelines of -P."""
    requests = opts.requests if pipeline == 1 else opts.pipelined_requests
    return -(-requests // pipeline) * pipeline


class Side:
    """One server and how to drive the inventory workloads on it."""

    def __init__(self, key, label, server):
        self.key, self.label, self.server = key, label, server
        self.conn = None
        self.sha = {}
        self.unsupported = {}  # workload -> the error its probe got

    @property
    def lua(self):
        return self.key == "a"

    def connect(self):
        self.conn = RespConnection(self.server.port, timeout_s=60.0)
        if self.lua:
            for workload in LUA:
                self.sha[workload] = check(self.conn.call("SCRIPT", "LOAD", LUA[workload])).decode()

    def command(self, workload, tag):
        """The redis-benchmark command line (with __rand_int__ placeholders) for a run."""
        if self.lua:
            return redis_command(workload, self.sha[workload], redis_keys(workload, tag))
        return stockd_command(workload, stockd_sku(workload, tag))

    def setup(self, workload, tag):
        """Creates the run's fresh keys (stock, queue) and returns its command line."""
        if self.lua:
            redis_setup(self.conn, workload, redis_keys(workload, tag))
        else:
            stockd_setup(self.conn, workload, stockd_sku(workload, tag))
        return self.command(workload, tag)

    def counts(self, workload, tag):
        if self.lua:
            return redis_counts(self.conn, workload, redis_keys(workload, tag))
        return stockd_counts(self.conn, workload, stockd_sku(workload, tag))

    def restart_fresh(self):
        """Stops the server (removing its directory) and starts it on a new one."""
        if self.conn:
            self.conn.close()
            self.conn = None
        self.server.stop()
        self.server.start()
        self.connect()

    def persistence(self):
        """INFO persistence as {field: str}."""
        text = check(self.conn.call("INFO", "persistence"))
        fields = {}
        for line in text.decode(errors="replace").splitlines():
            if ":" in line and not line.startswith("#"):
                name, value = line.split(":", 1)
                fields[name] = value.strip()
        return fields

    def cleanup(self, workload, tag):
        keys = redis_keys(workload, tag) if self.lua else [stockd_sku(workload, tag)]
        self.conn.call("DEL", *keys)  # frees the run's memory; an error here changes nothing

    def probe(self, workload):
        """Runs one command of the workload by hand; records the error if it fails."""
        tag = "probe"
        try:
            command = self.setup(workload, tag)
        except RuntimeError as e:
            self.unsupported[workload] = str(e)
            return
        fixed = [a.replace("__rand_int__", "000000000000") for a in command]
        reply = self.conn.call(*fixed)
        if isinstance(reply, RespError):
            self.unsupported[workload] = f"{fixed[0]} replied -{reply}"
        self.cleanup(workload, tag)


def run_workload(opts, side, workload, pipeline, tag, sync_counter=None):
    """One redis-benchmark run of one workload on fresh keys. Returns (row, counts, sent,
    syncs), syncs being what SyncCounter.stop found (None if not traced)."""
    command = side.setup(workload, tag)
    requests = opts.requests if pipeline == 1 else opts.pipelined_requests
    cmd = [opts.benchmark, "-h", side.server.host, "-p", str(side.server.port),
           "-c", str(opts.clients), "-n", str(requests), "-P", str(pipeline),
           "-r", str(RANDOM_KEYSPACE_MAX), "--csv"] + command
    counting = sync_counter.start(side.server.proc.pid) if sync_counter else None
    try:
        rows = run_one(cmd, side.server)
    finally:
        syncs = sync_counter.stop(counting) if counting else None
    counts = side.counts(workload, tag)
    side.cleanup(workload, tag)
    return next(iter(rows.values())), counts, requests_sent(opts, pipeline), syncs


class SyncCounter:
    """Counts a process's fsync and fdatasync calls over an interval with perf. Two ways:
    "stat" counts the syscall tracepoints (perf stat: cheap, so the measured runs use it) and
    "trace" also times each call (perf trace -s, a per-thread summary: calls, total, min, avg,
    max; it slows a server down by up to a third here, so it runs in extra runs of its own).
    usable() says whether perf can do it here (it needs the syscall tracepoints and the
    permission to attach to the server)."""

    TRACE_LINE = re.compile(r"^\s*(" + "|".join(SYNC_SYSCALLS) + r")\s+(\d+)\s+(\d+)\s+"
                            r"([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)")
    TRACEPOINTS = [f"syscalls:sys_enter_{name}" for name in SYNC_SYSCALLS]

    def __init__(self, how):
        self.perf = shutil.which("perf")
        self.how = how

    def command(self, target):
        if self.how == "stat":
            return [self.perf, "stat", "-x", ",", "-e", ",".join(self.TRACEPOINTS)] + target
        return [self.perf, "trace", "-s", "-e", ",".join(SYNC_SYSCALLS)] + target

    def usable(self):
        if not self.perf:
            return False
        probe = subprocess.run(self.command(["--", "true"]), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=30)
        return probe.returncode == 0 and b"not supported" not in probe.stderr

    def start(self, pid):
        out = tempfile.NamedTemporaryFile(prefix="inventory-perf-", suffix=".txt", delete=False)
        out.close()
        proc = subprocess.Popen(self.command(["-o", out.name, "-p", str(pid)]),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)
        time.sleep(0.5)  # perf attaches before the run starts
        return proc, out.name

    def stop(self, counting):
        """Stops perf (SIGINT makes it print its figures) and returns {"calls", "avg_us",
        "max_us"} over every thread of the process (the times None for "stat"), or None when
        perf printed nothing usable."""
        proc, path = counting
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        try:
            with open(path) as f:
                text = f.read()
        finally:
            os.unlink(path)
        return self.parse_stat(text) if self.how == "stat" else self.parse_trace(text)

    def parse_stat(self, text):
        calls, seen = 0, False
        for line in text.splitlines():
            fields = line.strip().split(",")
            if len(fields) > 2 and fields[2] in self.TRACEPOINTS:
                if not fields[0].isdigit():
                    return None  # "<not counted>"
                calls += int(fields[0])
                seen = True
        return {"calls": calls, "avg_us": None, "max_us": None} if seen else None

    def parse_trace(self, text):
        calls, total_ms, max_ms = 0, 0.0, 0.0
        for line in text.splitlines():
            m = self.TRACE_LINE.match(line)
            if m:
                calls += int(m.group(2))
                total_ms += float(m.group(4))
                max_ms = max(max_ms, float(m.group(7)))
        # No summary line: no call was made during the run.
        return {"calls": calls, "avg_us": 1000 * total_ms / calls if calls else None,
                "max_us": 1000 * max_ms if calls else None}


def fallocate_keep_size(fd, length):
    """Reserves `length` bytes of blocks for fd without changing its size, as RocksDB does for
    its WAL files (fallocate FALLOC_FL_KEEP_SIZE). Returns False where that is not possible."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
        return libc.fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, length) == 0
    except (OSError, AttributeError):
        return False


def fsync_probe(directory, writes):
    """Times `writes` rounds of appending FSYNC_PROBE_BYTES to a file in `directory` and
    fdatasync-ing it, as an append-only log does, for two files in turn: a plain one, as Redis
    appends its AOF, and one whose blocks were reserved beforehand, as RocksDB reserves its
    WAL's. Returns {"append": [us, ...], "preallocated": [us, ...]} (no "preallocated" where
    fallocate is refused)."""
    files = {}
    latencies_us = {}
    try:
        for name in ("append", "preallocated"):
            fd, path = tempfile.mkstemp(prefix=f"fsync-probe-{name}-", dir=directory)
            files[name] = (fd, path)
            if name == "preallocated" and not fallocate_keep_size(fd, 2 * writes *
                                                                  FSYNC_PROBE_BYTES):
                continue
            latencies_us[name] = []
        block = os.urandom(FSYNC_PROBE_BYTES)
        for _ in range(writes):
            for name, samples in latencies_us.items():
                fd = files[name][0]
                t0 = time.perf_counter_ns()
                os.write(fd, block)
                os.fdatasync(fd)
                samples.append((time.perf_counter_ns() - t0) / 1000)
    finally:
        for fd, path in files.values():
            os.close(fd)
            os.unlink(path)
    return latencies_us


def quantile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None


def print_fsync_probe(opts, when):
    if opts.fsync_probe_writes < 1:
        return
    directory = tempfile.gettempdir()
    print(f"disk probe ({when}): {opts.fsync_probe_writes} x (append {FSYNC_PROBE_BYTES} B + "
          f"fdatasync) to each of two files in {directory} (st_dev "
          f"{os.stat(directory).st_dev:#x}), in turn; load average "
          "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    for name, lat in fsync_probe(directory, opts.fsync_probe_writes).items():
        what = ("plain file, as Redis's AOF" if name == "append"
                else "blocks reserved with fallocate, as RocksDB's WAL")
        mean = statistics.mean(lat)
        print(f"  {what}: p50 {quantile(lat, 0.5):.0f} us, p90 {quantile(lat, 0.9):.0f} us, "
              f"p99 {quantile(lat, 0.99):.0f} us, max {max(lat):.0f} us, mean {mean:.0f} us "
              f"(~{1e6 / mean:.0f} syncs/s for one thread)", flush=True)


def log_figures(side, sent, syncs):
    """The server's own log figures after one run on a fresh server (so they cover the run,
    plus the few setup writes): a dict for the summary, printed as one line too."""
    info = side.persistence()

    def num(name):
        value = info.get(name)
        return int(value) if value is not None and value.lstrip("-").isdigit() else None

    if side.lua:
        fig = {"aof_bytes": num("aof_current_size"), "delayed": num("aof_delayed_fsync"),
               "rewrites": num("aof_rewrites"), "syncs": syncs}
        per_request = f"{fig['aof_bytes'] / sent:.0f} B/request" if fig["aof_bytes"] else "?"
        line = (f"aof {fig['aof_bytes']} B ({per_request}), aof_delayed_fsync {fig['delayed']}, "
                f"aof_rewrites {fig['rewrites']}, last_write {info.get('aof_last_write_status')}")
    else:
        batches, records = num("wal_batches"), num("wal_records")
        fig = {"batches": batches, "records": records, "batch_max": num("wal_batch_records_max"),
               "wal_syncs": num("wal_syncs"), "sync_p50_us": num("wal_sync_p50_us"),
               "sync_p99_us": num("wal_sync_p99_us"), "sync_max_us": num("wal_sync_us_max"),
               "sync_sum_us": num("wal_sync_us_sum"), "syncs": syncs}
        fig["batch_mean"] = records / batches if batches else None
        fig["sync_mean_us"] = (fig["sync_sum_us"] / fig["wal_syncs"]
                               if fig["wal_syncs"] and fig["sync_sum_us"] is not None else None)
        line = (f"wal {records} records in {batches} batches (mean {fmt(fig['batch_mean'], 1)}, "
                f"max {fig['batch_max']}), {fig['wal_syncs']} syncs: p50 {fig['sync_p50_us']} "
                f"p99 {fig['sync_p99_us']} us (bucket bounds), mean "
                f"{fmt(fig['sync_mean_us'], 0)} max {fig['sync_max_us']} us")
    if syncs is not None:
        calls = syncs["calls"]
        line += (f"; perf: {calls} fsync/fdatasync calls ({fmt(sent / calls if calls else None, 1)}"
                 " requests each)")
        if syncs["avg_us"] is not None:
            line += f", avg {syncs['avg_us']:.0f} max {syncs['max_us']:.0f} us"
    print(f"      {side.label}: {line}", flush=True)
    return fig


def print_header(opts, sides):
    for side in sides.values():
        print(f"{side.key.upper()}: {side.label} = {shlex.join(side.server.command)}  "
              f"(redis_version {server_version(side.server)})")
    for workload in opts.workload_list:
        shown = [" ".join(side.command(workload, "r1p1")) for side in sides.values()]
        print(f"  {workload:<8} redis:  {shown[0]}\n  {'':<8} stockd: {shown[1]}")
    print(f"redis-benchmark -c {opts.clients} -r {RANDOM_KEYSPACE_MAX} -P <depth> -n "
          f"{opts.requests} at pipeline 1 and {opts.pipelined_requests} when pipelined, "
          f"pipelines {opts.pipelines}, median of {opts.repeats}; {os.cpu_count()} cores")


def verify_rows(opts, checks):
    """Per workload, depth and server: requests sent over all repeats against the records
    found. Returns (rows, all_ok)."""
    rows, all_ok = [], True
    for (key, pipeline, workload), runs in checks.items():
        sent = sum(s for s, _ in runs)
        names = list(runs[0][1])
        for name in names:
            found = [c.get(name) for _, c in runs]
            if any(f is None for f in found):
                rows.append([workload, str(pipeline), opts.label[key], name, str(sent), "?", "?"])
                all_ok = False
                continue
            ok = all(abs(s - f) <= s * VERIFY_TOLERANCE for (s, _), f in zip(runs, found))
            all_ok = all_ok and ok
            rows.append([workload, str(pipeline), opts.label[key], name, str(sent),
                         str(sum(found)), "ok" if ok else "MISMATCH"])
    return rows, all_ok


def server_args(opts, mode):
    """(redis extra args, stockd args) for a persistence mode."""
    if mode == "no":
        return [], ["--shards", str(opts.shards)] + compare.STOCKD_PERSISTENCE_OFF
    durable = ["--appendonly", "yes", "--appendfsync", mode]
    return durable, ["--shards", str(opts.shards)] + durable


def run_mode(opts, mode, counters):
    """Every repeat, depth, server and workload under one persistence mode. Returns
    (results, checks, figures, traced, sides): rows and counts as main prints them, per run the
    log figures of durable modes, keyed like results, and for always the fsync calls timed in
    one extra run per server, workload and depth (`counters`: "stat" and "trace" SyncCounters,
    either None)."""
    redis_args, stockd_args = server_args(opts, mode)
    sides = {"a": Side("a", opts.label_a, Server(opts.server_a, extra_args=redis_args,
                                                 new_session=True)),
             "b": Side("b", opts.label_b, Server(opts.server_b, extra_args=opts.server_b_arg,
                                                 stockd_args=stockd_args, new_session=True))}
    durable = mode != "no"
    results, checks, figures = {}, {}, {}
    try:
        for side in sides.values():
            side.server.start()
            side.connect()
            for workload in opts.workload_list:
                side.probe(workload)
            for workload, error in side.unsupported.items():
                print(f"{side.label}: skipping {workload}: {error}")
        print(f"\n=== persistence: {mode} ===")
        print_header(opts, sides)
        if durable:
            print("each run on freshly started servers with fresh data directories; after each "
                  "run, the server's log figures")
        for repeat in range(opts.repeats):
            order = ("a", "b") if repeat % 2 == 0 else ("b", "a")
            for pipeline in opts.pipeline_depths:
                for key in order:
                    side = sides[key]
                    summary, lines = [], []
                    for workload in opts.workload_list:
                        if workload in side.unsupported:
                            continue
                        if durable:
                            side.restart_fresh()
                        tag = f"r{repeat + 1}p{pipeline}"
                        row, counts, sent, syncs = run_workload(opts, side, workload, pipeline,
                                                                tag, counters["stat"])
                        if not side.server.alive():
                            raise RuntimeError(f"{side.label} died during the benchmark; log:\n"
                                               f"{side.server.log_tail()}")
                        results.setdefault((key, pipeline, workload), []).append(row)
                        checks.setdefault((key, pipeline, workload), []).append((sent, counts))
                        summary.append(f"{workload} {row['rps']:.0f}")
                        if durable:
                            print(f"  run {repeat + 1}/{opts.repeats} P{pipeline} {side.label} "
                                  f"{workload}: {row['rps']:.0f} rps, p50 {row['p50_ms']:.2f} "
                                  f"p99 {row['p99_ms']:.2f} ms", flush=True)
                            fig = log_figures(side, sent, syncs)
                            figures.setdefault((key, pipeline, workload), []).append(fig)
                    if not durable:
                        print(f"  run {repeat + 1}/{opts.repeats} P{pipeline} {side.label}: "
                              + (", ".join(summary) or "nothing supported"), flush=True)
        traced = {}
        if mode == "always" and counters["trace"]:
            print("extra runs, not in the medians, with every fsync/fdatasync call timed "
                  "(perf trace -s):")
            for pipeline in opts.pipeline_depths:
                for key, side in sides.items():
                    for workload in opts.workload_list:
                        if workload in side.unsupported:
                            continue
                        side.restart_fresh()
                        row, _, sent, syncs = run_workload(opts, side, workload, pipeline,
                                                           f"t{pipeline}", counters["trace"])
                        print(f"  P{pipeline} {side.label} {workload}: {row['rps']:.0f} rps "
                              "(traced)", flush=True)
                        log_figures(side, sent, syncs)
                        traced[(key, pipeline, workload)] = syncs
        return results, checks, figures, traced, sides
    finally:
        for side in sides.values():
            if side.conn:
                side.conn.close()
            side.server.stop()


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def print_log_figures(opts, figures, traced):
    """Per workload and depth, the medians over the repeats of each server's log figures, and
    the fsync latency from the traced runs."""
    group, calls = [], []
    for pipeline in opts.pipeline_depths:
        for workload in opts.workload_list:
            a = figures.get(("a", pipeline, workload), [])
            b = figures.get(("b", pipeline, workload), [])
            sent = requests_sent(opts, pipeline)

            def med(figs, name, digits=0):
                return fmt(median_or_none([f.get(name) for f in figs]), digits)

            def per_sync(figs):
                n = median_or_none([f["syncs"]["calls"] for f in figs if f.get("syncs")])
                return fmt(sent / n if n else None, 1)

            def timed(key, name):
                syncs = traced.get((key, pipeline, workload))
                return fmt(syncs.get(name) if syncs else None, 0)

            group.append([workload, str(pipeline), med(b, "batch_mean", 1),
                          str(max((f.get("batch_max") or 0 for f in b), default=0)),
                          med(b, "wal_syncs"), med(b, "sync_p50_us"), med(b, "sync_p99_us"),
                          med(b, "sync_mean_us")])
            calls.append([workload, str(pipeline), per_sync(a), timed("a", "avg_us"),
                          timed("a", "max_us"), per_sync(b), timed("b", "avg_us"),
                          timed("b", "max_us"),
                          fmt(median_or_none([f["aof_bytes"] / sent if f.get("aof_bytes")
                                              else None for f in a]), 0),
                          str(sum(f.get("delayed") or 0 for f in a)),
                          str(sum(f.get("rewrites") or 0 for f in a))])
    print("stockd's group commit (INFO persistence after each run; medians, max of the maxima; "
          "p50/p99 are histogram bucket bounds, within 2x; a sync is the whole synced write):")
    print_rows(["workload", "pipeline", "records/batch", "max", "syncs", "sync p50 us",
                "p99 us", "mean us"], group)
    print("fsync/fdatasync calls of each process (perf stat; medians; n/a without perf), their "
          "latency (perf trace -s in the extra run; always only); Redis's AOF bytes per "
          "request, aof_delayed_fsync and aof_rewrites (summed):")
    print_rows(["workload", "pipeline", "redis req/fsync", "avg us", "max us",
                "stockd req/fsync", "avg us", "max us", "redis aof B/req", "delayed_fsync",
                "rewrites"], calls)


def print_goals(opts, results):
    """The issue's goals for appendfsync always, per workload and depth."""
    for pipeline, goal in DURABLE_GOALS.items():
        if pipeline not in opts.pipeline_depths:
            continue
        for workload in opts.workload_list:
            rps_a = median_or_none([r["rps"] for r in results.get(("a", pipeline, workload), [])])
            rps_b = median_or_none([r["rps"] for r in results.get(("b", pipeline, workload), [])])
            if not rps_a or rps_b is None:
                continue
            ratio = rps_b / rps_a
            verdict = "met" if ratio >= goal else f"NOT met ({ratio / goal:.0%} of the goal)"
            print(f"  goal {workload} P{pipeline}: stockd/redis >= {goal:.1f}: {ratio:.2f}, "
                  f"{verdict}")


def main(argv):
    opts = parse_args(argv)
    opts.label = {"a": opts.label_a, "b": opts.label_b}
    if not shutil.which(opts.benchmark) and not os.access(opts.benchmark, os.X_OK):
        sys.exit(f"inventory: {opts.benchmark} not found (install redis-tools)")
    for binary in (opts.server_a, opts.server_b):
        if not os.access(binary, os.X_OK):
            sys.exit(f"inventory: server binary {binary} not found or not executable")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    durable = any(m != "no" for m in opts.fsync_modes)
    counters = {"stat": None, "trace": None}
    if durable and opts.count_syncs:
        for how in counters:
            counters[how] = SyncCounter(how)
            if not counters[how].usable():
                print(f"perf {how} does not work here: fsync calls are not "
                      + ("counted" if how == "stat" else "timed"))
                counters[how] = None
    started = time.monotonic()
    all_ok = True
    try:
        if durable:
            print_fsync_probe(opts, "before")
        outcomes = {}
        for mode in opts.fsync_modes:
            outcomes[mode] = run_mode(opts, mode, counters)
        if durable:
            print_fsync_probe(opts, "after")
        for mode, (results, checks, figures, traced, sides) in outcomes.items():
            what = ("persistence off on both" if mode == "no"
                    else f"both --appendonly yes --appendfsync {mode}")
            print(f"\n[{mode}] medians of {opts.repeats} runs, {what}; redis = EVALSHA of the "
                  "Lua script, stockd = the native SKU.* command:")
            print_table(opts, opts.workload_list, results)
            if mode == "always":
                print_goals(opts, results)
            if mode != "no":
                print(f"[{mode}] the logs' figures per run:")
                print_log_figures(opts, figures, traced)
            rows, ok = verify_rows(opts, checks)
            all_ok = all_ok and ok
            print(f"[{mode}] workload check (records written vs requests sent, summed over the "
                  "repeats):")
            print_rows(["workload", "pipeline", "server", "count", "sent", "found", "check"],
                       rows)
            for side in sides.values():
                if side.unsupported:
                    print(f"{side.label} did not run: {', '.join(side.unsupported)} "
                          f"(n/a in the table)")
        print(f"\n({time.monotonic() - started:.0f} s in all)")
        return 0 if all_ok else 1
    except KeyboardInterrupt:
        print("\ninventory: interrupted; stopping the servers", file=sys.stderr)
        return 130
    except (ServerError, RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        print(f"inventory: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
