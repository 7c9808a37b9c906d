#!/usr/bin/python3
"""Acknowledged writes survive kill -9 (issue 5, docs/wal.md).

Several client threads, each on its own connection, do INCR on their own counter, HSET of new
fields, and SKU.RESERVE / SKU.COMMIT of new orders on one shared SKU, recording every reply they
were given. At a random moment the server gets SIGKILL; it is restarted on the same directory,
replays its write-ahead log, and the test checks that every acknowledged write is there with its
exact effect:

- a counter is its last acknowledged value, or one more when an INCR was in flight at the kill;
- every acknowledged HSET field holds its value;
- every acknowledged reservation is reserved or committed (committed if the commit was
  acknowledged), and the SKU's sold counter equals the orders found committed;
- SKU.CHECK passes.

Then the threads go on with new ids, for a few cycles. Runs with the default durability
(appendonly yes, appendfsync always): a reply is sent only once its record is synced.

    /usr/bin/python3 tests/integration/test_crash.py [-v]

Debian's /usr/bin/python3 with python3-redis. Skipped against redis-server (SKU commands).
"""

import os
import random
import sys
import threading
import time
import unittest

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server import Server  # noqa: E402

THREADS = 4
CYCLES = 4
SHARDS = 2
# Each cycle runs the load for a random time in this range (seconds) before the kill.
RUN_S_MIN, RUN_S_MAX = 0.5, 2.0
SOCKET_TIMEOUT_S = 10
SKU = "sku:crash"
SKU_STOCK = 1_000_000_000
# Reservations outlive the test: expiry is not what this test is about.
RESERVE_TTL_MS = 3_600_000
SEED = int(os.environ.get("STOCKD_CRASH_SEED", random.randrange(1 << 32)))


class Worker(threading.Thread):
    """One client. Its state survives the cycles: what it was acknowledged so far."""

    def __init__(self, index):
        super().__init__(daemon=True)
        self.index = index
        self.rng = random.Random(SEED * 1000 + index)
        self.counter_key = f"c:{index}"
        self.hash_key = f"h:{index}"
        self.counter = 0           # last acknowledged INCR value
        self.counter_pending = False  # an INCR was sent and not answered
        self.fields = {}           # acknowledged HSET fields
        self.orders = {}           # order id -> "reserved" | "committed" (acknowledged)
        self.pending_order = None  # (order id, what was in flight: "reserve" | "commit")
        self.next_id = 0
        self.port = None
        self.errors = []

    def run(self):
        conn = redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True,
                           socket_timeout=SOCKET_TIMEOUT_S, single_connection_client=True)
        try:
            while True:
                self.step(conn)
        except (redis.ConnectionError, redis.TimeoutError, ConnectionError, OSError):
            return  # the kill
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append(repr(e))

    def step(self, conn):
        op = self.rng.random()
        self.next_id += 1
        n = self.next_id
        if op < 0.35:
            self.counter_pending = True
            v = conn.incr(self.counter_key)
            self.counter_pending = False
            if v != self.counter + 1:
                self.errors.append(f"INCR {self.counter_key} gave {v} after {self.counter}")
            self.counter = v
        elif op < 0.65:
            field = f"f{n}"
            conn.hset(self.hash_key, field, f"v{n}")
            self.fields[field] = f"v{n}"
        else:
            order = f"o:{self.index}:{n}"
            self.pending_order = (order, "reserve")
            reply = conn.execute_command("SKU.RESERVE", SKU, order, 1, "TTL", RESERVE_TTL_MS)
            if not isinstance(reply, list) or reply[3] != "reserved":
                self.errors.append(f"SKU.RESERVE {order}: {reply!r}")
            self.orders[order] = "reserved"
            if self.rng.random() < 0.7:
                self.pending_order = (order, "commit")
                reply = conn.execute_command("SKU.COMMIT", SKU, order)
                if not isinstance(reply, list) or reply[3] != "committed":
                    self.errors.append(f"SKU.COMMIT {order}: {reply!r}")
                self.orders[order] = "committed"
            self.pending_order = None


def as_map(reply):
    return dict(zip(reply[::2], reply[1::2]))


class CrashTest(unittest.TestCase):
    def test_acknowledged_writes_survive_kill9(self):
        print(f"seed {SEED}", file=sys.stderr)
        srv = Server(stockd_args=["--shards", str(SHARDS)])
        if srv.is_redis:
            self.skipTest("SKU commands are stockd's")
        srv.start()
        try:
            self.run_cycles(srv)
        finally:
            srv.stop()

    def connect(self, srv):
        return redis.Redis(host=srv.host, port=srv.port, decode_responses=True,
                           socket_timeout=SOCKET_TIMEOUT_S, single_connection_client=True)

    def run_cycles(self, srv):
        rng = random.Random(SEED)
        conn = self.connect(srv)
        conn.execute_command("SKU.SET", SKU, SKU_STOCK)
        workers = [Worker(i) for i in range(THREADS)]
        acked_total = 0
        for cycle in range(CYCLES):
            threads = []
            for w in workers:
                fresh = Worker(w.index)
                fresh.__dict__.update({k: v for k, v in w.__dict__.items()
                                       if k in ("rng", "counter", "fields", "orders", "next_id")})
                fresh.port = srv.port
                threads.append(fresh)
            for t in threads:
                t.start()
            time.sleep(rng.uniform(RUN_S_MIN, RUN_S_MAX))
            srv.kill9()
            for t in threads:
                t.join(timeout=SOCKET_TIMEOUT_S + 5)
                self.assertFalse(t.is_alive(), "a client thread did not notice the kill")
                self.assertEqual(t.errors, [], f"worker {t.index}")
            workers = threads
            srv.restart()
            conn = self.connect(srv)
            acked_total += self.check(conn, workers)
            # The next cycle goes on from what the server now holds.
            for w in workers:
                w.counter = int(conn.get(w.counter_key) or 0)
                if w.pending_order is not None:
                    order = w.pending_order[0]
                    state = as_map(conn.execute_command("SKU.ORDER", SKU, order))["state"] \
                        if self.order_exists(conn, order) else None
                    if state is not None:
                        w.orders[order] = state
                    w.pending_order = None
        self.assertGreater(acked_total, 0, "no write was acknowledged at all")

    @staticmethod
    def order_exists(conn, order):
        try:
            conn.execute_command("SKU.ORDER", SKU, order)
            return True
        except redis.ResponseError:
            return False

    def check(self, conn, workers):
        acked = 0
        committed = 0
        pipe = conn.pipeline(transaction=False)
        for w in workers:
            value = int(conn.get(w.counter_key) or 0)
            allowed = {w.counter, w.counter + 1} if w.counter_pending else {w.counter}
            self.assertIn(value, allowed, f"{w.counter_key}: acknowledged {w.counter}")
            acked += w.counter
            stored = conn.hgetall(w.hash_key)
            for field, v in w.fields.items():
                self.assertEqual(stored.get(field), v, f"{w.hash_key} {field}")
            acked += len(w.fields)
            for order in w.orders:
                pipe.execute_command("SKU.ORDER", SKU, order)
        replies = pipe.execute(raise_on_error=False)
        expected = [(o, s) for w in workers for o, s in w.orders.items()]
        for (order, state), reply in zip(expected, replies):
            self.assertIsInstance(reply, list, f"{order}: acknowledged {state}, now {reply!r}")
            now = as_map(reply)["state"]
            if state == "committed":
                self.assertEqual(now, "committed", order)
            else:
                self.assertIn(now, ("reserved", "committed"), order)
            committed += now == "committed"
            acked += 1
        # The in-flight orders may or may not have landed; count the ones that did.
        for w in workers:
            if w.pending_order and w.pending_order[0] not in w.orders:
                if self.order_exists(conn, w.pending_order[0]):
                    rec = as_map(conn.execute_command("SKU.ORDER", SKU, w.pending_order[0]))
                    committed += rec["state"] == "committed"
        sku = as_map(conn.execute_command("SKU.GET", SKU))
        self.assertEqual(sku["sold"], committed, "sold = orders found committed")
        check = conn.execute_command("SKU.CHECK", SKU)
        self.assertEqual(check, "OK", f"SKU.CHECK: {check!r}")
        print(f"  recovered: {acked} acknowledged writes checked", file=sys.stderr)
        return acked


if __name__ == "__main__":
    unittest.main()
