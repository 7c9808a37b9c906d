#!/usr/bin/python3
"""The chaos tool: a primary and a standby stockd under a mixed load while faults hit them.

    /usr/bin/python3 tools/chaos.py [--cycles N] [--seconds S] [--mode sync|async] [--seed N] [-v]

It starts a primary and a standby on loopback (fresh directories, free ports, appendonly yes,
appendfsync always, repl-ack sync unless --mode async). The standby follows the primary through a
fault-injecting proxy (tools/chaos_proxy.py); the clients reach the primary through another one,
which stands for the address a load balancer or virtual IP gives them, so that a failover can
drop their connections and point them at the new primary.

Each cycle runs the load for --seconds while it cuts and delays the replication link, kills and
restarts the standby, and pauses the primary for less than the detection threshold; then it kills
the primary (kill -9) or pauses it (SIGSTOP) for good. A monitor PINGs the primary every 50 ms
and declares it dead after 250 ms without an answer; then the tool promotes the standby
(REPLICAOF NO ONE), restarts the old primary as the new primary's standby (or, after a pause,
resumes it, checks that it refuses writes as stale, and makes it a standby with REPLICAOF),
points the clients at the new primary, and measures the failover time: from the fault to the
first write the new primary acknowledges.

After every cycle, with the load stopped, it checks what the clients were told against what the
new primary holds (docs/replication.md, "The chaos tool"): every acknowledged write is there with
its exact effect (the one command each client had in flight may or may not have landed), no SKU
is oversold, no order was reserved, deducted or ended twice (journal), and the standby, once
caught up, has the primary's DEBUG DIGEST. It exits non-zero on a lost acknowledged write
(sync mode only: async mode reports losses), an oversell, a duplicate, a digest mismatch, an
unexpected reply or a stale primary that did not refuse writes.

Standard library and Debian's python3-redis only; run with /usr/bin/python3.
"""

import argparse
import math
import os
import random
import signal
import statistics
import sys
import threading
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "integration"))
from server import HOST, Server, ServerError, is_redis_binary, ping_reply  # noqa: E402
from chaos_proxy import Proxy  # noqa: E402

CLIENTS = 4
SKIPPED = 77  # ctest's SKIP_RETURN_CODE for this tool
SHARDS = 2
# Longer than repl-sync-timeout (10 s): a sync write held up by a standby that is away is
# answered (-NOREPLICAS) before the client gives up on it.
CLIENT_TIMEOUT_S = 15
ADMIN_TIMEOUT_S = 5
RESTART_TIMEOUT_S = 60

# Failure detection.
PING_INTERVAL_S = 0.05
PING_TIMEOUT_S = 0.1
DEAD_AFTER_S = 0.25
# A pause this long is below the threshold: it must not cause a failover.
SHORT_PAUSE_S = (0.05, 0.12)
# How long a fault may take to be detected before the tool gives up on the run.
DETECT_TIMEOUT_S = 5
FAILOVER_WRITE_TIMEOUT_S = 30
# After SIGCONT, how long a former primary may take to learn that it is stale.
FENCE_TIMEOUT_S = 3
CATCH_UP_TIMEOUT_S = 30

# The load's keys. Reservations never expire (TTL 0) and admissions hold for a day: expiry is
# not what this tool tests, and it would make the exact checks depend on timing.
SKU_BIG = "sku:chaos:big"           # plenty of stock: reserve, then commit or cancel
SKU_SCARCE = "sku:chaos:scarce"     # little stock: deductions compete and run out
SKU_MULTI = ("sku:chaos:m1", "sku:chaos:m2")  # multi-SKU orders (sometimes with scarce too)
SKU_ADM = "sku:chaos:adm"           # admissions
BIG_STOCK = 10**12
SCARCE_STOCK = 200
RESTOCK_QTY = 3
HOLD_MS = 86_400_000
ADMISSIONS_LIVE_MAX = 20
PROBE_KEY = "chaos:probe"           # the failover probe's writes; not in any client's records
FENCE_KEY = "chaos:fence"           # writes sent to a resumed former primary
STOCK = {SKU_BIG: BIG_STOCK, SKU_SCARCE: SCARCE_STOCK,
         SKU_MULTI[0]: BIG_STOCK, SKU_MULTI[1]: BIG_STOCK, SKU_ADM: BIG_STOCK}
JOURNAL_PAGE = 10_000
ORDER_PAGE = 1000
# All orders are checked again every this many checks (and at the end); in between only the
# ones that changed since the last check.
ORDERS_RECHECK = 10
# Errors that mean "not done, nothing changed": the client tries something else later.
REFUSALS = ("NOREPLICAS", "READONLY", "LOADING")

CONNECTION_LOST = (redis.ConnectionError, redis.TimeoutError, ConnectionError, OSError)
STARTED = time.monotonic()
VERBOSE = False


def log(text):
    print(f"[{time.monotonic() - STARTED:7.2f}] {text}", file=sys.stderr, flush=True)


def vlog(text):
    if VERBOSE:
        log(text)


def connect(port, timeout_s=ADMIN_TIMEOUT_S):
    return redis.Redis(host=HOST, port=port, decode_responses=True, socket_timeout=timeout_s,
                       socket_connect_timeout=timeout_s, single_connection_client=True)


def as_map(reply):
    return dict(zip(reply[::2], reply[1::2]))


def error_code(e):
    # redis-py turns a -READONLY reply into ReadOnlyError and drops the code from its text.
    if isinstance(e, redis.exceptions.ReadOnlyError):
        return "READONLY"
    return str(e).split(" ", 1)[0]


# ---------------------------------------------------------------------------------------------
# What each client was told.

class Order:
    """One order id as a client knows it. lines: ((sku, qty), ...); state: the last acknowledged
    state ("reserved", "committed", "cancelled", "failed"), None before the first reply."""

    def __init__(self, order_id, kind, lines):
        self.id = order_id
        self.kind = kind
        self.lines = lines
        self.state = None


class ClientRecord:
    """One client's acknowledged history; it outlives the client threads (one per cycle)."""

    def __init__(self, index, seed):
        self.index = index
        self.rng = random.Random(seed * 1000 + index)
        self.next_id = 0
        self.counter_key = f"chaos:c:{index}"
        self.hash_key = f"chaos:h:{index}"
        self.counter = 0        # last acknowledged INCR value
        self.fields = {}        # acknowledged HSET fields
        self.orders = {}        # order id -> Order, acknowledged at least once
        self.changed = set()    # order ids acknowledged since the last check
        self.live = {}          # user -> ticket: acknowledged SKU.ENTER, not left
        self.left = []          # users whose SKU.LEAVE answered 1 since the last check
        self.restocked = 0      # units of acknowledged restocks
        # The command in flight, if any: a tuple naming it (see Client.step). Its outcome is
        # unknown when the connection drops; the check settles it.
        self.pending = None
        self.ops = 0            # commands sent
        self.acked = 0          # writes acknowledged
        self.refused = 0        # writes refused without effect (REFUSALS)
        self.soldout = 0        # orders refused for lack of stock (recorded as failed)
        self.errors = []        # replies that make no sense

    def new_id(self):
        self.next_id += 1
        return f"{self.index}:{self.next_id}"


class Client(threading.Thread):
    """Drives the mixed load on one connection until `stop` is set or the connection drops."""

    def __init__(self, record, port, stop):
        super().__init__(daemon=True, name=f"client-{record.index}")
        self.r = record
        self.port = port
        self.stop = stop

    def run(self):
        try:
            conn = connect(self.port, CLIENT_TIMEOUT_S)
            while not self.stop.is_set():
                self.step(conn)
                self.r.pending = None
        except CONNECTION_LOST:
            return  # a fault or a failover: pending stays as it was
        except Exception as e:  # noqa: BLE001 - reported
            self.r.errors.append(f"client {self.r.index}: {e!r}")

    def call(self, *args):
        """Sends one write; returns its reply, or None when it was refused (REFUSALS)."""
        self.r.ops += 1
        try:
            reply = self.conn.execute_command(*args)
        except redis.ResponseError as e:
            if error_code(e) in REFUSALS:
                self.r.refused += 1
                time.sleep(0.05)
                return None
            raise
        self.r.acked += 1
        return reply

    def step(self, conn):
        self.conn = conn
        r = self.r
        op = r.rng.random()
        n = r.new_id()
        if op < 0.12:
            r.pending = ("incr",)
            v = self.call("INCR", r.counter_key)
            if v is not None:
                if v != r.counter + 1:
                    r.errors.append(f"INCR {r.counter_key} gave {v} after {r.counter}")
                r.counter = v
        elif op < 0.24:
            field, value = f"f{n}", f"v{n}"
            r.pending = ("hset", field)
            if self.call("HSET", r.hash_key, field, value) is not None:
                r.fields[field] = value
        elif op < 0.46:
            order = Order(f"o:{n}", "reserve", ((SKU_BIG, r.rng.randint(1, 3)),))
            if self.order(order, "reserved", "SKU.RESERVE", SKU_BIG, order.id,
                          order.lines[0][1], "TTL", 0):
                self.finish(order)
        elif op < 0.60:
            order = Order(f"d:{n}", "deduct", ((SKU_SCARCE, 1),))
            self.order(order, "committed", "SKU.DEDUCT", SKU_SCARCE, order.id, 1)
        elif op < 0.76:
            skus = SKU_MULTI + ((SKU_SCARCE,) if r.rng.random() < 0.3 else ())
            order = Order(f"m:{n}", "mreserve", tuple((s, r.rng.randint(1, 2)) for s in skus))
            args = [a for line in order.lines for a in line]
            if self.order(order, "reserved", "SKU.MRESERVE", order.id, "TTL", 0, *args):
                self.finish(order)
        elif op < 0.97:
            self.admission(f"u:{n}")
        else:
            rid = f"r:{n}"
            r.pending = ("restock", rid)
            if self.call("SKU.RESTOCK", SKU_SCARCE, RESTOCK_QTY, "ID", rid) is not None:
                r.restocked += RESTOCK_QTY

    def order(self, order, state, *args):
        """Sends one order command meant to leave `order` in `state`. Returns True when it did;
        a refusal for lack of stock records the order as failed."""
        r = self.r
        r.pending = ("order", order, state)
        try:
            reply = self.call(*args)
        except redis.ResponseError as e:
            if error_code(e) == "SOLDOUT" and order.state is None:
                r.soldout += 1
                r.acked += 1  # a refusal the server remembers is an outcome too
                order.state = "failed"
                self.record(order)
                return False
            raise
        if reply is None:
            return False
        # SKU.M* answer an array of the orders, one per SKU; the others the order itself.
        orders = reply if args[0].startswith("SKU.M") else [reply]
        states = {as_map(o)["state"] for o in orders}
        if states != {state}:
            r.errors.append(f"{' '.join(map(str, args))}: states {states}, expected {state}")
        order.state = state
        self.record(order)
        return True

    def record(self, order):
        self.r.orders[order.id] = order
        self.r.changed.add(order.id)

    def finish(self, order):
        """Commits, cancels or leaves a reservation, as a shopper would."""
        x = self.r.rng.random()
        if x < 0.25:
            return
        multi = order.kind == "mreserve"
        skus = [s for s, _ in order.lines]
        if x < 0.75:
            args = ("SKU.MCOMMIT", order.id, *skus) if multi else ("SKU.COMMIT", skus[0], order.id)
            self.order(order, "committed", *args)
        else:
            args = ("SKU.MCANCEL", order.id, *skus) if multi else ("SKU.CANCEL", skus[0], order.id)
            self.order(order, "cancelled", *args)

    def admission(self, user):
        r = self.r
        if len(r.live) >= ADMISSIONS_LIVE_MAX or (r.live and r.rng.random() < 0.3):
            user = r.rng.choice(sorted(r.live))
            r.pending = ("leave", user)
            left = self.call("SKU.LEAVE", SKU_ADM, user)
            if left is not None:
                if left != 1:
                    r.errors.append(f"SKU.LEAVE {SKU_ADM} {user} of a live admission: {left!r}")
                del r.live[user]
                r.left.append(user)
            return
        r.pending = ("enter", user)
        reply = self.call("SKU.ENTER", SKU_ADM, user)
        if reply is not None:
            r.live[user] = as_map(reply)["ticket"]


# ---------------------------------------------------------------------------------------------
# The checks.

class Findings:
    """What the checks found, accumulated over the run."""

    def __init__(self):
        self.checked = 0        # acknowledged effects checked (the last check: all of them)
        self.lost = []          # (writes, what): acknowledged effects missing
        self.wrong = []         # effects nobody was told about, or other than told
        self.oversold = []      # SKUs selling more than their stock; SKU.CHECK failures
        self.duplicates = []    # orders reserved, deducted or ended twice (journal)
        self.digests = []       # (primary digest, standby digest) per comparison
        self.stale = []         # a former primary that did not refuse writes

    def lost_writes(self):
        return sum(n for n, _ in self.lost)

    def digest_mismatches(self):
        return [d for d in self.digests if d[0] != d[1]]


class Journal:
    """What one SKU's journal said so far, read incrementally (ids are contiguous)."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.last = None        # the last record read: (id, op, order, time_ms)
        self.starts = {}        # order -> reserve/deduct records
        self.ends = {}          # order -> commit/deduct/cancel/expire records
        self.sold = 0           # qty over commit and deduct records
        self.partial = False    # records before the first one read were already dropped


def sig(record):
    return (record["id"], record["op"], record["order"], record["time_ms"])


class Checker:
    def __init__(self, records, mode, findings):
        self.records = records
        self.mode = mode
        self.f = findings
        self.checks = 0
        self.restock_lost = 0   # restocked units found missing (async): no longer expected
        self.journals = {sku: Journal() for sku in STOCK}
        self.reported_duplicates = set()

    def lose(self, what, writes=1):
        self.f.lost.append((writes, what))
        vlog(f"LOST {what}")

    def wrong(self, what):
        self.f.wrong.append(what)
        log(f"WRONG {what}")

    def check(self, primary, standby, final=False):
        """Checks everything the clients were told against `primary` (a connection; the load is
        stopped), settles the commands that were in flight, then compares `standby` (None when
        there is none) with it. Returns the number of acknowledged effects checked."""
        self.checks += 1
        for r in self.records:
            for e in r.errors:
                self.wrong(f"client {r.index} was told: {e}")
            r.errors = []
        full = final or self.mode == "async" or self.checks % ORDERS_RECHECK == 0
        checked = self.check_counters(primary)
        checked += self.check_orders(primary, full)
        checked += self.check_admissions(primary)
        self.check_skus(primary)
        for r in self.records:
            r.pending = None
        self.check_journals(primary)
        if standby is not None:
            self.check_standby(primary, standby)
        self.f.checked = checked
        return checked

    def check_counters(self, conn):
        checked = 0
        for r in self.records:
            value = int(conn.get(r.counter_key) or 0)
            top = r.counter + (r.pending == ("incr",))
            if value < r.counter:
                self.lose(f"{r.counter_key}: acknowledged {r.counter}, found {value}",
                          r.counter - value)
            elif value > top:
                self.wrong(f"{r.counter_key}: acknowledged {r.counter}, found {value}")
            r.counter = value
            stored = conn.hgetall(r.hash_key)
            for field, v in list(r.fields.items()):
                if field not in stored:
                    self.lose(f"{r.hash_key} {field}: acknowledged, missing")
                    del r.fields[field]
                elif stored[field] != v:
                    self.wrong(f"{r.hash_key} {field}: acknowledged {v}, found {stored[field]}")
            pending = r.pending[1] if r.pending and r.pending[0] == "hset" else None
            for field in set(stored) - set(r.fields):
                if field == pending:
                    r.fields[field] = stored[field]
                else:
                    self.wrong(f"{r.hash_key} {field}: never written, found {stored[field]}")
            checked += r.counter + len(r.fields)
        return checked

    def check_orders(self, conn, full):
        """Every acknowledged order in its acknowledged state, on every SKU it names; the one in
        flight in its old state or its new one. Adopts what the server holds."""
        todo = []  # (record, order, allowed states besides the acknowledged one)
        for r in self.records:
            ids = set(r.orders) if full else set(r.changed)
            flight = r.pending[1] if r.pending and r.pending[0] == "order" else None
            for oid in ids:
                todo.append((r, r.orders[oid], set()))
            if flight is not None:
                maybe = {r.pending[2]} | ({"failed"} if flight.state is None else set())
                if flight.id in ids:
                    todo = [t for t in todo if t[1] is not flight]
                todo.append((r, flight, maybe))
            r.changed = set()
        for i in range(0, len(todo), ORDER_PAGE):
            page = todo[i:i + ORDER_PAGE]
            pipe = conn.pipeline(transaction=False)
            for _, order, _ in page:
                for sku, _ in order.lines:
                    pipe.execute_command("SKU.ORDER", sku, order.id)
            replies = iter(pipe.execute(raise_on_error=False))
            for r, order, maybe in page:
                states = []
                for sku, _ in order.lines:
                    reply = next(replies)
                    if isinstance(reply, list):
                        states.append(as_map(reply)["state"])
                    elif error_code(reply) in ("NOORDER", "NOSKU"):
                        states.append(None)
                    else:
                        raise RuntimeError(f"SKU.ORDER {sku} {order.id}: {reply}")
                self.settle_order(r, order, states, maybe)
        return sum(len(r.orders) for r in self.records) if full else len(todo)

    # Where an acknowledged state may go when acknowledged writes are lost (async failover).
    LOSSES = {"reserved": {None}, "failed": {None},
              "committed": {None, "reserved"}, "cancelled": {None, "reserved"}}

    def settle_order(self, r, order, states, maybe):
        if len(set(states)) > 1:
            self.wrong(f"order {order.id} on {[s for s, _ in order.lines]}: states {states} "
                       "(a multi-SKU order half done)")
        found = states[0]
        if found != order.state and found not in maybe:
            told = order.state or "never acknowledged"
            if found in self.LOSSES.get(order.state, ()):
                self.lose(f"order {order.id}: acknowledged {told}, found {found}")
            else:
                self.wrong(f"order {order.id}: acknowledged {told}, found {found}")
        order.state = found
        if found is None:
            r.orders.pop(order.id, None)
        else:
            r.orders[order.id] = order

    def check_admissions(self, conn):
        """As test_crash.py: entering again answers the live admission with its ticket (a new
        ticket means it was lost); leaving again answers 0 for a user that left."""
        checked = 0
        for r in self.records:
            leaving = r.pending[1] if r.pending and r.pending[0] == "leave" else None
            pipe = conn.pipeline(transaction=False)
            for user in r.left:
                pipe.execute_command("SKU.LEAVE", SKU_ADM, user)
            live = [(u, t) for u, t in r.live.items() if u != leaving]
            for user, _ in live:
                pipe.execute_command("SKU.ENTER", SKU_ADM, user)
            replies = pipe.execute()
            for user, reply in zip(r.left, replies):
                if reply != 0:
                    self.lose(f"{SKU_ADM} {user}: left (acknowledged), found admitted")
            for (user, ticket), reply in zip(live, replies[len(r.left):]):
                got = as_map(reply)["ticket"]
                if got != ticket:
                    self.lose(f"{SKU_ADM} {user}: admitted with ticket {ticket}, found none "
                              f"(entering again gave ticket {got})")
                    r.live[user] = got
            checked += len(r.left) + len(r.live)
            r.left = []
            # The one in flight landed or not; make it so.
            if r.pending and r.pending[0] == "enter":
                user = r.pending[1]
                r.live[user] = as_map(conn.execute_command("SKU.ENTER", SKU_ADM, user))["ticket"]
            if leaving is not None:
                conn.execute_command("SKU.LEAVE", SKU_ADM, leaving)
                r.live.pop(leaving, None)
        return checked

    def check_skus(self, conn):
        """Each SKU's counters against the orders as settled above, stock conservation, and
        SKU.CHECK's full recount."""
        reserved = {sku: 0 for sku in STOCK}
        sold = dict(reserved)
        orders = dict(reserved)
        for r in self.records:
            for order in r.orders.values():
                for sku, qty in order.lines:
                    orders[sku] += 1
                    reserved[sku] += qty if order.state == "reserved" else 0
                    sold[sku] += qty if order.state == "committed" else 0
        restocked = sum(r.restocked for r in self.records) - self.restock_lost
        stock = dict(STOCK)
        for sku in STOCK:
            try:
                got = as_map(conn.execute_command("SKU.GET", sku))
            except redis.ResponseError as e:
                self.lose(f"SKU.GET {sku}: {e}")
                continue
            if sku == SKU_SCARCE:
                restocked = self.settle_restocks(conn, got, restocked)
                stock[sku] += restocked
            for name, want in (("reserved", reserved[sku]), ("sold", sold[sku]),
                               ("orders", orders[sku])):
                if got[name] != want:
                    self.wrong(f"{sku}: {name} {got[name]}, the orders say {want}")
            if got["available"] < 0 or got["on_hand"] < 0 or got["sold"] > stock[sku]:
                self.f.oversold.append(f"{sku}: {got} with {stock[sku]} units ever stocked")
            if got["on_hand"] + got["sold"] != stock[sku] and sku != SKU_SCARCE:
                self.wrong(f"{sku}: on_hand {got['on_hand']} + sold {got['sold']} != "
                           f"{stock[sku]} stocked")
            if sku == SKU_ADM:
                live = sum(len(r.live) for r in self.records)
                if got["admissions"] != live or got["held"] != live:
                    self.wrong(f"{sku}: admissions {got['admissions']}, held {got['held']}, "
                               f"live admissions acknowledged {live}")
            check = conn.execute_command("SKU.CHECK", sku)
            if check != "OK":
                self.f.oversold.append(f"SKU.CHECK {sku}: {check}")

    def settle_restocks(self, conn, got, restocked):
        """The scarce SKU's stock is conserved: on_hand + sold = initial + restocks. The restocks
        in flight may have landed; retrying them (idempotent by id) makes sure they did."""
        flying = [r for r in self.records if r.pending and r.pending[0] == "restock"]
        extra = got["on_hand"] + got["sold"] - SCARCE_STOCK - restocked
        if extra < 0:
            self.lose(f"{SKU_SCARCE}: {-extra} restocked units (acknowledged) missing",
                      -extra // RESTOCK_QTY)
            self.restock_lost += -extra
        elif extra > RESTOCK_QTY * len(flying) or extra % RESTOCK_QTY:
            self.wrong(f"{SKU_SCARCE}: {extra} units more than restocked")
        for r in flying:
            conn.execute_command("SKU.RESTOCK", SKU_SCARCE, RESTOCK_QTY, "ID", r.pending[1])
            r.restocked += RESTOCK_QTY
        if flying:
            got.update(as_map(conn.execute_command("SKU.GET", SKU_SCARCE)))
        return sum(r.restocked for r in self.records) - self.restock_lost

    def check_journals(self, conn):
        """No order reserved or deducted twice, none ended twice, and sold = the units of the
        commit and deduct records."""
        for sku, j in self.journals.items():
            if j.last is not None:
                again = conn.execute_command("SKU.JOURNAL", sku, "AFTER", j.last[0] - 1, "COUNT", 1)
                if not again or sig(as_map(again[0])) != j.last:
                    # The log forked here (an async failover lost its end): read it again.
                    vlog(f"{sku}: journal changed under record {j.last}; reading it again")
                    j.reset()
            while True:
                after = j.last[0] if j.last else 0
                page = conn.execute_command("SKU.JOURNAL", sku, "AFTER", after, "COUNT",
                                            JOURNAL_PAGE)
                if not page:
                    break
                for rec in map(as_map, page):
                    if rec["id"] != after + 1:
                        j.partial = True  # dropped by retention (kSkuJournalRecordsMax)
                    after = rec["id"]
                    op, order = rec["op"], rec["order"]
                    if op in ("reserve", "deduct"):
                        j.starts[order] = j.starts.get(order, 0) + 1
                    if op in ("commit", "deduct", "cancel", "expire"):
                        j.ends[order] = j.ends.get(order, 0) + 1
                    if op in ("commit", "deduct"):
                        j.sold += rec["qty"]
                    j.last = sig(rec)
            for what, counts in (("started", j.starts), ("ended", j.ends)):
                for order, n in counts.items():
                    if n > 1 and (sku, order, what) not in self.reported_duplicates:
                        self.reported_duplicates.add((sku, order, what))
                        self.f.duplicates.append(f"{sku} order {order}: {what} {n} times")
            sold = as_map(conn.execute_command("SKU.GET", sku))["sold"]
            if not j.partial and j.sold != sold:
                self.f.duplicates.append(f"{sku}: sold {sold}, journal's commits and "
                                         f"deductions {j.sold}")

    def check_standby(self, primary, standby):
        """Waits until the standby has every record the primary logged, then compares their
        DEBUG DIGEST, and runs SKU.CHECK on the standby too."""
        deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
        while True:
            offset = int(primary.info("replication")["master_repl_offset"])
            role = standby.execute_command("ROLE")
            if role[0] == "slave" and role[3] == "connected" and int(role[4]) == offset:
                break
            if time.monotonic() > deadline:
                self.wrong(f"the standby did not catch up in {CATCH_UP_TIMEOUT_S} s: primary at "
                           f"{offset}, standby's ROLE {role}")
                return
            time.sleep(0.05)
        digests = (primary.execute_command("DEBUG", "DIGEST"),
                   standby.execute_command("DEBUG", "DIGEST"))
        self.f.digests.append(digests)
        if digests[0] != digests[1]:
            log(f"DIGEST MISMATCH at offset {offset}: primary {digests[0]}, standby {digests[1]}")
        for sku in STOCK:
            check = standby.execute_command("SKU.CHECK", sku)
            if check != "OK":
                self.f.oversold.append(f"SKU.CHECK {sku} on the standby: {check}")


# ---------------------------------------------------------------------------------------------
# The servers, the proxies and the faults.

class Node:
    """One stockd on its own directory, which it keeps across restarts and role changes."""

    def __init__(self, name, binary, base_args):
        self.name = name
        self.base_args = base_args
        self.srv = Server(binary=binary, stockd_args=base_args,
                          startup_timeout_s=RESTART_TIMEOUT_S)
        self.paused = False

    def __repr__(self):
        return f"{self.name}(:{self.srv.port})"

    @property
    def port(self):
        return self.srv.port

    def _args(self, replicaof_port):
        follow = ["--replicaof", HOST, str(replicaof_port)] if replicaof_port else []
        self.srv.stockd_args = self.base_args + follow

    def start(self, replicaof_port=None):
        self._args(replicaof_port)
        self.srv.start()

    def restart(self, replicaof_port=None):
        """Starts it again on its directory (on a new port), after kill9."""
        self._args(replicaof_port)
        self.srv.restart()

    def alive(self):
        return self.srv.alive()

    def kill9(self):
        self.srv.kill9()
        self.paused = False

    def signal(self, sig):
        self.srv.proc.send_signal(sig)
        self.paused = sig == signal.SIGSTOP

    def stop(self):
        if self.paused and self.alive():
            self.signal(signal.SIGCONT)
        self.srv.stop()


class Monitor(threading.Thread):
    """PINGs the primary every PING_INTERVAL_S (a new connection each time, PING_TIMEOUT_S to
    answer) and declares it dead after DEAD_AFTER_S without an answer."""

    def __init__(self):
        super().__init__(daemon=True, name="monitor")
        self.port = None
        self.last_ok = time.monotonic()
        self.dead = threading.Event()

    def watch(self, port):
        self.last_ok = time.monotonic()
        self.dead.clear()
        self.port = port

    def unwatch(self):
        self.port = None

    def run(self):
        while True:
            port = self.port
            if port is not None:
                ok = ping_reply(port, timeout_s=PING_TIMEOUT_S) is not None
                now = time.monotonic()
                if ok:
                    self.last_ok = now
                elif now - self.last_ok >= DEAD_AFTER_S and port == self.port:
                    self.dead.set()
            time.sleep(PING_INTERVAL_S)


class FenceResult:
    def __init__(self):
        self.fenced_ms = None   # SIGCONT to the first -READONLY ... stale
        self.accepted = 0       # writes the former primary acknowledged before that
        self.reply = None


class Cluster:
    """A primary, a standby (None with --standalone) and the two proxies: `link` between the
    standby and the primary, `front` between the clients and the primary."""

    def __init__(self, opts):
        self.opts = opts
        base = ["--shards", str(SHARDS), "--appendonly", "yes", "--appendfsync", "always"]
        if not opts.standalone:
            base += ["--repl-ack", opts.mode]
        self.primary = Node("A", opts.stockd, base)
        self.standby = None if opts.standalone else Node("B", opts.stockd, base)
        self.link = None
        self.front = None
        self.monitor = Monitor()
        self.failover_ms = []
        self.detect_ms = []     # the fault to the monitor declaring the primary dead
        self.fences = []
        self.faults = {}

    def start(self):
        self.primary.start()
        if self.standby is not None:
            self.link = Proxy(self.primary.port, "link", vlog)
            self.standby.start(self.link.port)
        self.front = Proxy(self.primary.port, "front", vlog)
        self.monitor.start()
        self.monitor.watch(self.primary.port)
        log(f"primary {self.primary}, standby {self.standby} through {self.link}, "
            f"clients through {self.front}; dirs {self.primary.srv.dir} "
            f"{self.standby.srv.dir if self.standby else ''}")

    def close(self):
        self.monitor.unwatch()
        for proxy in (self.front, self.link):
            if proxy is not None:
                proxy.close()
        for node in (self.primary, self.standby):
            if node is not None and node.srv.proc is not None:
                node.stop()

    def count(self, fault):
        self.faults[fault] = self.faults.get(fault, 0) + 1

    # Faults that must not cost a failover.

    def minor_fault(self, rng):
        choices = ["primary-short-pause"]
        if self.standby is not None:
            choices += ["link-cut", "link-delay", "standby-kill9"]
        fault = rng.choice(choices)
        self.count(fault)
        if fault == "link-cut":
            self.link.cut(rng.uniform(0.1, 1.0))
            time.sleep(max(0.0, self.link.cut_until - time.monotonic()))
        elif fault == "link-delay":
            self.link.delay(rng.randint(5, 50))
            time.sleep(rng.uniform(0.3, 1.0))
            self.link.resume()
        elif fault == "standby-kill9":
            vlog(f"kill -9 standby {self.standby}")
            self.standby.kill9()
            time.sleep(rng.uniform(0, 0.3))
            self.standby.restart(self.link.port)
            vlog(f"standby restarted: {self.standby}")
        else:
            pause = rng.uniform(*SHORT_PAUSE_S)
            vlog(f"SIGSTOP primary {self.primary} for {pause * 1000:.0f} ms")
            self.primary.signal(signal.SIGSTOP)
            time.sleep(pause)
            self.primary.signal(signal.SIGCONT)

    # The primary fails.

    def fail_primary(self, how):
        """kill -9 or SIGSTOP the primary; returns the time of the fault."""
        self.count(f"primary-{how}")
        vlog(f"{how} primary {self.primary}")
        t0 = time.monotonic()
        if how == "kill9":
            self.primary.kill9()
        else:
            self.primary.signal(signal.SIGSTOP)
        return t0

    def wait_detected(self, t0):
        if not self.monitor.dead.wait(DETECT_TIMEOUT_S):
            raise RuntimeError(f"the primary's failure went unnoticed for {DETECT_TIMEOUT_S} s")
        self.detect_ms.append((time.monotonic() - t0) * 1000)
        vlog(f"primary declared dead {self.detect_ms[-1]:.0f} ms after the fault")

    def failover(self, t0):
        """Promotes the standby, makes the old primary its standby and points the clients at
        it. Returns the failover time in ms: from t0 to the first write the new primary
        acknowledged."""
        self.monitor.unwatch()
        # The clients' commands in flight now have unknown outcomes, as in a real failover.
        self.front.cut(math.inf)
        old, new = self.primary, self.standby
        if new is None:
            return self.restart_in_place(t0)
        connect(new.port).execute_command("REPLICAOF", "NO", "ONE")
        vlog(f"promoted {new}")
        new_link = Proxy(new.port, "link", vlog)
        probe = Probe(new.port, t0)
        probe.start()
        if not old.alive():
            old.restart(new_link.port)
        else:
            if old.paused:
                old.signal(signal.SIGCONT)
            self.fences.append(self.check_fenced(old))
            connect(old.port).execute_command("REPLICAOF", HOST, str(new_link.port))
        vlog(f"{old} follows {new} through {new_link}")
        # Only now: the promoted standby tells its former primary through the old link that
        # it is stale.
        self.link.close()
        self.link = new_link
        self.primary, self.standby = new, old
        probe.join()
        if probe.ms is None:
            raise RuntimeError(f"the new primary acknowledged no write in "
                               f"{FAILOVER_WRITE_TIMEOUT_S} s: {probe.error}")
        self.reopen_front()
        return probe.ms

    def restart_in_place(self, t0):
        """--standalone: the primary comes back on its own directory."""
        if self.primary.paused:
            self.primary.signal(signal.SIGCONT)
        else:
            self.primary.restart()
        probe = Probe(self.primary.port, t0)
        probe.run()
        self.reopen_front()
        return probe.ms

    def reopen_front(self):
        self.front.retarget(self.primary.port)
        self.front.resume()
        self.monitor.watch(self.primary.port)

    def check_fenced(self, node):
        """A former primary resumed after its standby was promoted must refuse writes as
        stale (docs/replication.md, "Epochs"): writes until it does, for FENCE_TIMEOUT_S."""
        fence = FenceResult()
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < FENCE_TIMEOUT_S:
            n += 1
            try:
                connect(node.port, timeout_s=1).set(FENCE_KEY, n)
                fence.accepted += 1
            except redis.ResponseError as e:
                fence.reply = str(e)
                if error_code(e) == "READONLY" and "stale" in str(e):
                    fence.fenced_ms = (time.monotonic() - start) * 1000
                    break
            except CONNECTION_LOST:
                pass  # in sync mode the write waits for a standby that will never ack it
            time.sleep(0.02)
        vlog(f"{node} resumed: fenced after {fence.fenced_ms} ms, {fence.accepted} write(s) "
             f"accepted first, last reply {fence.reply!r}")
        return fence


class Probe(threading.Thread):
    """Writes to the new primary until one write is acknowledged; ms: from t0 to then."""

    def __init__(self, port, t0):
        super().__init__(daemon=True, name="probe")
        self.port = port
        self.t0 = t0
        self.ms = None
        self.error = None

    def run(self):
        deadline = time.monotonic() + FAILOVER_WRITE_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                connect(self.port, timeout_s=2).incr(PROBE_KEY)
                self.ms = (time.monotonic() - self.t0) * 1000
                return
            except (redis.ResponseError, *CONNECTION_LOST) as e:
                self.error = e
                time.sleep(0.01)


# ---------------------------------------------------------------------------------------------
# The run.

def setup(port):
    conn = connect(port)
    for sku, stock in STOCK.items():
        conn.execute_command("SKU.SET", sku, stock, "HOLD", HOLD_MS, "TTL", 0)


def run_cycle(cluster, records, rng, opts, cycle):
    """The load for opts.seconds with minor faults, then the primary fails and the standby
    takes over. Returns once the clients have stopped."""
    stop = threading.Event()
    clients = [Client(r, cluster.front.port, stop) for r in records]
    for c in clients:
        c.start()
    end = time.monotonic() + opts.seconds
    t0 = None
    while True:
        time.sleep(max(0.0, min(rng.uniform(0.2, 0.8), end - time.monotonic())))
        if cluster.monitor.dead.is_set():
            # Not a fault of ours (or a short pause that was not so short): fail over anyway.
            cluster.count("primary-unresponsive")
            t0 = cluster.monitor.last_ok
            log(f"cycle {cycle}: the primary stopped answering PING by itself")
            break
        if time.monotonic() >= end:
            break
        cluster.minor_fault(rng)
    if t0 is None:
        t0 = cluster.fail_primary("kill9" if cycle % 2 else "sigstop")
    cluster.wait_detected(t0)
    ms = cluster.failover(t0)
    cluster.failover_ms.append(ms)
    stop.set()
    for c in clients:
        c.join(CLIENT_TIMEOUT_S + 5)
        if c.is_alive():
            raise RuntimeError(f"{c.name} did not stop")
    return ms


def check(cluster, checker, final=False):
    primary = connect(cluster.primary.port, timeout_s=30)
    standby = connect(cluster.standby.port, timeout_s=30) if cluster.standby else None
    try:
        return checker.check(primary, standby, final)
    finally:
        for conn in (primary, standby):
            if conn is not None:
                conn.close()


def ms_summary(values):
    if not values:
        return "none"
    return (f"min {min(values):.0f} ms, median {statistics.median(values):.0f} ms, "
            f"max {max(values):.0f} ms")


def report(opts, cluster, records, f, cycles_done, elapsed):
    """Prints the report; returns the exit code."""
    lost_fails = opts.mode == "sync" and f.lost
    mismatches = f.digest_mismatches()
    stale = [x for x in cluster.fences if x.fenced_ms is None or
             (opts.mode == "sync" and x.accepted)]
    print(f"chaos: {opts.mode} mode, seed {opts.seed}, {cycles_done}/{opts.cycles} cycles in "
          f"{elapsed:.0f} s")
    print("  faults:             " +
          (", ".join(f"{k} {v}" for k, v in sorted(cluster.faults.items())) or "none"))
    print(f"  operations:         {sum(r.ops for r in records)} sent, "
          f"{sum(r.acked for r in records)} acknowledged, "
          f"{sum(r.refused for r in records)} refused (NOREPLICAS/READONLY), "
          f"{sum(r.soldout for r in records)} orders SOLDOUT")
    print(f"  checked at the end: {f.checked} acknowledged effects")
    print(f"  lost:               {f.lost_writes()} acknowledged writes" + (" (async mode: reported, not a failure)"
                                                     if f.lost and opts.mode == "async" else ""))
    print(f"  wrong:              {len(f.wrong)}")
    print(f"  oversold:           {len(f.oversold)}")
    print(f"  duplicates:         {len(f.duplicates)}")
    if cluster.standby is not None:
        print(f"  digests:            {len(f.digests) - len(mismatches)}/{len(f.digests)} match")
    print(f"  failover:           {len(cluster.failover_ms)}: {ms_summary(cluster.failover_ms)}")
    print(f"    of which detection: {ms_summary(cluster.detect_ms)}")
    if cluster.fences:
        fenced = [x.fenced_ms for x in cluster.fences if x.fenced_ms is not None]
        accepted = sum(x.accepted for x in cluster.fences)
        print(f"  stale primaries:    {len(fenced)}/{len(cluster.fences)} refused writes after "
              f"SIGCONT ({ms_summary(fenced)}), {accepted} write(s) accepted before that")
    lost = [f"{what} ({n} writes)" if n > 1 else what for n, what in f.lost]
    for name, items in (("LOST", lost), ("WRONG", f.wrong), ("OVERSOLD", f.oversold),
                        ("DUPLICATE", f.duplicates)):
        for item in items[:20]:
            print(f"  {name}: {item}")
        if len(items) > 20:
            print(f"  {name}: ... {len(items) - 20} more")
    for x in stale:
        print(f"  STALE: a resumed former primary: fenced after {x.fenced_ms} ms, "
              f"{x.accepted} write(s) accepted, last reply {x.reply!r}")
    failed = bool(lost_fails or f.wrong or f.oversold or f.duplicates or mismatches or stale)
    print("chaos: FAILED" if failed else "chaos: OK")
    return 1 if failed else 0


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cycles", type=int, default=5, help="failovers to run (default 5)")
    p.add_argument("--seconds", type=float, default=4.0,
                   help="load and minor faults per cycle before the primary fails (default 4)")
    p.add_argument("--seed", type=int, default=None, help="default: random (printed)")
    p.add_argument("--stockd", default=os.path.join(REPO_ROOT, "build", "stockd"),
                   help="the server binary (default: build/stockd of this repository)")
    p.add_argument("--mode", choices=("sync", "async"), default="sync",
                   help="repl-ack: sync (default) must lose nothing acknowledged")
    p.add_argument("--clients", type=int, default=CLIENTS, help=f"default {CLIENTS}")
    p.add_argument("--keep-dirs", action="store_true",
                   help="keep the servers' directories and logs (printed at the start)")
    p.add_argument("--standalone", action="store_true",
                   help="no standby: the primary is restarted (or resumed) in place")
    p.add_argument("-v", "--verbose", action="store_true", help="log every fault and loss")
    opts = p.parse_args(argv)
    if opts.seed is None:
        opts.seed = random.randrange(1 << 32)
    # Servers start in their own directories: a relative path would not be found from there.
    opts.stockd = os.path.abspath(opts.stockd)
    return opts


def main(argv=None):
    global VERBOSE
    opts = parse_args(argv)
    VERBOSE = opts.verbose
    if is_redis_binary(opts.stockd):
        print("chaos: skipped: SKU commands and this replication are stockd's, not redis-server's")
        return SKIPPED
    if opts.keep_dirs:
        os.environ["STOCKD_KEEP_DIR"] = "1"  # server.py keeps each server's directory

    # SIGTERM (a CI timeout) cleans up as Ctrl-C does.
    def terminate(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, terminate)

    rng = random.Random(opts.seed)
    records = [ClientRecord(i, opts.seed) for i in range(opts.clients)]
    findings = Findings()
    checker = Checker(records, opts.mode, findings)
    cluster = Cluster(opts)
    started = time.monotonic()
    cycles_done = 0
    try:
        cluster.start()
        setup(cluster.primary.port)
        check(cluster, checker)  # the standby has the SKUs before the first failover
        for cycle in range(1, opts.cycles + 1):
            ms = run_cycle(cluster, records, rng, opts, cycle)
            cycles_done = cycle
            checked = check(cluster, checker, final=cycle == opts.cycles)
            log(f"cycle {cycle}/{opts.cycles}: failover {ms:.0f} ms; {checked} acknowledged "
                f"effects checked; lost {findings.lost_writes()}, wrong {len(findings.wrong)}, "
                f"oversold {len(findings.oversold)}, duplicates {len(findings.duplicates)}, "
                f"digest mismatches {len(findings.digest_mismatches())}")
    except (ServerError, RuntimeError, redis.RedisError, OSError) as e:
        findings.wrong.append(f"the run stopped: {e!r}")
        log(f"the run stopped: {e}")
        for node in (cluster.primary, cluster.standby):
            if node is not None:
                log(f"--- {node.name} log tail ---\n{node.srv.log_tail()[-3000:]}")
    except KeyboardInterrupt:
        log("interrupted")
        findings.wrong.append("interrupted")
    finally:
        cluster.close()
    return report(opts, cluster, records, findings, cycles_done, time.monotonic() - started)


if __name__ == "__main__":
    sys.exit(main())
