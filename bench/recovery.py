#!/usr/bin/env python3
"""bench/recovery.py: how long stockd takes to come back after kill -9, with a snapshot of N SKUs
and M log records after it, and whether what comes back is right.

    bench/recovery.py [--skus 1000000] [--records 10000000] [--restarts 1]   # make bench-recovery
    bench/recovery.py --skus 50000 --records 500000                         # quick: ~30 s

Steps (one fresh directory, build/stockd --shards 2 --appendfsync no
--auto-aof-rewrite-percentage 0, started as tests/integration/server.py starts servers):

  1. load    SKU.SET sku:NNNNNNNNNN 1000 SAFETY 2 TTL 3600000 for every SKU (pipelined, over
             --connections sockets, one process each);
  2. SAVE    timed; INFO persistence's snapshot_last_pause_us and snapshot_bytes are printed;
  3. sale    --records flash-sale writes spread uniformly over the SKUs, each socket owning the
             SKUs i with i % connections == its index (so a commit always follows its reservation
             on the same socket): 70% SKU.RESERVE sku order-NNNNNNNNNN qty (unique order ids,
             qty 2 for one in eight, else 1), 10% SKU.DEDUCT (a new order id), 15% SKU.COMMIT and
             5% SKU.CANCEL of the oldest reservation the socket still has open. Every write is
             one log record; the bench checks that the log grew by exactly --records records;
  4. check   SKU.GET and SKU.CHECK on --sample random SKUs: the counters must equal what the
             bench itself computed (on_hand, reserved, sold, available, open orders, orders);
  5. kill -9 once the log writer has written every record, restart on the same directory, and
             time exec -> the port answering PING (polled every 50 ms), and the CPU time the
             process used until then (this machine is shared: wall time varies with the
             neighbours, CPU time much less). The server's own figures:
             INFO persistence recovery_ms (snapshot load + replay, after RocksDB has opened),
             recovery_replayed_records, recovery_snapshot_keys, and its log lines
             "Snapshot: loaded ..." and "Write-ahead log: replayed ...". Peak RSS is VmHWM of
             the restarted process, read before any client command;
  6. check   again: every sampled SKU.GET must equal its reply before the kill, field for field,
             and SKU.CHECK must pass; and DEBUG DIGEST (the whole keyspace) must equal its
             value before the kill. Exit status 1 on any mismatch;
  7. SAVE    the state after the sale, kill -9, restart and check as in 5-6: the same state
             from a snapshot alone, which is what recovery costs when automatic snapshots keep
             the log short (skip with --no-final-snapshot).

--restarts N repeats step 5 (and the check) N times on the same directory: recovery does not
change what is in it (no snapshot is taken, nothing is written), so the later runs measure the
same replay with a warm page cache and no RocksDB memtable to rebuild.

Why --appendfsync no: loading 10M records is then limited by the CPU, not by fsync latency.
Recovery reads and replays the same records whatever the fsync mode was. kill -9 loses nothing
here: the bench waits until wal_written_lsn covers every record, and written bytes are in the
OS's page cache, which a process crash does not lose.

Expiry: the SKUs' reservation timeout is one hour, far longer than a run (the restarted server
also keeps it: replay uses each record's clock), so no reservation expires and no expiry record
is written; the log holds exactly the commands sent.

exec -> PING includes opening RocksDB, which after a kill -9 replays RocksDB's own log into its
memtable (up to 64 MiB of records not yet flushed); recovery_ms starts after that.

The default (1M SKUs, 10M records) takes 3-10 minutes on 2 cores, depending on the neighbours,
and about 6 GB of memory (the server peaks at about 4.3 GB; the bench's processes hold the open
orders). Results and the profile: docs/performance.md, "Recovery".
STOCKD_KEEP_DIR=1 keeps the directory afterwards (its path is printed), e.g. to profile a restart.
"""
import argparse
import collections
import multiprocessing
import os
import random
import re
import socket
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "integration"))
from resp import RespConnection, RespError  # noqa: E402
from server import Server  # noqa: E402

STOCK_UNITS = 1000
SAFETY_UNITS = 2
RESERVATION_TTL_MS = 3_600_000  # one hour: nothing expires during a run
SKU_SET_OPTIONS = b"$6\r\nSAFETY\r\n$1\r\n2\r\n$3\r\nTTL\r\n$7\r\n3600000\r\n"
# The mix of flash-sale writes, as cumulative fractions of a uniform draw in [0, 1).
COMMIT_BELOW = 0.15
CANCEL_BELOW = 0.20
DEDUCT_BELOW = 0.30  # the rest (70%) are reservations
LARGE_ORDER_EVERY = 8  # one order in eight is for 2 units
BATCH_COMMANDS = 2000  # commands per pipelined batch; two batches are in flight per socket
SOCKET_TIMEOUT_S = 300.0
RESTART_TIMEOUT_S = 600.0
WRITER_WAIT_S_MAX = 120.0
SKU_GET_FIELDS = ("on_hand", "reserved", "sold", "available", "open_orders", "orders")


def sku_name(i):
    return b"sku:%010d" % i


def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


class Pipeline:
    """One socket sending batches of raw RESP commands, two batches in flight. A batch ends with
    ECHO <token>; its replies are complete when the token's reply arrives. Any error reply
    (a line starting with '-': no bulk string this bench sends starts with one) raises."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.batches = 0
        self.in_flight = collections.deque()  # end-of-batch reply per sent batch
        self.pending = b""
        self.batch = []  # commands queued by add() and not sent yet

    def add(self, command):
        """Queues one encoded command; sends the batch once it holds BATCH_COMMANDS."""
        self.batch.append(command)
        if len(self.batch) == BATCH_COMMANDS:
            self.send(self.batch)
            self.batch = []

    def send(self, commands):
        token = b"end-of-batch-%012d" % self.batches
        self.batches += 1
        self.sock.sendall(b"".join(commands) + b"*2\r\n$4\r\nECHO\r\n" + bulk(token))
        self.in_flight.append(bulk(token))
        if len(self.in_flight) > 1:
            self.wait_one()

    def wait_one(self):
        end = self.in_flight.popleft()
        chunks = [self.pending]
        # The end may already be pending (read with the previous batch's replies), or arrive
        # split across two reads: search each read with the bytes before it.
        found = end in self.pending
        tail = self.pending[-len(end):]
        while not found:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise RuntimeError("server closed the connection")
            chunks.append(chunk)
            found = end in tail + chunk
            tail = chunk[-len(end):]
        data = b"".join(chunks)
        cut = data.find(end) + len(end)
        replies, self.pending = data[:cut], data[cut:]
        if replies.startswith(b"-") or b"\r\n-" in replies:
            at = max(0, replies.find(b"\r\n-"))
            raise RuntimeError("error reply: %r" % replies[at:at + 200])

    def drain(self):
        """Sends what add() queued, waits for every reply and closes the connection."""
        if self.batch:
            self.send(self.batch)
            self.batch = []
        while self.in_flight:
            self.wait_one()
        self.sock.close()


def load_worker(port, index, connections, skus):
    p = Pipeline(port)
    for i in range(index, skus, connections):
        p.add(b"*7\r\n$7\r\nSKU.SET\r\n$14\r\n%b\r\n$4\r\n1000\r\n%b" %
              (sku_name(i), SKU_SET_OPTIONS))
    p.drain()


def sale_worker(port, index, connections, skus, records, seed, sample, out):
    """Sends `records` writes over the SKUs i % connections == index and puts on `out` the
    per-kind counts and, for the SKUs in `sample`, the counters the server must show."""
    rng = random.Random(seed * 1000 + index)
    local_count = len(range(index, skus, connections))
    keys = [bulk(sku_name(index + j * connections)) for j in range(local_count)]
    reserved = [0] * local_count
    sold = [0] * local_count
    orders = [0] * local_count
    open_orders = [0] * local_count
    still_open = collections.deque()  # (local sku, order id field, qty), oldest first
    kinds = collections.Counter()
    p = Pipeline(port)
    next_order = 0
    for _ in range(records):
        draw = rng.random()
        if draw < CANCEL_BELOW and still_open:
            j, order_field, qty = still_open.popleft()
            reserved[j] -= qty
            open_orders[j] -= 1
            if draw < COMMIT_BELOW:
                sold[j] += qty
                kinds["commit"] += 1
                p.add(b"*3\r\n$10\r\nSKU.COMMIT\r\n" + keys[j] + order_field)
            else:
                kinds["cancel"] += 1
                p.add(b"*3\r\n$10\r\nSKU.CANCEL\r\n" + keys[j] + order_field)
        else:
            j = rng.randrange(local_count)
            order_field = b"$16\r\norder-%010d\r\n" % (next_order * connections + index)
            next_order += 1
            qty = 2 if next_order % LARGE_ORDER_EVERY == 0 else 1
            orders[j] += 1
            if CANCEL_BELOW <= draw < DEDUCT_BELOW:
                sold[j] += qty
                kinds["deduct"] += 1
                p.add(b"*4\r\n$10\r\nSKU.DEDUCT\r\n%b%b$1\r\n%d\r\n" %
                      (keys[j], order_field, qty))
            else:
                reserved[j] += qty
                open_orders[j] += 1
                still_open.append((j, order_field, qty))
                kinds["reserve"] += 1
                p.add(b"*4\r\n$11\r\nSKU.RESERVE\r\n%b%b$1\r\n%d\r\n" %
                      (keys[j], order_field, qty))
    p.drain()
    expected = {}
    for i in sample:
        j = (i - index) // connections
        expected[i] = {"on_hand": STOCK_UNITS - sold[j], "reserved": reserved[j], "sold": sold[j],
                       "available": STOCK_UNITS - sold[j] - SAFETY_UNITS - reserved[j],
                       "open_orders": open_orders[j], "orders": orders[j]}
    out.put((dict(kinds), expected))


def run_workers(target, count, args_for):
    procs = [multiprocessing.Process(target=target, args=args_for(w)) for w in range(count)]
    for p in procs:
        p.start()
    return procs


def info(conn, section="persistence"):
    text = conn.call("INFO", section).decode()
    return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)


def cpu_seconds(pid):
    """User + system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid):
    """VmHWM and VmRSS of a process in MiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmHWM:", "VmRSS:")):
                name, kb = line.split()[:2]
                out[name.rstrip(":")] = int(kb) / 1024
    return out


def dir_mib(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total / (1 << 20)


def sku_states(conn, sample):
    """SKU.GET of each sampled SKU (as a dict) and SKU.CHECK's reply."""
    conn.send(b"".join(b"*2\r\n$7\r\nSKU.GET\r\n%b*2\r\n$9\r\nSKU.CHECK\r\n%b" %
                       (bulk(sku_name(i)), bulk(sku_name(i))) for i in sample))
    states = {}
    for i in sample:
        reply, check = conn.read(), conn.read()
        if isinstance(reply, RespError) or reply is None:
            states[i] = (None, f"SKU.GET -> {reply!r}")
            continue
        fields = dict(zip(reply[0::2], reply[1::2])) if isinstance(reply, list) else reply
        states[i] = ({k.decode(): v for k, v in fields.items()}, check)
    return states


def verify(states, expected, before=None):
    """Problems found (strings): counters against the bench's own, CHECK, and (after a restart)
    equality with the replies before the kill."""
    problems = []
    for i, (fields, check) in states.items():
        if fields is None:
            problems.append(f"{sku_name(i).decode()}: {check}")
            continue
        if check != "OK":
            problems.append(f"{sku_name(i).decode()}: SKU.CHECK -> {check!r}")
        for name in SKU_GET_FIELDS:
            if fields.get(name) != expected[i][name]:
                problems.append(f"{sku_name(i).decode()}: {name} is {fields.get(name)!r}, "
                                f"expected {expected[i][name]}")
        if before is not None and fields != before[i][0]:
            problems.append(f"{sku_name(i).decode()}: SKU.GET differs from before the kill: "
                            f"{before[i][0]} -> {fields}")
    return problems


def recovery_log_lines(log_path):
    with open(log_path, errors="replace") as f:
        text = f.read()
    last_start = text.rfind(" starting, pid=")
    return [line.split(" * ", 1)[-1] for line in text[last_start:].splitlines()
            if re.search(r"Snapshot: loaded|Write-ahead log: replayed", line)]


def restart_and_measure(srv, skus, sample, expected, before, digest):
    srv.kill9()
    started = time.monotonic()
    srv.restart()
    ping_s = time.monotonic() - started
    cpu_s = cpu_seconds(srv.proc.pid)
    memory = proc_status(srv.proc.pid)
    with RespConnection(srv.port, timeout_s=SOCKET_TIMEOUT_S) as conn:
        persistence = info(conn)
        lines = recovery_log_lines(srv.log_path)
        for line in lines:
            print(f"  log: {line}")
        print(f"  exec -> PING answered: {ping_s:.2f} s (CPU {cpu_s:.2f} s); INFO: recovery_ms "
              f"{persistence['recovery_ms']}, recovery_snapshot_keys "
              f"{persistence['recovery_snapshot_keys']}, recovery_replayed_records "
              f"{persistence['recovery_replayed_records']}; peak RSS {memory['VmHWM']:.0f} MiB")
        replay = [re.search(r"replayed (\d+) records .* in (\d+) ms", line) for line in lines]
        replay = [m for m in replay if m]
        if replay and int(replay[0].group(1)) > 0:
            rate = int(replay[0].group(1)) / max(int(replay[0].group(2)), 1) * 1000
            print(f"  replay rate: {rate:,.0f} records/s")
        states = sku_states(conn, sample)
        keys = conn.call("DBSIZE")
        digest_after = conn.call("DEBUG", "DIGEST")
    problems = verify(states, expected, before)
    if keys != skus:
        problems.append(f"DBSIZE is {keys}, expected {skus}")
    if digest_after != digest:
        problems.append(f"DEBUG DIGEST is {digest_after!r}, {digest!r} before the kill")
    totals = {f: (sum(states[i][0][f] for i in sample if states[i][0]),
                  sum(expected[i][f] for i in sample)) for f in ("reserved", "sold")}
    print(f"  check: {len(sample)} sampled SKUs; over the sample reserved {totals['reserved'][0]:,}"
          f" (the bench counted {totals['reserved'][1]:,}), sold {totals['sold'][0]:,} (counted "
          f"{totals['sold'][1]:,}); DBSIZE {keys:,}; DEBUG DIGEST "
          f"{'as before the kill' if digest_after == digest else 'DIFFERS'}; "
          f"{len(problems)} problems")
    return ping_s, problems


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--skus", type=int, default=1_000_000)
    p.add_argument("--records", type=int, default=10_000_000)
    p.add_argument("--connections", type=int, default=2,
                   help="sockets (one process each) for the load and the sale")
    p.add_argument("--sample", type=int, default=1000, help="SKUs checked before and after")
    p.add_argument("--restarts", type=int, default=1)
    p.add_argument("--no-final-snapshot", dest="final_snapshot", action="store_false",
                   help="skip the last step (SAVE after the sale, restart from it)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--shards", type=int, default=2)
    p.add_argument("--server", default=os.path.join(here, "..", "build", "stockd"))
    args = p.parse_args()
    sample = sorted(random.Random(args.seed).sample(range(args.skus), min(args.sample, args.skus)))

    srv = Server(binary=args.server, new_session=True, startup_timeout_s=RESTART_TIMEOUT_S,
                 stockd_args=["--shards", str(args.shards), "--appendfsync", "no",
                              "--auto-aof-rewrite-percentage", "0"])
    srv.start()
    failed = False
    try:
        print(f"stockd {' '.join(srv.command[1:])}")
        print(f"directory {srv.dir} (kept only with STOCKD_KEEP_DIR=1)")
        started = time.monotonic()
        for proc in run_workers(load_worker, args.connections, lambda w: (srv.port, w, args.connections, args.skus)):
            proc.join()
            if proc.exitcode != 0:
                raise RuntimeError("a load worker failed")
        print(f"load: {args.skus:,} SKUs in {time.monotonic() - started:.1f} s")
        with RespConnection(srv.port, timeout_s=SOCKET_TIMEOUT_S) as conn:
            started = time.monotonic()
            reply = conn.call("SAVE")
            save_s = time.monotonic() - started
            if reply != "OK":
                raise RuntimeError(f"SAVE -> {reply!r}")
            persistence = info(conn)
            snapshot_lsn = int(persistence["snapshot_lsn"])
            wal_bytes_at_save = int(persistence["wal_bytes"])
            print(f"SAVE: {save_s * 1000:.0f} ms (snapshot_last_pause_us "
                  f"{persistence['snapshot_last_pause_us']}, snapshot_last_write_ms "
                  f"{persistence['snapshot_last_write_ms']}, snapshot_keys "
                  f"{persistence['snapshot_keys']}, snapshot_bytes "
                  f"{int(persistence['snapshot_bytes']):,})")

        out = multiprocessing.Queue()
        per_worker = [len(range(w, args.records, args.connections))
                      for w in range(args.connections)]
        started = time.monotonic()
        procs = run_workers(sale_worker, args.connections, lambda w: (
            srv.port, w, args.connections, args.skus, per_worker[w], args.seed,
            [i for i in sample if i % args.connections == w], out))
        kinds, expected = collections.Counter(), {}
        for _ in procs:
            k, e = out.get()
            kinds.update(k)
            expected.update(e)
        for proc in procs:
            proc.join()
            if proc.exitcode != 0:
                raise RuntimeError("a sale worker failed")
        sale_s = time.monotonic() - started
        print(f"sale: {args.records:,} writes in {sale_s:.1f} s ({args.records / sale_s:,.0f}/s): "
              + ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())))

        with RespConnection(srv.port, timeout_s=SOCKET_TIMEOUT_S) as conn:
            last_lsn = snapshot_lsn + args.records
            deadline = time.monotonic() + WRITER_WAIT_S_MAX
            while int(info(conn)["wal_written_lsn"]) < last_lsn:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the log writer did not reach LSN {last_lsn}")
                time.sleep(0.1)
            persistence = info(conn)
            written = int(persistence["wal_written_lsn"]) - snapshot_lsn
            record_bytes = (int(persistence["wal_bytes"]) - wal_bytes_at_save) / max(written, 1)
            print(f"log after the snapshot: {written:,} records "
                  f"(wal_written_lsn {persistence['wal_written_lsn']} - snapshot_lsn "
                  f"{snapshot_lsn}), {record_bytes:.1f} bytes each; {dir_mib(srv.dir):,.0f} MiB "
                  f"on disk; server peak RSS "
                  f"{proc_status(srv.proc.pid)['VmHWM']:.0f} MiB")
            if written != args.records:
                raise RuntimeError(f"expected {args.records} records after the snapshot")
            before = sku_states(conn, sample)
            digest = conn.call("DEBUG", "DIGEST")
        problems = verify(before, expected)
        print(f"before the kill: {len(sample)} sampled SKUs, {len(problems)} problems")

        for n in range(args.restarts):
            print(f"kill -9 and restart {n + 1}:")
            ping_s, found = restart_and_measure(srv, args.skus, sample, expected, before,
                                                digest)
            problems += found
        if args.final_snapshot:
            # The same state from a snapshot alone: what recovery costs when snapshots keep the
            # log short (the default auto-aof-rewrite settings).
            with RespConnection(srv.port, timeout_s=SOCKET_TIMEOUT_S) as conn:
                started = time.monotonic()
                reply = conn.call("SAVE")
                save_s = time.monotonic() - started
                persistence = info(conn)
            print(f"SAVE after the sale: {reply} in {save_s * 1000:.0f} ms (snapshot_last_pause_us "
                  f"{persistence['snapshot_last_pause_us']}, snapshot_bytes "
                  f"{int(persistence['snapshot_bytes']):,})")
            print("kill -9 and restart from that snapshot alone:")
            ping_s, found = restart_and_measure(srv, args.skus, sample, expected, before,
                                                digest)
            problems += found
        for problem in problems[:20]:
            print(f"PROBLEM {problem}")
        failed = bool(problems)
    finally:
        srv.stop()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    main()
