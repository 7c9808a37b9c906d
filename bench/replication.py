#!/usr/bin/python3
"""What replication costs (issue 6's benchmark): durable SKU.RESERVE throughput on a primary with
a standby in sync mode, against the same primary with no standby, and the standby's lag under that
load in async mode.

    bench/replication.py [-R 3] [-n 100000] [-P 16] [-c 50]      # or: make bench-replication

Each run starts fresh servers on fresh directories (appendonly yes, appendfsync always, 2 shards
each; the standby reaches the primary directly on loopback) and drives
    redis-benchmark -c C -P P -n N -r 2147483647 SKU.RESERVE sku:bench o:__rand_int__-__rand_int__ 1
against the primary. Configurations, alternated within each repeat so that machine noise spreads
over all of them:
  - alone:   no standby (repl-ack async: nothing to wait for);
  - sync:    one standby, repl-ack sync (a reply waits for the standby's synced record);
  - async:   one standby, repl-ack async; INFO replication is sampled every 50 ms during the run
             for the standby's lag in records (master_repl_offset - its acknowledged offset).
Prints the medians of R repeats, sync/alone and async/alone, the lag (median and max over the
samples of all async runs), and checks after every run that the standby's DEBUG DIGEST equals the
primary's. The issue's goal: sync costs under 30% at pipeline 16 (sync/alone >= 0.70). Both
servers run on this machine, so on few cores the standby takes CPU from the primary: async/alone
measures that, and sync/async the cost of the acknowledgement wait itself. Failover time is
measured by tools/chaos.py (its report's `failover` line).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from server import Server  # noqa: E402

SKU_UNITS = 10**12  # stock no run can exhaust
LAG_SAMPLE_S = 0.05


def client(srv):
    return redis.Redis(host=srv.host, port=srv.port, decode_responses=True, socket_timeout=60)


def wait_until(fn, what, timeout_s=60):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if fn():
            return
        time.sleep(0.02)
    raise RuntimeError(f"timed out waiting for {what}")


def run(opts, config):
    """One run of one configuration. Returns (requests per second, lag samples)."""
    args = ["--shards", "2", "--appendonly", "yes", "--appendfsync", "always"]
    primary = Server(stockd_args=args + ["--repl-ack", "sync" if config == "sync" else "async"])
    primary.start()
    standby = None
    try:
        if config != "alone":
            standby = Server(stockd_args=args + ["--replicaof", "127.0.0.1", str(primary.port)])
            standby.start()
            wait_until(lambda: client(standby).info("replication")["master_link_status"] == "up",
                       "the standby's link")
        p = client(primary)
        p.execute_command("SKU.SET", "sku:bench", SKU_UNITS)
        lags, done = [], threading.Event()

        def sample():
            while not done.wait(LAG_SAMPLE_S):
                info = p.info("replication")
                if "slave0" in info:
                    lags.append(info["master_repl_offset"] - info["slave0"]["offset"])

        sampler = threading.Thread(target=sample)
        if config == "async":
            sampler.start()
        cmd = [opts.benchmark, "-h", "127.0.0.1", "-p", str(primary.port), "-c", str(opts.c),
               "-P", str(opts.P), "-n", str(opts.n), "-r", "2147483647", "--csv",
               "SKU.RESERVE", "sku:bench", "o:__rand_int__-__rand_int__", "1"]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        done.set()
        if sampler.is_alive():
            sampler.join()
        rps = float(out.strip().splitlines()[-1].split(",")[1].strip('"'))
        if standby is not None:
            last = p.execute_command("ROLE")[1]
            s = client(standby)
            wait_until(lambda: s.execute_command("ROLE")[4] == last, "the standby to catch up")
            if s.execute_command("DEBUG", "DIGEST") != p.execute_command("DEBUG", "DIGEST"):
                raise RuntimeError(f"{config}: the standby's digest differs from the primary's")
        return rps, lags
    finally:
        for srv in (standby, primary):
            if srv is not None:
                srv.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-R", type=int, default=3, help="repeats (medians are reported)")
    ap.add_argument("-n", type=int, default=100000, help="requests per run")
    ap.add_argument("-P", type=int, default=16, help="pipeline depth")
    ap.add_argument("-c", type=int, default=50, help="clients")
    ap.add_argument("--benchmark", default=shutil.which("redis-benchmark") or "redis-benchmark")
    opts = ap.parse_args()
    configs = ["alone", "sync", "async"]
    rps = {c: [] for c in configs}
    lags = []
    for r in range(opts.R):
        order = configs[r % 3:] + configs[:r % 3]
        for config in order:
            value, samples = run(opts, config)
            rps[config].append(value)
            lags += samples
            print(f"repeat {r + 1}/{opts.R} {config:6}: {value:10.0f} rps", flush=True)
    med = {c: statistics.median(v) for c, v in rps.items()}
    print(f"\nSKU.RESERVE, appendfsync always, -c {opts.c} -P {opts.P} -n {opts.n}, "
          f"medians of {opts.R}:")
    for c in configs:
        print(f"  {c:6} {med[c]:10.0f} rps   ({c}/alone {med[c] / med['alone']:.2f})")
    # On a machine with few cores the standby competes with the primary for CPU: async/alone
    # shows that share, and sync/async what waiting for the standby's acknowledgement costs.
    print(f"  sync/async {med['sync'] / med['async']:.2f} (the cost of waiting for the standby; "
          f"async/alone is the standby's share of this machine's CPU)")
    goal = med["sync"] / med["alone"]
    print(f"goal: sync costs under 30% at pipeline 16: sync/alone = {goal:.2f} "
          f"({'met' if goal >= 0.70 else 'NOT met'}{'' if opts.P == 16 else ', at -P ' + str(opts.P)})")
    if lags:
        print(f"async standby lag under this load: median {statistics.median(lags):.0f} records, "
              f"max {max(lags)} records ({len(lags)} samples every {LAG_SAMPLE_S * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
