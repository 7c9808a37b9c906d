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

Checking the workload did what it claims: after each run the keys it wrote are counted and
compared with the number of requests redis-benchmark sent (it sends -n rounded up to a multiple
of -P): HLEN flow (and ZCARD deadlines, GET stock) for the Lua side, SKU.GET's counters for
stockd. A run whose count is off by more than VERIFY_TOLERANCE is reported and makes the exit
status 1.
"""

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare  # noqa: E402  (also puts tests/integration on sys.path)
from compare import print_rows, print_table, run_one, server_version  # noqa: E402
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
    opts = p.parse_args(argv)
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


def run_workload(opts, side, workload, pipeline, tag):
    """One redis-benchmark run of one workload on fresh keys. Returns (row, counts, sent)."""
    command = side.setup(workload, tag)
    requests = opts.requests if pipeline == 1 else opts.pipelined_requests
    cmd = [opts.benchmark, "-h", side.server.host, "-p", str(side.server.port),
           "-c", str(opts.clients), "-n", str(requests), "-P", str(pipeline),
           "-r", str(RANDOM_KEYSPACE_MAX), "--csv"] + command
    rows = run_one(cmd, side.server)
    counts = side.counts(workload, tag)
    side.cleanup(workload, tag)
    return next(iter(rows.values())), counts, requests_sent(opts, pipeline)


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


def main(argv):
    opts = parse_args(argv)
    opts.label = {"a": opts.label_a, "b": opts.label_b}
    if not shutil.which(opts.benchmark) and not os.access(opts.benchmark, os.X_OK):
        sys.exit(f"inventory: {opts.benchmark} not found (install redis-tools)")
    for binary in (opts.server_a, opts.server_b):
        if not os.access(binary, os.X_OK):
            sys.exit(f"inventory: server binary {binary} not found or not executable")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    shards = ["--shards", str(opts.shards)] + compare.STOCKD_PERSISTENCE_OFF
    sides = {"a": Side("a", opts.label_a, Server(opts.server_a, new_session=True)),
             "b": Side("b", opts.label_b, Server(opts.server_b, extra_args=opts.server_b_arg,
                                                 stockd_args=shards, new_session=True))}
    results, checks = {}, {}
    started = time.monotonic()
    try:
        for side in sides.values():
            side.server.start()
            side.connect()
            for workload in opts.workload_list:
                side.probe(workload)
            for workload, error in side.unsupported.items():
                print(f"{side.label}: skipping {workload}: {error}")
        print_header(opts, sides)
        for repeat in range(opts.repeats):
            order = ("a", "b") if repeat % 2 == 0 else ("b", "a")
            for pipeline in opts.pipeline_depths:
                for key in order:
                    side = sides[key]
                    summary = []
                    for workload in opts.workload_list:
                        if workload in side.unsupported:
                            continue
                        tag = f"r{repeat + 1}p{pipeline}"
                        row, counts, sent = run_workload(opts, side, workload, pipeline, tag)
                        if not side.server.alive():
                            raise RuntimeError(f"{side.label} died during the benchmark; log:\n"
                                               f"{side.server.log_tail()}")
                        results.setdefault((key, pipeline, workload), []).append(row)
                        checks.setdefault((key, pipeline, workload), []).append((sent, counts))
                        summary.append(f"{workload} {row['rps']:.0f}")
                    print(f"  run {repeat + 1}/{opts.repeats} P{pipeline} {side.label}: "
                          + (", ".join(summary) or "nothing supported"), flush=True)
        print(f"\nmedians of {opts.repeats} runs ({time.monotonic() - started:.0f} s); "
              "redis = EVALSHA of the Lua script, stockd = the native SKU.* command:")
        print_table(opts, opts.workload_list, results)
        rows, all_ok = verify_rows(opts, checks)
        print("\nworkload check (records written vs requests sent, summed over the repeats):")
        print_rows(["workload", "pipeline", "server", "count", "sent", "found", "check"], rows)
        for side in sides.values():
            if side.unsupported:
                print(f"{side.label} did not run: {', '.join(side.unsupported)} "
                      f"(n/a in the table)")
        return 0 if all_ok else 1
    except KeyboardInterrupt:
        print("\ninventory: interrupted; stopping the servers", file=sys.stderr)
        return 130
    except (ServerError, RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        print(f"inventory: {e}", file=sys.stderr)
        return 1
    finally:
        for side in sides.values():
            if side.conn:
                side.conn.close()
            side.server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
