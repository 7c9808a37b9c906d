"""Side-by-side throughput and latency of two servers under the same redis-benchmark workloads.

Run it through bench/compare (see there for usage). Server A defaults to Debian's redis-server
(persistence off) and server B to build/stockd (--shards 2); both listen on free loopback ports
with fresh temporary directories. For every repeat, pipeline depth and server, one
`redis-benchmark --csv` run covers every workload; the servers alternate (A then B, then B then A
on the next repeat) so slow drift on a shared machine hits both alike. The table shows the median
of the repeats.

Numbers from a two-core machine shared with the benchmark client are for comparing the two
servers with each other, not for quoting.
"""

import argparse
import csv
import io
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "integration"))
from server import Server, ServerError, is_redis_binary  # noqa: E402

DEFAULT_SERVER_A = "/usr/bin/redis-server"
DEFAULT_SERVER_B = os.path.join(REPO_ROOT, "build", "stockd")
DEFAULT_TESTS = "set,get,incr,ping"
DEFAULT_PIPELINES = "1,16"
DEFAULT_CLIENTS = 50
DEFAULT_REQUESTS = 60_000
DEFAULT_REPEATS = 3
DEFAULT_SHARDS = 2
DEFAULT_KEYSPACE = 100_000
# A pipelined request costs a fraction of an unpipelined one; by default pipelined runs send this
# many times more requests so that they too last long enough to measure.
PIPELINED_REQUESTS_FACTOR = 4
# Longest one redis-benchmark run may take before the comparison gives up.
BENCHMARK_TIMEOUT_S = 300


# stockd logs every write by default (appendonly yes, appendfsync always); these comparisons run
# both servers with persistence off, so stockd gets the equivalent of redis's --appendonly no.
# The durable comparison is the durability issue's benchmark, with its own flags.
STOCKD_PERSISTENCE_OFF = ["--appendonly", "no"]

def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bench/compare",
        description="Compare two Redis-protocol servers with redis-benchmark.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--server-a", default=DEFAULT_SERVER_A, help="baseline server binary")
    p.add_argument("--server-b", default=DEFAULT_SERVER_B, help="compared server binary")
    p.add_argument("--label-a", help="column label for A (default: redis, or the basename)")
    p.add_argument("--label-b", help="column label for B (default: stockd, or the basename)")
    p.add_argument("--shards", type=int, default=DEFAULT_SHARDS,
                   help="--shards passed to a stockd server (never to redis-server)")
    p.add_argument("--server-a-arg", action="append", default=[], metavar="ARG",
                   help="extra argument for server A (repeat; use --server-a-arg=--flag)")
    p.add_argument("--server-b-arg", action="append", default=[], metavar="ARG",
                   help="extra argument for server B (repeat; use --server-b-arg=--flag)")
    p.add_argument("-n", "--requests", type=int, default=DEFAULT_REQUESTS,
                   help="requests per workload at pipeline 1")
    p.add_argument("--pipelined-requests", type=int,
                   help="requests per workload when pipelining (default: "
                        f"{PIPELINED_REQUESTS_FACTOR} x --requests)")
    p.add_argument("-c", "--clients", type=int, default=DEFAULT_CLIENTS)
    p.add_argument("-t", "--tests", default=DEFAULT_TESTS,
                   help="redis-benchmark -t list (ping runs PING_INLINE and PING_MBULK)")
    p.add_argument("--command", action="append", default=[], metavar="CMD",
                   help="a custom redis-benchmark command as one more workload, run after the -t "
                        "tests (repeatable), e.g. \"HGET myhash element:__rand_int__\"; "
                        "pass -t '' to run only custom commands")
    p.add_argument("-P", "--pipelines", default=DEFAULT_PIPELINES,
                   help="comma-separated pipeline depths")
    p.add_argument("-R", "--repeats", type=int, default=DEFAULT_REPEATS,
                   help="runs per measurement; the table shows the median")
    p.add_argument("-r", "--keyspace", type=int, default=DEFAULT_KEYSPACE,
                   help="redis-benchmark -r: random keys spread the load over every shard")
    p.add_argument("--benchmark", default=shutil.which("redis-benchmark") or "redis-benchmark",
                   help="redis-benchmark binary")
    p.add_argument("--samples-csv", metavar="PATH",
                   help="also write every sample (one row per run and workload) to PATH")
    opts = p.parse_args(argv)
    opts.pipeline_depths = [int(x) for x in opts.pipelines.split(",") if x]
    if opts.pipelined_requests is None:
        opts.pipelined_requests = opts.requests * PIPELINED_REQUESTS_FACTOR
    for name in ("requests", "pipelined_requests", "clients", "repeats"):
        if getattr(opts, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    opts.label_a = opts.label_a or default_label(opts.server_a)
    opts.label_b = opts.label_b or default_label(opts.server_b)
    if opts.label_a == opts.label_b:
        opts.label_a, opts.label_b = opts.label_a + "-a", opts.label_b + "-b"
    return opts


def default_label(binary):
    return "redis" if is_redis_binary(binary) else os.path.basename(binary)


def run_benchmark(opts, server, pipeline):
    """One redis-benchmark run over every -t workload, then one per --command workload.
    Returns {test: row dict} from their CSV output."""
    requests = opts.requests if pipeline == 1 else opts.pipelined_requests
    base = [opts.benchmark, "-h", server.host, "-p", str(server.port), "-c", str(opts.clients),
            "-n", str(requests), "-P", str(pipeline), "-r", str(opts.keyspace), "--csv"]
    rows = {}
    if opts.tests:
        rows.update(run_one(base + ["-t", opts.tests], server))
    for command in opts.command:
        rows.update(run_one(base + shlex.split(command), server))
    return rows


def run_one(cmd, server):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, timeout=BENCHMARK_TIMEOUT_S)
    rows = {}
    for row in csv.DictReader(io.StringIO(proc.stdout.decode("utf-8", "replace"))):
        try:
            rows[row["test"]] = {"rps": float(row["rps"]),
                                 "p50_ms": float(row["p50_latency_ms"]),
                                 "p99_ms": float(row["p99_latency_ms"])}
        except (KeyError, TypeError, ValueError):
            continue
    if proc.returncode != 0 or not rows:
        raise RuntimeError(
            f"redis-benchmark failed (exit {proc.returncode}) against {server.binary}:\n"
            f"$ {' '.join(cmd)}\n{proc.stdout.decode(errors='replace')}"
            f"{proc.stderr.decode(errors='replace')}")
    return rows


def server_version(server):
    out = subprocess.run(["redis-cli", "-h", server.host, "-p", str(server.port), "INFO",
                          "server"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         timeout=10).stdout.decode(errors="replace")
    for line in out.splitlines():
        if line.startswith("redis_version:"):
            return line.split(":", 1)[1].strip()
    return "?"


def fmt(value, digits):
    return "n/a" if value is None else f"{value:.{digits}f}"


def median_of(samples, key):
    values = [s[key] for s in samples]
    return statistics.median(values) if values else None


def print_table(opts, tests, results):
    a, b = opts.label_a, opts.label_b
    header = ["workload", "pipeline", f"{a} rps", f"{b} rps", f"{b}/{a}", f"{a} p99 ms",
              f"{b} p99 ms", f"{a} p50 ms", f"{b} p50 ms"]
    rows = []
    for pipeline in opts.pipeline_depths:
        for test in tests:
            sa = results.get(("a", pipeline, test), [])
            sb = results.get(("b", pipeline, test), [])
            rps_a, rps_b = median_of(sa, "rps"), median_of(sb, "rps")
            ratio = rps_b / rps_a if rps_a and rps_b is not None else None
            rows.append([test, str(pipeline), fmt(rps_a, 0), fmt(rps_b, 0), fmt(ratio, 2),
                         fmt(median_of(sa, "p99_ms"), 3), fmt(median_of(sb, "p99_ms"), 3),
                         fmt(median_of(sa, "p50_ms"), 3), fmt(median_of(sb, "p50_ms"), 3)])
    print_rows(header, rows)


def print_rows(header, rows):
    """Prints a table of strings: the first column left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                     for i, (h, w) in enumerate(zip(header, widths)))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths))))


def main(argv):
    opts = parse_args(argv)
    if not shutil.which(opts.benchmark) and not os.access(opts.benchmark, os.X_OK):
        sys.exit(f"compare: {opts.benchmark} not found (install redis-tools)")
    for binary in (opts.server_a, opts.server_b):
        if not os.access(binary, os.X_OK):
            sys.exit(f"compare: server binary {binary} not found or not executable"
                     + (" (build stockd with `make build`, or pass --server-b PATH)"
                        if binary == DEFAULT_SERVER_B else ""))
    # Ctrl-C and SIGTERM both unwind through the finally below, which stops the servers.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    shards = ["--shards", str(opts.shards)] + STOCKD_PERSISTENCE_OFF
    servers = {"a": Server(opts.server_a, extra_args=opts.server_a_arg, stockd_args=shards,
                           new_session=True),
               "b": Server(opts.server_b, extra_args=opts.server_b_arg, stockd_args=shards,
                           new_session=True)}
    results = {}
    samples = []
    tests_seen = []
    started = time.monotonic()
    try:
        for key in ("a", "b"):
            servers[key].start()
        labels = {"a": opts.label_a, "b": opts.label_b}
        print(f"A: {labels['a']} = {shlex.join(servers['a'].command)}  "
              f"(redis_version {server_version(servers['a'])})")
        print(f"B: {labels['b']} = {shlex.join(servers['b'].command)}  "
              f"(redis_version {server_version(servers['b'])})")
        print(f"redis-benchmark -c {opts.clients} -t {opts.tests} -r {opts.keyspace}, "
              f"-n {opts.requests} at pipeline 1 and {opts.pipelined_requests} when pipelined, "
              f"pipelines {opts.pipelines}, median of {opts.repeats}; {os.cpu_count()} cores")
        for repeat in range(opts.repeats):
            order = ("a", "b") if repeat % 2 == 0 else ("b", "a")
            for pipeline in opts.pipeline_depths:
                for key in order:
                    rows = run_benchmark(opts, servers[key], pipeline)
                    if not servers[key].alive():
                        raise RuntimeError(f"{labels[key]} died during the benchmark; log:\n"
                                           f"{servers[key].log_tail()}")
                    summary = []
                    for test, row in rows.items():
                        if test not in tests_seen:
                            tests_seen.append(test)
                        results.setdefault((key, pipeline, test), []).append(row)
                        samples.append({"repeat": repeat + 1, "server": labels[key],
                                        "pipeline": pipeline, "test": test, **row})
                        summary.append(f"{test} {row['rps']:.0f}")
                    print(f"  run {repeat + 1}/{opts.repeats} P{pipeline} {labels[key]}: "
                          + ", ".join(summary), flush=True)
        print(f"\nmedians of {opts.repeats} runs ({time.monotonic() - started:.0f} s):")
        print_table(opts, tests_seen, results)
        if opts.samples_csv:
            with open(opts.samples_csv, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=["repeat", "server", "pipeline", "test",
                                                       "rps", "p50_ms", "p99_ms"])
                writer.writeheader()
                writer.writerows(samples)
            print(f"samples written to {opts.samples_csv}")
        return 0
    except KeyboardInterrupt:
        print("\ncompare: interrupted; stopping the servers", file=sys.stderr)
        return 130
    except (ServerError, RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"compare: {e}", file=sys.stderr)
        return 1
    finally:
        for server in servers.values():
            server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
