#!/usr/bin/python3
"""A concurrent flash sale against stockd, through redis-py over real sockets.

Thousands of simulated users on many connections buy one hot SKU with small stock (a per-user
limit, a short reservation TTL, a short admission hold) and three other SKUs that multi-SKU orders
span across both shards. Users pay, pay right at the deadline (racing the expiry), cancel, walk
away, retry with the same order id, double-click on two connections, deduct directly, enter the
admission queue and convert, and place SKU.MRESERVE orders that they commit, cancel or abandon.
A staff member restocks the hot SKU once, mid-sale, with retries; an "order service" drains the
admission queue with SKU.TAKE ... BLOCK. Every client logs what it was acknowledged.

Afterwards, once every TTL and hold has passed, the test checks that SKU.CHECK passes, that the
counters add up (available = on_hand - safety - reserved - held >= 0, nothing reserved or held,
initial stock + restocks = on_hand + sold, sold = the units the clients saw committed), that
SKU.ORDER agrees with every client's view of every order (committed, cancelled, expired, failed
and why, and a commit never after its deadline), that no user got past the limit, and that
SKU.JOURNAL, read page by page, is contiguous, replays to every counter snapshot it records,
ends each order at most once, and sums to sold.

Run (the server is $STOCKD_SERVER or build/stockd, see server.py):

    /usr/bin/python3 tests/integration/test_flash_sale.py [-v]

Knobs, all optional:

    STOCKD_FLASH_SALE_USERS    simulated users (default USERS_DEFAULT; e.g. 20000 for a soak run:
                               the sale then lasts about 0.8 * USERS / ARRIVALS_PER_S s)
    STOCKD_FLASH_SALE_THREADS  client threads, two connections each (default THREADS_DEFAULT)
    STOCKD_FLASH_SALE_SEED     seed of the users' behaviours (default: random; printed, so that a
                               failing mix can be rerun; timings still differ between runs)

Debian's /usr/bin/python3 with python3-redis; standard library otherwise. The SKU commands do not
exist in Redis, so this test is skipped against redis-server.
"""

import collections
import ctypes
import ctypes.util
import itertools
import os
import random
import sys
import threading
import time
import traceback
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis  # noqa: E402  (Debian's python3-redis)

from server import Server  # noqa: E402

USERS_DEFAULT = 4000
THREADS_DEFAULT = 64
USERS = int(os.environ.get("STOCKD_FLASH_SALE_USERS", USERS_DEFAULT))
THREADS = int(os.environ.get("STOCKD_FLASH_SALE_THREADS", THREADS_DEFAULT))
SEED = int(os.environ.get("STOCKD_FLASH_SALE_SEED", random.randrange(1 << 30)))
# The doors open on a burst: the first BURST_SHARE of the users all arrive at once, the others at
# ARRIVALS_PER_S, so the sale lasts about USERS * (1 - BURST_SHARE) / ARRIVALS_PER_S seconds.
BURST_SHARE = 0.2
ARRIVALS_PER_S = 800
SHARDS = 2

# The hot SKU: 100 sellable units (on_hand - safety), 2 per user, unpaid orders close after
# 500 ms and unconverted admissions after 400 ms, so both happen many times during the sale.
HOT = "flash:phone"
HOT_ON_HAND = 105
HOT_SAFETY = 5
HOT_LIMIT = 2
HOT_TTL_MS = 500
HOT_HOLD_MS = 400
HOT_RESTOCK = 20  # added once, mid-sale, by the staff thread (retried: counted once)
HOT_RESTOCK_ID = "restock-midsale"
# The other SKUs, for multi-SKU orders (and some single ones). The names are checked to land on
# both shards (see shard_of); BUNDLE_LIMITED has a per-user limit too.
BUNDLES = ["flash:case", "flash:charger", "flash:earbuds"]
BUNDLE_LIMITED = "flash:charger"
# Enough that multi-SKU orders keep succeeding through the sale (and through a longer run).
BUNDLE_ON_HAND = max(800, USERS // 5)
BUNDLE_LIMIT = 3
BUNDLE_TTL_MS = 600
TTL_MS_MAX = 800  # the longest TTL any order asks for
THINK_MS_MAX = 80  # a paying or cancelling user's pause after reserving
RACE_JITTER_MS = 25  # racing users commit at deadline +- this
SETTLE_MARGIN_S = 0.3  # after the last deadline, before the final checks
SETTLE_POLL_MAX_S = 3.0  # ... and how long the deadline timer may then take to expire it all
SOCKET_TIMEOUT_S = 15
JOURNAL_PAGE = 997  # SKU.JOURNAL COUNT: odd, so pages do not line up with anything
JOURNAL_RECORDS_MAX = 100_000  # kSkuJournalRecordsMax: older records are dropped
TAKE_COUNT = 64
TAKE_BLOCK_MS = 100
ORDER_CHECK_BATCH = 500  # SKU.ORDER commands per pipeline in the final check
ANOMALIES_SHOWN_MAX = 40
COVERAGE_USERS_MIN = 1000  # runs this big must reach every outcome and expire orders

# Behaviours and their weights.
BEHAVIOURS = {
    "pay": 20,         # reserve, think, commit
    "race": 12,        # reserve, commit at the deadline +- jitter
    "cancel": 10,      # reserve, think, cancel, cancel again, try to commit
    "abandon": 8,      # reserve and walk away
    "retry": 8,        # reserve twice, refused or not; different qty; commit twice; cancel
    "doubleclick": 7,  # reserve, then commit, each on two connections at once
    "deduct": 8,       # deduct (reserve + commit in one), retried, wrong kind, commit, cancel
    "admission": 11,   # enter the queue, then convert, leave or let the hold expire
    "multi": 12,       # MRESERVE over 2-3 SKUs (both shards), then MCOMMIT/MCANCEL/abandon/race
    "greedy": 4,       # three orders at once on two connections: the limit must hold
}
HOT_SHARE = 0.6  # single-SKU behaviours pick the hot SKU this often, otherwise a bundle SKU

# Error codes a client may be told (the first word of the error; redis-py strips only "ERR").
CODES = {"SOLDOUT", "FULL", "LIMIT", "CONFLICT", "EXPIRED", "CANCELLED", "COMMITTED", "NOORDER",
         "BADTOKEN", "NOSKU"}

SERVER = None


def setUpModule():
    global SERVER
    SERVER = Server(stockd_args=["--shards", str(SHARDS)])
    SERVER.start()


def tearDownModule():
    alive = SERVER.stop()
    if not alive:
        raise AssertionError(f"the server died during the test; log:\n{SERVER.final_log}")


def connect():
    return redis.Redis(host=SERVER.host, port=SERVER.port, decode_responses=True,
                       socket_timeout=SOCKET_TIMEOUT_S, single_connection_client=True)


def shard_of(key, shards):
    """The shard stockd puts `key` on (storage/key_hash.h: XXH3-64 of the key, no hash tag
    here, modulo the shard count), through the libxxhash stockd links; None without it."""
    name = ctypes.util.find_library("xxhash") or "libxxhash.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    lib.XXH3_64bits.restype = ctypes.c_uint64
    lib.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    data = key.encode()
    return lib.XXH3_64bits(data, len(data)) % shards


class Err:
    """An error reply: `code` is its first word ("ERR" for redis-py's stripped ERR errors)."""

    def __init__(self, text):
        self.text = text
        first = text.split(" ", 1)[0]
        self.code = first if first in CODES else "ERR"

    def __eq__(self, other):
        return isinstance(other, Err) and other.code == self.code

    def __repr__(self):
        return f"Err({self.text!r})"


def as_map(reply):
    """A RESP2 map (a flat key, value list) or a RESP3 one, as a dict."""
    if isinstance(reply, dict):
        return reply
    if not isinstance(reply, list) or len(reply) % 2:
        raise ValueError(f"not a map: {reply!r}")
    return dict(zip(reply[::2], reply[1::2]))


def is_order(reply):
    """Whether `reply` is an order record (SKU.ORDER's reply shape)."""
    if isinstance(reply, dict):
        return "order" in reply and "state" in reply
    return isinstance(reply, list) and len(reply) == 18 and reply[0] == "order"


def order_map(reply):
    """An order record as a dict; {} for anything else (an error, another shape)."""
    return as_map(reply) if is_order(reply) else {}


def call(conn, *args):
    """Runs one command; an error reply comes back as an Err instead of an exception."""
    try:
        return conn.execute_command(*args)
    except redis.ResponseError as e:
        return Err(str(e))


def call_both(conn_a, conn_b, *args):
    """Sends the same command on two connections before reading either reply: a double click."""
    ca, cb = conn_a.connection, conn_b.connection
    ca.send_command(*args)
    cb.send_command(*args)
    out = []
    for c in (ca, cb):
        try:
            out.append(c.read_response())
        except redis.ResponseError as e:
            out.append(Err(str(e)))
    return out


class Line:
    """One order on one SKU, as the client saw it. `outcome` is what the client was last told:
    open (reserved, then nothing more), committed, cancelled, expired or failed (`reason`)."""

    __slots__ = ("sku", "order", "qty", "user", "kind", "outcome", "reason", "deadline_ms",
                 "created_ms", "behaviour")

    def __init__(self, sku, order, qty, user, kind, behaviour):
        self.sku, self.order, self.qty, self.user, self.kind = sku, order, qty, user, kind
        self.behaviour = behaviour
        self.outcome = None
        self.reason = ""
        self.deadline_ms = 0
        self.created_ms = 0

    def __repr__(self):
        return (f"{self.behaviour} order {self.order!r} on {self.sku} qty {self.qty} user "
                f"{self.user!r} ({self.kind}): client saw {self.outcome} {self.reason}".rstrip())


class Sale:
    """What all threads share: the plan, the clock, and the end flag."""

    def __init__(self, users):
        self.users = users  # [(user id, behaviour)]
        self.next_user = itertools.count()
        self.start = time.monotonic()
        self.burst = int(len(users) * BURST_SHARE)
        self.window_s = (len(users) - self.burst) / ARRIVALS_PER_S
        self.stop = threading.Event()

    def take_user(self):
        i = next(self.next_user)
        if i >= len(self.users):
            return None
        delay = self.start + max(0, i - self.burst) / ARRIVALS_PER_S - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return self.users[i]


def sku_ttl(sku):
    return HOT_TTL_MS if sku == HOT else BUNDLE_TTL_MS


def sku_limited(sku):
    return sku in (HOT, BUNDLE_LIMITED)


class Shopper(threading.Thread):
    """One client thread with two connections, serving users one after another."""

    def __init__(self, index, sale):
        super().__init__(name=f"shopper-{index}", daemon=True)
        self.sale = sale
        self.rng = random.Random(SEED * 1000 + index)
        self.a = connect()
        self.b = connect()
        self.lines = []
        self.anomalies = []
        self.stats = collections.Counter()
        self.entered = {}  # user -> ticket, for users SKU.ENTER admitted

    # -- bookkeeping -------------------------------------------------------------------------

    def anomaly(self, what):
        self.anomalies.append(f"[{self.name}] {what}")

    def expect(self, cond, what):
        if not cond:
            self.anomaly(what)
        return cond

    def run(self):
        try:
            while not self.sale.stop.is_set():
                job = self.sale.take_user()
                if job is None:
                    break
                user, behaviour = job
                self.stats["users"] += 1
                getattr(self, "user_" + behaviour)(user)
        except Exception:  # a dropped connection, a malformed reply: fail, and stop the sale
            self.anomaly("exception:\n" + traceback.format_exc())
            self.sale.stop.set()
        finally:
            self.a.close()
            self.b.close()

    def pick_sku(self):
        return HOT if self.rng.random() < HOT_SHARE else self.rng.choice(BUNDLES)

    def pick_qty(self, sku):
        if sku == HOT:
            return 2 if self.rng.random() < 0.2 else 1
        return self.rng.randint(1, 3)

    def pick_user_arg(self, sku, user):
        # Unlimited SKUs are sometimes bought anonymously.
        return user if sku_limited(sku) or self.rng.random() < 0.8 else ""

    def think(self):
        time.sleep(self.rng.uniform(0, THINK_MS_MAX) / 1000)

    # -- single-SKU orders -------------------------------------------------------------------

    def reserve_args(self, line, ttl):
        args = ["SKU.RESERVE", line.sku, line.order, line.qty]
        if line.user:
            args += ["USER", line.user]
        if ttl is not None:
            args += ["TTL", ttl]
        return args

    def new_line(self, sku, order, qty, user, kind, behaviour):
        line = Line(sku, order, qty, user, kind, behaviour)
        self.lines.append(line)
        self.stats["orders"] += 1
        return line

    def check_record(self, line, rec, states, what):
        """Checks an order record's identity and state; returns it as a dict or None."""
        if not self.expect(is_order(rec), f"{what}: expected an order record, got {rec!r} "
                                          f"for {line}"):
            return None
        m = as_map(rec)
        ok = (m.get("order") == line.order and m.get("qty") == line.qty and
              m.get("user") == line.user and m.get("kind") == line.kind and
              m.get("state") in states)
        self.expect(ok, f"{what}: record {m} does not match {line} (states {states})")
        return m

    def on_reserved(self, line, reply, ttl, what="reserve"):
        """Logs a reserve/deduct reply: the order is open (or committed, for a deduct) or
        failed. Returns True when the order was made."""
        if isinstance(reply, Err):
            allowed = {"SOLDOUT", "LIMIT"} if sku_limited(line.sku) else {"SOLDOUT"}
            self.expect(reply.code in allowed, f"{what}: unexpected {reply!r} for {line}")
            line.outcome, line.reason = "failed", reply.code
            self.stats[f"refused_{reply.code.lower()}"] += 1
            return False
        state = "committed" if line.kind == "deduct" else "reserved"
        m = self.check_record(line, reply, (state,), what)
        if m is None:
            line.outcome = "unknown"
            return False
        line.created_ms = m["created_ms"]
        line.deadline_ms = m["deadline_ms"]
        if line.kind == "deduct":
            self.expect(m["deadline_ms"] == 0 and m["ended_ms"] == m["created_ms"],
                        f"{what}: a deduct has a deadline or no end: {m}")
            line.outcome = "committed"
            self.stats["deducted_units"] += line.qty
        else:
            want_ttl = sku_ttl(line.sku) if ttl is None else ttl
            self.expect(m["deadline_ms"] == m["created_ms"] + want_ttl and m["ended_ms"] == 0,
                        f"{what}: deadline {m['deadline_ms']} != created {m['created_ms']} + "
                        f"TTL {want_ttl}, or an end time, in {m}")
            line.outcome = "open"
        self.stats["orders_made"] += 1
        return True

    def on_commit(self, line, reply, what="commit"):
        """Logs a commit reply: committed before the deadline, or EXPIRED."""
        if isinstance(reply, Err):
            self.expect(reply.code == "EXPIRED", f"{what}: unexpected {reply!r} for {line}")
            if reply.code == "EXPIRED":
                line.outcome = "expired"
                self.stats["commit_expired"] += 1
            return False
        m = self.check_record(line, reply, ("committed",), what)
        if m is None:
            return False
        self.expect(m["ended_ms"] < m["deadline_ms"] or m["deadline_ms"] == 0,
                    f"{what}: committed at {m['ended_ms']}, not before its deadline "
                    f"{m['deadline_ms']}: {m}")
        line.outcome = "committed"
        self.stats["committed_units"] += line.qty
        return True

    def on_cancel(self, line, reply, what="cancel"):
        if isinstance(reply, Err):
            self.expect(reply.code == "EXPIRED", f"{what}: unexpected {reply!r} for {line}")
            if reply.code == "EXPIRED":
                line.outcome = "expired"
                self.stats["cancel_expired"] += 1
            return False
        m = self.check_record(line, reply, ("cancelled",), what)
        if m is None:
            return False
        self.expect(m["ended_ms"] < m["deadline_ms"] or m["deadline_ms"] == 0,
                    f"{what}: cancelled at {m['ended_ms']}, not before its deadline: {m}")
        line.outcome = "cancelled"
        self.stats["cancelled"] += 1
        return True

    def reserve(self, user, behaviour, sku=None, qty=None, ttl=None, tag="r"):
        sku = sku or self.pick_sku()
        qty = qty or self.pick_qty(sku)
        line = self.new_line(sku, f"{user}-{tag}", qty, self.pick_user_arg(sku, user),
                             "reserve", behaviour)
        made = self.on_reserved(line, call(self.a, *self.reserve_args(line, ttl)), ttl)
        return line, made

    def commit(self, line, conn=None):
        return self.on_commit(line, call(conn or self.a, "SKU.COMMIT", line.sku, line.order))

    def cancel(self, line, conn=None):
        return self.on_cancel(line, call(conn or self.a, "SKU.CANCEL", line.sku, line.order))

    def user_pay(self, user):
        line, made = self.reserve(user, "pay")
        if made:
            self.think()
            self.commit(line)

    def user_race(self, user):
        # Some races carry their own TTL, so that not every deadline is the SKU default.
        ttl = self.rng.choice([None, None, 300, 700])
        line, made = self.reserve(user, "race", ttl=ttl)
        if not made:
            return
        jitter_s = self.rng.uniform(-RACE_JITTER_MS, RACE_JITTER_MS) / 1000
        delay = line.deadline_ms / 1000 + jitter_s - time.time()  # the server's clock is ours
        if delay > 0:
            time.sleep(delay)
        if self.commit(line):
            self.stats["race_won"] += 1
        elif line.outcome == "expired":
            self.stats["race_lost"] += 1

    def user_cancel(self, user):
        line, made = self.reserve(user, "cancel")
        if not made:
            return
        self.think()
        if self.cancel(line):
            # A second cancel is acknowledged the same; a commit now is refused.
            self.on_cancel(line, call(self.b, "SKU.CANCEL", line.sku, line.order), "re-cancel")
            reply = call(self.a, "SKU.COMMIT", line.sku, line.order)
            self.expect(reply == Err("CANCELLED"), f"commit after cancel: {reply!r} for {line}")
        elif line.outcome == "expired":
            reply = call(self.a, "SKU.COMMIT", line.sku, line.order)
            self.expect(reply == Err("EXPIRED"), f"commit after expiry: {reply!r} for {line}")

    def user_abandon(self, user):
        self.reserve(user, "abandon", ttl=self.rng.choice([None, 300, TTL_MS_MAX]))
        self.stats["abandoned"] += 1

    def user_retry(self, user):
        line, made = self.reserve(user, "retry")
        args = self.reserve_args(line, None)
        again = call(self.b, *args)  # the same request again, as after a lost reply
        self.stats["retries"] += 1
        if made:
            m = order_map(again)
            self.expect(m.get("created_ms") == line.created_ms and
                        m.get("deadline_ms") == line.deadline_ms and m.get("qty") == line.qty and
                        m.get("state") in ("reserved", "expired"),
                        f"retried reserve: {again!r} is not the stored order of {line}")
        else:
            self.expect(again == Err(line.reason), f"retried refused reserve: {again!r} for {line}")
        # The same id with another quantity is a conflict, whatever became of the first.
        other = list(args)
        other[3] = line.qty + 1
        reply = call(self.a, *other)
        self.expect(reply == Err("CONFLICT"), f"reserve with another qty: {reply!r} for {line}")
        self.stats["conflicts"] += 1
        if not made:
            if line.outcome == "failed":
                # A stale retry stays refused, even once units have come back.
                time.sleep(self.rng.uniform(0.05, 0.15))
                reply = call(self.a, *args)
                self.expect(reply == Err(line.reason), f"late retry of a refused order: {reply!r}"
                                                       f" for {line}")
            return
        self.think()
        if self.commit(line):
            rec = order_map(call(self.b, "SKU.COMMIT", line.sku, line.order))
            self.expect(rec.get("state") == "committed", f"re-commit: {rec} for {line}")
            first_end = rec.get("ended_ms")
            rec2 = call(self.a, "SKU.COMMIT", line.sku, line.order)
            self.expect(is_order(rec2) and as_map(rec2).get("ended_ms") == first_end,
                        f"third commit: {rec2!r} for {line}")
            reply = call(self.a, "SKU.CANCEL", line.sku, line.order)
            self.expect(reply == Err("COMMITTED"), f"cancel after commit: {reply!r} for {line}")
        elif line.outcome == "expired":
            reply = call(self.b, "SKU.COMMIT", line.sku, line.order)
            self.expect(reply == Err("EXPIRED"), f"re-commit after expiry: {reply!r}")

    def user_doubleclick(self, user):
        sku = self.pick_sku()
        line = self.new_line(sku, f"{user}-r", self.pick_qty(sku), self.pick_user_arg(sku, user),
                             "reserve", "doubleclick")
        r1, r2 = call_both(self.a, self.b, *self.reserve_args(line, None))
        self.stats["double_clicks"] += 1
        made = self.on_reserved(line, r1, None)
        if made:
            m1, m2 = order_map(r1), order_map(r2)
            self.expect(m1 == m2, f"double-clicked reserve answered {r1!r} and {r2!r}")
        else:
            self.expect(r1 == r2, f"double-clicked reserve answered {r1!r} and {r2!r}")
            return
        self.think()
        c1, c2 = call_both(self.a, self.b, "SKU.COMMIT", sku, line.order)
        self.on_commit(line, c1, "double-clicked commit")
        if is_order(c1):
            self.expect(is_order(c2) and as_map(c1) == as_map(c2),
                        f"double-clicked commit answered {c1!r} and {c2!r}")
        else:
            self.expect(c1 == c2, f"double-clicked commit answered {c1!r} and {c2!r}")

    def user_deduct(self, user):
        sku = self.pick_sku()
        line = self.new_line(sku, f"{user}-d", self.pick_qty(sku), self.pick_user_arg(sku, user),
                             "deduct", "deduct")
        args = ["SKU.DEDUCT", sku, line.order, line.qty] + (["USER", line.user] if line.user
                                                             else [])
        made = self.on_reserved(line, call(self.a, *args), None, "deduct")
        again = call(self.b, *args)
        self.stats["retries"] += 1
        if made:
            self.stats["deducts"] += 1
            self.expect(is_order(again) and as_map(again).get("created_ms") == line.created_ms,
                        f"retried deduct: {again!r} for {line}")
            reply = call(self.a, "SKU.COMMIT", sku, line.order)  # already committed: the record
            self.expect(is_order(reply) and as_map(reply).get("state") == "committed",
                        f"commit of a deduct: {reply!r} for {line}")
            reply = call(self.a, "SKU.CANCEL", sku, line.order)
            self.expect(reply == Err("COMMITTED"), f"cancel of a deduct: {reply!r} for {line}")
        else:
            self.expect(again == Err(line.reason), f"retried refused deduct: {again!r}")
        # The same id as a reservation is another request: a conflict.
        reserve = ["SKU.RESERVE", sku, line.order, line.qty] + (["USER", line.user] if line.user
                                                                else [])
        reply = call(self.a, *reserve)
        self.expect(reply == Err("CONFLICT"), f"reserve under a deduct's id: {reply!r}")
        self.stats["conflicts"] += 1

    def user_admission(self, user):
        reply = call(self.a, "SKU.ENTER", HOT, user)
        self.stats["enter"] += 1
        if isinstance(reply, Err):
            self.expect(reply.code in ("FULL", "SOLDOUT", "LIMIT"), f"enter: {reply!r}")
            self.stats[f"enter_{reply.code.lower()}"] += 1
            return
        adm = as_map(reply)
        self.expect(adm.get("user") == user and adm.get("expires_ms") ==
                    adm.get("admitted_ms", 0) + HOT_HOLD_MS, f"admission: {adm}")
        self.entered[user] = adm["ticket"]
        self.stats["admitted"] += 1
        again = call(self.b, "SKU.ENTER", HOT, user)  # entering again: the same admission
        self.expect(not isinstance(again, Err) and as_map(again) == adm or
                    time.time() * 1000 >= adm["expires_ms"],  # unless the hold ran out first
                    f"second enter: {again!r} after {adm}")
        r = self.rng.random()
        if r < 0.6:  # the order service's page: reserve for the admitted user
            self.think()
            line, made = self.reserve(user, "admission", sku=HOT, qty=1 if r < 0.5 else 2)
            if made:
                self.stats["converted"] += 1
                if self.rng.random() < 0.7:
                    self.think()
                    self.commit(line)
        elif r < 0.8:
            left = call(self.a, "SKU.LEAVE", HOT, user)
            # 0 when the hold expired before we left (the pause before is short, but CI is slow).
            self.expect(left in (0, 1), f"leave: {left!r}")
            self.stats["left"] += left == 1
            again = call(self.a, "SKU.LEAVE", HOT, user)
            self.expect(again == 0, f"second leave: {again!r}")
        else:
            self.stats["hold_abandoned"] += 1

    def user_greedy(self, user):
        # Three orders of one unit at once, on two connections: at most LIMIT succeed.
        sku = self.rng.choice([HOT, BUNDLE_LIMITED])
        limit = HOT_LIMIT if sku == HOT else BUNDLE_LIMIT
        qty = 1 if sku == HOT else 2
        lines = [self.new_line(sku, f"{user}-g{k}", qty, user, "reserve", "greedy")
                 for k in range(3)]
        ca, cb = self.a.connection, self.b.connection
        for k, line in enumerate(lines):
            (ca if k != 1 else cb).send_command(*self.reserve_args(line, None))
        replies = []
        for k in range(3):
            try:
                replies.append((ca if k != 1 else cb).read_response())
            except redis.ResponseError as e:
                replies.append(Err(str(e)))
        made = [line for line, reply in zip(lines, replies) if self.on_reserved(line, reply, None)]
        self.expect(sum(line.qty for line in made) <= limit,
                    f"greedy user got {[line.order for line in made]} past the limit {limit}")
        for line in made:
            self.commit(line)

    # -- multi-SKU orders --------------------------------------------------------------------

    def user_multi(self, user):
        skus = self.rng.sample([HOT] + BUNDLES, self.rng.choice([2, 2, 3]))
        if self.rng.random() < 0.5 and HOT in skus:  # half of them, keep the hot one out
            skus.remove(HOT)
            skus.append(self.rng.choice([s for s in BUNDLES if s not in skus]))
        qtys = [1 if s == HOT else self.rng.randint(1, 3) for s in skus]
        anonymous = not any(sku_limited(s) for s in skus) and self.rng.random() < 0.2
        user_arg = "" if anonymous else user
        ttl = self.rng.choice([None, 400, 600])
        order = f"{user}-m"
        lines = [self.new_line(s, order, q, user_arg, "mreserve", "multi")
                 for s, q in zip(skus, qtys)]
        args = ["SKU.MRESERVE", order] + (["USER", user_arg] if user_arg else []) + \
            (["TTL", ttl] if ttl is not None else [])
        for s, q in zip(skus, qtys):
            args += [s, q]
        reply = call(self.a, *args)
        self.stats["multi"] += 1
        made = self.on_multi_reserved(lines, reply, ttl)
        # The same request again: the same answer.
        again = call(self.b, *args)
        self.stats["retries"] += 1
        if made:
            self.expect(isinstance(again, list) and len(again) == len(lines) and
                        all(is_order(r) and as_map(r)["created_ms"] == line.created_ms
                            for r, line in zip(again, lines)),
                        f"retried MRESERVE: {again!r} for {lines}")
        else:
            self.expect(again == reply, f"retried refused MRESERVE: {again!r} after {reply!r}")
        if self.rng.random() < 0.2:
            other = list(args)
            other[-1] = qtys[-1] + 1
            reply = call(self.a, *other)
            # CONFLICT, as for SKU.RESERVE, whether the order was made or refused, and whichever
            # line changed.
            self.expect(reply == Err("CONFLICT"), f"MRESERVE retried with another qty on its "
                                                  f"last line: {reply!r}, not CONFLICT "
                                                  f"(first reply {again!r})")
            self.stats["conflicts"] += 1
        if not made:
            return
        r = self.rng.random()
        keys = [line.sku for line in lines]
        if r < 0.5:
            self.think()
            self.on_multi_end(lines, call(self.a, "SKU.MCOMMIT", order, *keys), True)
        elif r < 0.7:
            self.think()
            self.on_multi_end(lines, call(self.a, "SKU.MCANCEL", order, *keys), False)
        elif r < 0.85:
            self.stats["abandoned"] += 1
        else:  # commit right at the first line's deadline
            first = min(line.deadline_ms for line in lines)
            delay = first / 1000 + self.rng.uniform(-RACE_JITTER_MS, RACE_JITTER_MS) / 1000 - \
                time.time()
            if delay > 0:
                time.sleep(delay)
            won = self.on_multi_end(lines, call(self.a, "SKU.MCOMMIT", order, *keys), True)
            self.stats["multi_race_won" if won else "multi_race_lost"] += 1

    def on_multi_reserved(self, lines, reply, ttl):
        if isinstance(reply, Err):
            allowed = {"SOLDOUT", "LIMIT"}
            self.expect(reply.code in allowed, f"MRESERVE: unexpected {reply!r} for {lines}")
            for line in lines:
                line.outcome, line.reason = "failed", reply.code
            self.stats["multi_refused"] += 1
            return False
        if not self.expect(isinstance(reply, list) and len(reply) == len(lines),
                           f"MRESERVE: {reply!r} for {lines}"):
            for line in lines:
                line.outcome = "unknown"
            return False
        created = set()
        for line, rec in zip(lines, reply):
            m = self.check_record(line, rec, ("reserved",), "MRESERVE")
            if m is None:
                line.outcome = "unknown"
                continue
            want_ttl = sku_ttl(line.sku) if ttl is None else ttl
            self.expect(m["deadline_ms"] == m["created_ms"] + want_ttl,
                        f"MRESERVE line deadline: {m}, TTL {want_ttl}")
            line.created_ms, line.deadline_ms = m["created_ms"], m["deadline_ms"]
            line.outcome = "open"
            created.add(m["created_ms"])
        self.expect(len(created) <= 1, f"MRESERVE lines made at different times: {reply!r}")
        self.stats["multi_made"] += 1
        self.stats["orders_made"] += len(lines)
        return True

    def on_multi_end(self, lines, reply, commit):
        what = "MCOMMIT" if commit else "MCANCEL"
        if isinstance(reply, Err):
            # All or nothing: one expired line refuses the whole order, and the others then
            # expire at their own deadlines.
            self.expect(reply.code == "EXPIRED", f"{what}: unexpected {reply!r} for {lines}")
            if reply.code == "EXPIRED":
                for line in lines:
                    line.outcome = "expired"
                self.stats["multi_expired"] += 1
            return False
        state = "committed" if commit else "cancelled"
        if not self.expect(isinstance(reply, list) and len(reply) == len(lines),
                           f"{what}: {reply!r} for {lines}"):
            return False
        for line, rec in zip(lines, reply):
            m = self.check_record(line, rec, (state,), what)
            if m is None:
                continue
            self.expect(m["ended_ms"] < m["deadline_ms"], f"{what} after the deadline: {m}")
            line.outcome = state
            if commit:
                self.stats["committed_units"] += line.qty
        self.stats["multi_committed" if commit else "multi_cancelled"] += 1
        return True


class OrderService(threading.Thread):
    """Drains the hot SKU's admission queue with SKU.TAKE ... BLOCK, as an order service would:
    tickets must come out strictly increasing (FIFO), each user at most once per admission."""

    def __init__(self, stop):
        super().__init__(name="order-service", daemon=True)
        self.stop = stop
        self.r = connect()
        self.taken = []  # (user, ticket)
        self.anomalies = []

    def run(self):
        last = 0
        try:
            while not self.stop.is_set():
                for user, ticket, expires_ms in self.r.execute_command(
                        "SKU.TAKE", HOT, TAKE_COUNT, "BLOCK", TAKE_BLOCK_MS) or []:
                    if ticket <= last:
                        self.anomalies.append(f"SKU.TAKE: ticket {ticket} after {last}")
                    last = ticket
                    self.taken.append((user, ticket))
        except Exception:
            self.anomalies.append("order service exception:\n" + traceback.format_exc())
        finally:
            self.r.close()


class Staff(threading.Thread):
    """Restocks the hot SKU once, mid-sale, and retries the restock like a nervous operator."""

    def __init__(self, sale):
        super().__init__(name="staff", daemon=True)
        self.sale = sale
        self.anomalies = []
        self.restocked = 0

    def run(self):
        try:
            self.sale.stop.wait(self.sale.window_s * 0.4)
            r1, r2 = connect(), connect()
            first = call(r1, "SKU.RESTOCK", HOT, HOT_RESTOCK, "ID", HOT_RESTOCK_ID)
            if not isinstance(first, int):
                self.anomalies.append(f"restock: {first!r}")
                return
            self.restocked = HOT_RESTOCK
            for conn in (r2, r1):
                again = call(conn, "SKU.RESTOCK", HOT, HOT_RESTOCK, "ID", HOT_RESTOCK_ID)
                if again != first:
                    self.anomalies.append(f"retried restock: {again!r}, first {first}")
            other = call(r2, "SKU.RESTOCK", HOT, HOT_RESTOCK + 1, "ID", HOT_RESTOCK_ID)
            if other != Err("CONFLICT"):
                self.anomalies.append(f"restock with another qty: {other!r}")
            r1.close()
            r2.close()
        except Exception:
            self.anomalies.append("staff exception:\n" + traceback.format_exc())


def make_users(rng, n):
    names, weights = zip(*BEHAVIOURS.items())
    return [(f"u{i:06d}", b) for i, b in enumerate(rng.choices(names, weights, k=n))]


def read_journal(r, sku):
    """Every record, page by page (AFTER the last id seen, COUNT JOURNAL_PAGE)."""
    records, after = [], 0
    while True:
        page = r.execute_command("SKU.JOURNAL", sku, "AFTER", after, "COUNT", JOURNAL_PAGE)
        if not page:
            return records
        records += [as_map(rec) for rec in page]
        after = records[-1]["id"]


class FlashSaleTest(unittest.TestCase):
    def setUp(self):
        if SERVER.is_redis:
            self.skipTest("the SKU commands are stockd's own")
        self.r = connect()
        self.r.flushall()
        self.addCleanup(self.r.close)
        self.problems = []

    def check(self, cond, what):
        if not cond:
            self.problems.append(what)
        return cond

    def test_flash_sale(self):
        t0 = time.monotonic()
        r = self.r
        # -- the SKUs --------------------------------------------------------------------
        shards = {s: shard_of(s, SHARDS) for s in [HOT] + BUNDLES}
        if None not in shards.values():
            self.assertEqual(set(shards.values()), set(range(SHARDS)),
                             f"the SKUs should span every shard: {shards}")
        self.assertEqual(r.execute_command(
            "SKU.SET", HOT, HOT_ON_HAND, "SAFETY", HOT_SAFETY, "LIMIT", HOT_LIMIT,
            "TTL", HOT_TTL_MS, "HOLD", HOT_HOLD_MS), "OK")
        for s in BUNDLES:
            limit = BUNDLE_LIMIT if s == BUNDLE_LIMITED else 0
            self.assertEqual(r.execute_command("SKU.SET", s, BUNDLE_ON_HAND, "LIMIT", limit,
                                               "TTL", BUNDLE_TTL_MS), "OK")
        initial = {HOT: HOT_ON_HAND, **{s: BUNDLE_ON_HAND for s in BUNDLES}}
        # A limited SKU needs USER; that refusal is not remembered as an order.
        self.assertEqual(call(r, "SKU.RESERVE", HOT, "no-user", 1), Err("ERR"))
        self.assertEqual(call(r, "SKU.ORDER", HOT, "no-user"), Err("NOORDER"))

        # -- the sale --------------------------------------------------------------------
        users = make_users(random.Random(SEED), USERS)
        sale = Sale(users)
        shoppers = [Shopper(i, sale) for i in range(THREADS)]
        service = OrderService(threading.Event())
        staff = Staff(sale)
        for t in shoppers + [service, staff]:
            t.start()
        for t in shoppers:
            t.join()
        sale.stop.set()
        staff.join()
        service.stop.set()
        service.join()
        sale_s = time.monotonic() - t0

        lines = [line for s in shoppers for line in s.lines]
        stats = collections.Counter()
        for s in shoppers:
            stats.update(s.stats)
        anomalies = [a for t in shoppers + [service, staff] for a in t.anomalies]
        entered = {}
        for s in shoppers:
            entered.update(s.entered)

        # -- settle: every reservation and hold past its deadline ------------------------
        last_deadline_ms = max([line.deadline_ms for line in lines] + [0])
        wait_s = max(last_deadline_ms / 1000, time.time() + HOT_HOLD_MS / 1000) - time.time()
        time.sleep(max(0.0, wait_s) + SETTLE_MARGIN_S)
        deadline = time.monotonic() + SETTLE_POLL_MAX_S
        while True:
            got = {s: as_map(r.execute_command("SKU.GET", s)) for s in initial}
            if all(g["reserved"] == 0 and g["held"] == 0 for g in got.values()) or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.05)

        # -- what the clients saw vs what the server holds -------------------------------
        self.problems += anomalies
        for line in lines:
            self.check(line.outcome in ("open", "committed", "cancelled", "expired", "failed"),
                       f"the client never learnt the outcome of {line}")
        self.check_counters(got, initial, staff.restocked, lines)
        orders = self.check_orders(lines)
        journal_figures = {}
        for s in initial:
            journal_figures[s] = self.check_journal(s, got[s], initial[s],
                                                    staff.restocked if s == HOT else 0,
                                                    lines, orders)
        self.check_limits(lines)
        for user, ticket in service.taken:
            self.check(entered.get(user) == ticket,
                       f"SKU.TAKE handed out {user!r} ticket {ticket}, which no ENTER returned "
                       f"({entered.get(user)})")

        # -- the figures -----------------------------------------------------------------
        outcome = collections.Counter(line.outcome for line in lines)
        expiries = sum(f["expire"] for f in journal_figures.values())
        print(f"\nflash sale: seed {SEED}, {USERS} users, {THREADS} threads x 2 connections, "
              f"shards {shards}, sale {sale_s:.1f} s, total {time.monotonic() - t0:.1f} s\n"
              f"  order lines {len(lines)} (made {stats['orders_made']}, refused "
              f"soldout {stats['refused_soldout']} limit {stats['refused_limit']}); outcomes "
              f"{dict(outcome)}\n"
              f"  sold {({s: g['sold'] for s, g in got.items()})}; hot restocked "
              f"{staff.restocked}; deducts {stats['deducts']}\n"
              f"  expiries (journal) {expiries}, hold expiries "
              f"{sum(f['hold-expire'] for f in journal_figures.values())}; commit got EXPIRED "
              f"{stats['commit_expired']}, cancel got EXPIRED {stats['cancel_expired']}\n"
              f"  races won {stats['race_won']} lost {stats['race_lost']}; multi races won "
              f"{stats['multi_race_won']} lost {stats['multi_race_lost']}\n"
              f"  multi orders {stats['multi']} (made {stats['multi_made']}, refused "
              f"{stats['multi_refused']}, committed {stats['multi_committed']}, cancelled "
              f"{stats['multi_cancelled']}, expired at commit {stats['multi_expired']})\n"
              f"  admission: enter {stats['enter']} admitted {stats['admitted']} converted "
              f"{stats['converted']} left {stats['left']} full {stats['enter_full']} soldout "
              f"{stats['enter_soldout']} limit {stats['enter_limit']}; taken "
              f"{len(service.taken)}\n"
              f"  retries {stats['retries']}, conflicts {stats['conflicts']}, double clicks "
              f"{stats['double_clicks']}, journal records "
              f"{sum(f['records'] for f in journal_figures.values())}",
              file=sys.stderr)

        # The sale must have exercised what it claims to (a tiny run may not).
        self.check(stats["users"] == USERS, f"{stats['users']} of {USERS} users ran")
        self.check(USERS < COVERAGE_USERS_MIN or outcome["committed"] > 0 and outcome["cancelled"] > 0 and
                   outcome["failed"] > 0 and expiries > 0,
                   f"the sale missed a path: outcomes {dict(outcome)}, expiries {expiries}")
        if self.problems:
            shown = "\n".join(self.problems[:ANOMALIES_SHOWN_MAX])
            self.fail(f"{len(self.problems)} problems (seed {SEED}); the first:\n{shown}")

    # -- the final checks ----------------------------------------------------------------

    def check_counters(self, got, initial, restocked, lines):
        for s, g in got.items():
            self.check(self.r.execute_command("SKU.CHECK", s) == "OK", f"SKU.CHECK {s} failed")
            self.check(g["available"] >= 0, f"{s}: available {g['available']} < 0")
            self.check(g["available"] == g["on_hand"] - g["safety"] - g["reserved"] - g["held"],
                       f"{s}: available != on_hand - safety - reserved - held: {g}")
            self.check(g["reserved"] == 0 and g["open_orders"] == 0,
                       f"{s}: reservations left after every deadline: {g}")
            self.check(g["held"] == 0 and g["admissions"] == 0,
                       f"{s}: admissions left after every hold: {g}")
            committed = sum(line.qty for line in lines
                            if line.sku == s and line.outcome == "committed")
            self.check(g["sold"] == committed,
                       f"{s}: sold {g['sold']} but the clients were acknowledged {committed}")
            stock = initial[s] + (restocked if s == HOT else 0)
            self.check(g["on_hand"] + g["sold"] == stock,
                       f"{s}: on_hand {g['on_hand']} + sold {g['sold']} != stock {stock}")
            ids = {line.order for line in lines if line.sku == s}
            self.check(g["orders"] == len(ids),
                       f"{s}: the server remembers {g['orders']} orders, the clients sent "
                       f"{len(ids)}")

    def check_orders(self, lines):
        """SKU.ORDER for every line the clients made; returns {(sku, order): record}."""
        want_state = {"open": "expired", "committed": "committed", "cancelled": "cancelled",
                      "expired": "expired", "failed": "failed"}
        orders = {}
        for start in range(0, len(lines), ORDER_CHECK_BATCH):
            batch = lines[start:start + ORDER_CHECK_BATCH]
            pipe = self.r.pipeline(transaction=False)
            for line in batch:
                pipe.execute_command("SKU.ORDER", line.sku, line.order)
            for line, rec in zip(batch, pipe.execute(raise_on_error=False)):
                if not self.check(is_order(rec), f"SKU.ORDER: {rec!r} for {line}"):
                    continue
                m = as_map(rec)
                orders[(line.sku, line.order)] = m
                want = want_state.get(line.outcome)
                self.check(m["state"] == want and m["qty"] == line.qty and
                           m["user"] == line.user and m["kind"] == line.kind,
                           f"SKU.ORDER says {m} but the client saw {line}")
                if line.outcome == "failed":
                    self.check(m["reason"] == line.reason, f"failed for {m['reason']}: {line}")
                elif line.created_ms:
                    self.check(m["created_ms"] == line.created_ms and
                               m["deadline_ms"] == line.deadline_ms,
                               f"SKU.ORDER times {m} differ from the reply's: {line}")
                if m["state"] in ("committed", "cancelled") and m["deadline_ms"]:
                    self.check(m["ended_ms"] < m["deadline_ms"],
                               f"{m['state']} at or after its deadline: {m}")
                if m["state"] == "expired":
                    self.check(m["ended_ms"] >= m["deadline_ms"] > 0,
                               f"expired before its deadline: {m}")
        return orders

    def check_journal(self, sku, g, initial, restocked, lines, orders):
        """Reads the whole journal; checks it is contiguous, replays to every snapshot, ends
        each order once, agrees with the clients and SKU.ORDER, and sums to sold."""
        records = read_journal(self.r, sku)
        figures = collections.Counter(records=len(records))
        if not self.check(len(records) == g["last_journal_id"],
                          f"{sku}: journal has {len(records)} records, last id "
                          f"{g['last_journal_id']}"):
            return figures
        if g["last_journal_id"] > JOURNAL_RECORDS_MAX:
            print(f"{sku}: journal wrapped; its replay is not checked", file=sys.stderr)
            return figures
        ids = [rec["id"] for rec in records]
        if not self.check(ids == list(range(1, len(ids) + 1)),
                          f"{sku}: journal ids are not 1..{len(ids)}"):
            return figures
        c = dict(on_hand=0, safety=0, reserved=0, sold=0, held=0)
        admitted, units = set(), collections.Counter()
        limit = {HOT: HOT_LIMIT, BUNDLE_LIMITED: BUNDLE_LIMIT}.get(sku, 0)
        seen = {}  # order -> [ops]
        terminal_ops = ("commit", "cancel", "expire", "deduct")
        for rec in records:
            op, q, user, order = rec["op"], rec["qty"], rec["user"], rec["order"]
            figures[op] += 1
            if op == "set":
                c["on_hand"], c["safety"] = q, rec["safety"]
            elif op == "restock":
                c["on_hand"] += q
            elif op in ("reserve", "deduct"):
                if user in admitted:  # the admission's held unit becomes part of the order
                    admitted.discard(user)
                    c["held"] -= 1
                if op == "reserve":
                    c["reserved"] += q
                else:
                    c["on_hand"] -= q
                    c["sold"] += q
                units[user] += q
            elif op == "commit":
                c["reserved"] -= q
                c["on_hand"] -= q
                c["sold"] += q
            elif op in ("cancel", "expire"):
                c["reserved"] -= q
                units[user] -= q
            elif op == "enter":
                admitted.add(user)
                c["held"] += 1
            elif op in ("leave", "hold-expire"):
                admitted.discard(user)
                c["held"] -= 1
            else:
                self.check(False, f"{sku}: unknown journal op in {rec}")
            snapshot = {k: rec[k] for k in c}
            if not self.check(snapshot == c, f"{sku}: journal record {rec} does not follow "
                                             f"from the ones before (replayed {c})"):
                return figures
            avail = c["on_hand"] - c["safety"] - c["reserved"] - c["held"]
            self.check(rec["available"] == avail and avail >= 0,
                       f"{sku}: journal available wrong or negative in {rec}")
            if limit and user and op in ("reserve", "deduct"):
                self.check(units[user] <= limit,
                           f"{sku}: user {user!r} holds {units[user]} > limit {limit} at {rec}")
            if order and op != "restock":
                seen.setdefault(order, []).append(rec)
        for k in c:
            self.check(c[k] == g[k], f"{sku}: the journal replays to {c}, SKU.GET says {g}")
        # Each order: at most one reserve, then at most one end; a deduct alone.
        for order, recs in seen.items():
            ops = [rec["op"] for rec in recs]
            self.check(ops in (["deduct"], ["reserve"], ["reserve", "commit"],
                               ["reserve", "cancel"], ["reserve", "expire"]),
                       f"{sku}: order {order!r} has journal ops {ops}")
            m = orders.get((sku, order))
            if self.check(m is not None, f"{sku}: journal names order {order!r} that no client "
                                         "made"):
                if ops[-1] in terminal_ops:
                    self.check(recs[-1]["time_ms"] == m["ended_ms"],
                               f"{sku}: {order!r} ended at {recs[-1]['time_ms']} by the journal, "
                               f"{m['ended_ms']} by SKU.ORDER")
        want_ops = {"committed": ("commit", "deduct"), "cancelled": ("cancel",),
                    "expired": ("expire",), "open": ("expire",)}
        for line in lines:
            if line.sku != sku:
                continue
            ops = [rec["op"] for rec in seen.get(line.order, [])]
            if line.outcome == "failed":
                self.check(ops == [], f"{sku}: refused {line} has journal ops {ops}")
            elif line.outcome in want_ops:
                self.check(ops and ops[-1] in want_ops[line.outcome],
                           f"{sku}: {line} has journal ops {ops}")
        sold = sum(rec["qty"] for rec in records if rec["op"] in ("commit", "deduct"))
        self.check(sold == g["sold"], f"{sku}: journal commits and deducts sum to {sold}, "
                                      f"sold is {g['sold']}")
        restocks = [rec["qty"] for rec in records if rec["op"] == "restock"]
        self.check(restocks == ([restocked] if restocked else []),
                   f"{sku}: restock records {restocks}, the staff restocked {restocked} once")
        self.check(records[0]["op"] == "set" and records[0]["qty"] == initial,
                   f"{sku}: journal starts with {records[0]}")
        return figures

    def check_limits(self, lines):
        committed = collections.Counter()
        for line in lines:
            if line.outcome == "committed" and line.user and sku_limited(line.sku):
                committed[(line.sku, line.user)] += line.qty
        for (sku, user), n in committed.items():
            limit = HOT_LIMIT if sku == HOT else BUNDLE_LIMIT
            self.check(n <= limit, f"{sku}: user {user!r} bought {n} > limit {limit}")


if __name__ == "__main__":
    unittest.main()
