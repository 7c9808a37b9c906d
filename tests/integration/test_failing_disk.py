#!/usr/bin/python3
"""Fail-stop on a failing disk, over a real process (issue 5; docs/wal.md, "Fail-stop").

stockd runs with RLIMIT_FSIZE at FSIZE_LIMIT_BYTES and SIGXFSZ ignored, so the write that would
take RocksDB's log file (<dir>/wal/*.log, the only file that grows here: the memtable never fills,
so nothing is flushed) past the limit fails with EFBIG, as a full disk fails a write. No switch or
hook in stockd: the limit is the kernel's. The log is first padded with large SETs to just under
the limit, then WORKERS clients write unique keys (INCR of their own counter, SET of new keys,
SKU.RESERVE of new orders) and record every reply until their writes fail. Then:

- while stockd still runs: writes answer "-MISCONF Errors writing to the WAL: ..."; INFO
  persistence says aof_last_write_status:err; reads (GET, SKU.GET, SKU.ORDER) are served; a write
  refused with MISCONF changed nothing; the server log says it was the WAL write that failed;
- a client whose write was in flight when the disk failed got no success reply: its connection
  was closed or it got an error (a success reply would be an acknowledged write, checked below);
- stockd is stopped and restarted without the limit on the same directory: every acknowledged
  write is there with its exact effect, no refused write is, an in-flight one may or may not be
  (its client was told nothing), the SKU's reserved count is the orders found, SKU.CHECK is OK,
  and the server takes writes again.

    /usr/bin/python3 tests/integration/test_failing_disk.py [-v]

Debian's /usr/bin/python3. Skipped against redis-server (SKU commands, the WAL).
"""

import glob
import os
import resource
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resp import ConnectionClosed, RespConnection, RespError  # noqa: E402
from server import Server  # noqa: E402

SHARDS = 2
WORKERS = 4
# The largest file stockd may write. Far above its own log and RocksDB's info log, MANIFEST and
# OPTIONS files (a few KiB each); far below the 64 MiB memtable, so no SST is written.
FSIZE_LIMIT_BYTES = 4 << 20
# Padding: SETs of this many bytes until RocksDB's log file is within PAD_MARGIN_BYTES of the
# limit, so that the workers' small writes reach it in a few hundred records. The margin exceeds
# one padding record, so the padding itself never crosses the limit.
PAD_VALUE_BYTES = 32 << 10
PAD_MARGIN_BYTES = 64 << 10
PAD_WRITES_MAX = FSIZE_LIMIT_BYTES // PAD_VALUE_BYTES
# The workers must see their writes fail within this; they take well under a second.
LOAD_S_MAX = 20.0
SOCKET_TIMEOUT_S = 10.0
SKU = "sku:disk"
SKU_STOCK = 1_000_000
RESERVE_TTL_MS = 3_600_000  # reservations outlive the test: expiry is not what it is about
MISCONF = "MISCONF Errors writing to the WAL: "


def limit_file_size():
    """preexec_fn: the server's writes past FSIZE_LIMIT_BYTES fail with EFBIG instead of killing
    it with SIGXFSZ."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE_LIMIT_BYTES, FSIZE_LIMIT_BYTES))


def rocksdb_log_bytes(data_dir):
    sizes = [os.path.getsize(p) for p in glob.glob(os.path.join(data_dir, "wal", "*.log"))]
    return max(sizes, default=0)


def pad_value(i):
    return (b"%08d" % i) * (PAD_VALUE_BYTES // 8)


def is_ok_order(reply):
    return isinstance(reply, list) and len(reply) > 3 and reply[3] == b"reserved"


class Worker(threading.Thread):
    """One client on its own connection, writing until a write is not acknowledged."""

    def __init__(self, index, port):
        super().__init__(daemon=True)
        self.index = index
        self.port = port
        self.counter_key = f"c:{index}"
        self.counter = 0     # acknowledged INCRs
        self.sets = {}       # acknowledged SETs: key -> value
        self.orders = []     # acknowledged reservations
        self.refused = None  # (kind, key): the write answered MISCONF
        self.in_flight = None  # (kind, key, value): the write whose connection was closed
        self.errors = []

    def run(self):
        try:
            with RespConnection(self.port, timeout_s=SOCKET_TIMEOUT_S) as conn:
                n = 0
                while self.refused is None and self.in_flight is None:
                    n += 1
                    self.step(conn, n)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append(repr(e))

    def step(self, conn, n):
        kind = ("incr", "set", "reserve")[n % 3]
        if kind == "incr":
            key, value, command = self.counter_key, None, ["INCR", self.counter_key]
        elif kind == "set":
            key, value = f"s:{self.index}:{n}", f"v{n}".encode()
            command = ["SET", key, value]
        else:
            key, value = f"o:{self.index}:{n}", None
            command = ["SKU.RESERVE", SKU, key, 1, "TTL", RESERVE_TTL_MS]
        try:
            reply = conn.call(*command)
        except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
            self.in_flight = (kind, key, value)
            return
        if isinstance(reply, RespError):
            if not reply.startswith(MISCONF):
                self.errors.append(f"{command}: {reply}")
            self.refused = (kind, key)
        elif kind == "incr" and reply == self.counter + 1:
            self.counter = reply
        elif kind == "set" and reply == "OK":
            self.sets[key] = value
        elif kind == "reserve" and is_ok_order(reply):
            self.orders.append(key)
        else:
            self.errors.append(f"{command}: unexpected reply {reply!r}")


def as_map(reply):
    return dict(zip(reply[::2], reply[1::2]))


class FailingDiskTest(unittest.TestCase):
    def test_fail_stop_when_the_log_cannot_be_written(self):
        srv = Server(stockd_args=["--shards", str(SHARDS)], preexec_fn=limit_file_size)
        if srv.is_redis:
            self.skipTest("stockd's write-ahead log")
        srv.start()
        try:
            pads = self.pad(srv)
            workers = self.load_until_failure(srv)
            self.check_failed_server(srv, workers)
            self.assertEqual(srv.terminate(), 0, srv.log_tail())
            srv.preexec_fn = None  # a healthy disk again
            srv.restart()
            self.check_recovered(srv, workers, pads)
        finally:
            srv.stop()

    def pad(self, srv):
        with RespConnection(srv.port, timeout_s=SOCKET_TIMEOUT_S) as conn:
            self.assertEqual(conn.call("SKU.SET", SKU, SKU_STOCK), "OK")
            pads = 0
            while rocksdb_log_bytes(srv.dir) < FSIZE_LIMIT_BYTES - PAD_MARGIN_BYTES:
                self.assertLess(pads, PAD_WRITES_MAX, "RocksDB's log file does not grow")
                self.assertEqual(conn.call("SET", f"pad:{pads}", pad_value(pads)), "OK")
                pads += 1
        return pads

    def load_until_failure(self, srv):
        workers = [Worker(i, srv.port) for i in range(WORKERS)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=LOAD_S_MAX)
            self.assertFalse(w.is_alive(), f"worker {w.index} never saw its writes fail; "
                                           f"log file {rocksdb_log_bytes(srv.dir)} bytes")
            self.assertEqual(w.errors, [], f"worker {w.index}")
        acked = sum(w.counter + len(w.sets) + len(w.orders) for w in workers)
        closed = sum(w.in_flight is not None for w in workers)
        print(f"  {acked} writes acknowledged; at the failure {closed} in flight (closed), "
              f"{WORKERS - closed} refused", file=sys.stderr)
        self.assertGreater(acked, 0, "no write was acknowledged before the failure")
        return workers

    def check_failed_server(self, srv, workers):
        with RespConnection(srv.port, timeout_s=SOCKET_TIMEOUT_S) as conn:
            for command in (["SET", "after", "1"], ["INCR", "c:0"],
                            ["SKU.RESERVE", SKU, "o:after", 1]):
                reply = conn.call(*command)
                self.assertIsInstance(reply, RespError, command)
                self.assertTrue(reply.startswith(MISCONF), reply)
                self.assertTrue(reply.endswith("Writes are refused; reads are served."), reply)
            info = conn.call("INFO", "persistence").decode()
            self.assertIn("aof_last_write_status:err\r\n", info)
            # Reads are served, and no refused write changed anything.
            self.assertIsNone(conn.call("GET", "after"))
            self.assertIsInstance(conn.call("SKU.GET", SKU), list)
            for w in workers:
                for key, value in list(w.sets.items())[-3:]:
                    self.assertEqual(conn.call("GET", key), value)
                if w.orders:
                    self.assertTrue(is_ok_order(conn.call("SKU.ORDER", SKU, w.orders[-1])))
                if w.refused:
                    self.check_absent(conn, w, w.refused[0], w.refused[1])
        with open(srv.log_path, "rb") as f:
            log = f.read().decode("utf-8", "replace")
        # It was RocksDB's log write that failed, on the file size limit.
        self.assertIn("Write-ahead log failed: writing a WAL batch: IO error:", log)
        self.assertIn("File too large", log)

    def check_absent(self, conn, w, kind, key):
        if kind == "incr":
            self.assertEqual(int(conn.call("GET", key) or 0), w.counter, f"{key}: refused INCR")
        elif kind == "set":
            self.assertIsNone(conn.call("GET", key), f"{key}: refused SET")
        else:
            self.assertIsInstance(conn.call("SKU.ORDER", SKU, key), RespError, key)

    def check_recovered(self, srv, workers, pads):
        with RespConnection(srv.port, timeout_s=SOCKET_TIMEOUT_S) as conn:
            for i in range(pads):
                self.assertEqual(conn.call("GET", f"pad:{i}"), pad_value(i), f"pad:{i}")
            found_orders = 0
            for w in workers:
                counter = int(conn.call("GET", w.counter_key) or 0)
                in_flight = w.in_flight[0] if w.in_flight else None
                allowed = {w.counter, w.counter + 1} if in_flight == "incr" else {w.counter}
                self.assertIn(counter, allowed, f"{w.counter_key}: acknowledged {w.counter}")
                for key, value in w.sets.items():
                    self.assertEqual(conn.call("GET", key), value, key)
                for order in w.orders:
                    self.assertTrue(is_ok_order(conn.call("SKU.ORDER", SKU, order)), order)
                found_orders += len(w.orders)
                if w.refused:
                    self.check_absent(conn, w, *w.refused)
                if in_flight == "set":
                    self.assertIn(conn.call("GET", w.in_flight[1]), (None, w.in_flight[2]))
                if in_flight == "reserve":
                    reply = conn.call("SKU.ORDER", SKU, w.in_flight[1])
                    found_orders += is_ok_order(reply)
            sku = as_map(conn.call("SKU.GET", SKU))
            self.assertEqual(sku[b"reserved"], found_orders, "reserved = the orders found")
            self.assertEqual(conn.call("SKU.CHECK", SKU), "OK")
            self.assertEqual(conn.call("SET", "after", "1"), "OK")  # a healthy log takes writes


if __name__ == "__main__":
    unittest.main()
