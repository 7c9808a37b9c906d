#!/usr/bin/python3
"""Acknowledged writes survive kill -9 (issue 5, docs/wal.md).

Client threads, each on its own connection, write through many command shapes and record every
reply they were given; at a random moment the server gets SIGKILL; it is restarted on the same
directory, replays its write-ahead log, and the test checks that every acknowledged write is
there with its exact effect. Each client has at most one command in flight at the kill (its
`pending`), whose effect may or may not have landed: the checks allow exactly that and nothing
more. The load and the checks:

- INCR c:i: the counter is its last acknowledged value, or one more if an INCR was in flight.
- HSET h:i f<n> v<n> of new fields: every acknowledged field holds its value.
- SKU.RESERVE / SKU.COMMIT of new orders on sku:crash: every acknowledged reservation is
  reserved or committed (committed if the commit was acknowledged); sold = orders committed.
  Orders found in place after a restart are checked again every 10th cycle (and the last).
- MULTI; INCR tx:a:i; INCR tx:b:i; INCR tx:c:i; EXEC (the keys spread over the shards): after
  the restart the three are equal (never half a transaction), and equal to the last
  acknowledged value, or one more if an EXEC was in flight.
- SKU.ENTER / SKU.LEAVE of new users on sku:crash:adm (HOLD one day, so nothing expires), and a
  consumer thread taking them with SKU.TAKE sku 3 BLOCK 500 (served by the blocked-client path
  when an ENTER arrives): every acknowledged admission is live with its ticket (SKU.ENTER again
  answers the same ticket); every acknowledged SKU.LEAVE left nothing (SKU.LEAVE again answers
  0); SKU.GET's admissions is the number of live admissions; and draining the queue with
  SKU.TAKE hands out every live admission not yet taken, with its ticket, and none that an
  acknowledged SKU.TAKE already handed out (the one TAKE in flight may have taken up to 3).
- SKU.TOKEN on sku:crash:tok (TOKENS yes; token TTL one day), then, usually, SKU.ENTER with
  that token: every acknowledged admission is live with its ticket; every acknowledged token not
  yet used is the server's token still (SKU.ENTER user TOKEN t admits the user after the
  restart) and works exactly once (SKU.LEAVE, then SKU.ENTER with it again answers BADTOKEN);
  SKU.GET's outstanding_tokens counts the acknowledged unused tokens, plus at most the tokens in
  flight.
- RPUSH q:crash of unique values while a consumer thread BLPOPs q:crash (mostly blocked, so most
  pops are served by the blocked-client path): after the restart the list holds no value whose
  pop was acknowledged and no duplicate; each client's values in it are a suffix of what it
  pushed (acknowledged, or the push in flight), in order; and every acknowledged push is in the
  list or was popped, by an acknowledged BLPOP or by the one BLPOP in flight (at most one value).
- SKU.CHECK passes on every SKU.

Then the threads go on with new ids, from what the server holds, for STOCKD_CRASH_CYCLES cycles
(default 4, about 10 s; `make crash-soak` runs hundreds). Runs with the default durability
(appendonly yes, appendfsync always): a reply is sent only once its record is synced. make test
runs it again with STOCKD_SERVER_ARGS="--appendfsync everysec" (a reply once the record is
written to the log file, which a kill -9 cannot take back). With
STOCKD_SERVER_ARGS="--appendonly no" it must fail (nothing survives the kill).

    /usr/bin/python3 tests/integration/test_crash.py [-v]
    STOCKD_CRASH_CYCLES=300 STOCKD_CRASH_SEED=123 /usr/bin/python3 tests/integration/test_crash.py

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
CYCLES = int(os.environ.get("STOCKD_CRASH_CYCLES", "4"))
SHARDS = 2
# Each cycle runs the load for a random time in this range (seconds) before the kill.
RUN_S_MIN, RUN_S_MAX = 0.5, 2.0
SOCKET_TIMEOUT_S = 10
# The log is replayed in full at every restart (no snapshots yet), so a long soak restarts
# slower and slower; this bounds the wait for PING.
RESTART_TIMEOUT_S = 60
SKU = "sku:crash"
ADM_SKU = "sku:crash:adm"
TOK_SKU = "sku:crash:tok"
SKU_STOCK = 1_000_000_000
# Reservations, admissions and tokens outlive any soak: expiry is not what this test is about.
RESERVE_TTL_MS = 3_600_000
HOLD_MS = 86_400_000
TOKEN_TTL_MS = 86_400_000
# A client with this many live admissions on a SKU leaves one instead of entering, so the
# per-restart checks stay small however many cycles run.
ADMISSIONS_LIVE_MAX = 20
TAKE_COUNT = 3
TAKE_BLOCK_MS = 500
TAKE_DRAIN_COUNT = 10_000
LIST_KEY = "q:crash"
BLPOP_TIMEOUT_S = 1
SEED = int(os.environ.get("STOCKD_CRASH_SEED", random.randrange(1 << 32)))
# Orders found in place after one restart are checked again only every this many cycles (and
# after the last), so that a long soak's checks do not grow with its history every cycle.
ORDERS_RECHECK_CYCLES = 10

CONNECTION_LOST = (redis.ConnectionError, redis.TimeoutError, ConnectionError, OSError)


def connect(port):
    return redis.Redis(host="127.0.0.1", port=port, decode_responses=True,
                       socket_timeout=SOCKET_TIMEOUT_S, single_connection_client=True)


def as_map(reply):
    return dict(zip(reply[::2], reply[1::2]))


class Admissions:
    """What one client was told about its admissions on one SKU."""

    def __init__(self):
        self.live = {}     # user -> ticket: acknowledged SKU.ENTER, not left
        self.left = []     # users whose SKU.LEAVE answered 1 since the last check


class WorkerState:
    """One client's acknowledged history; it survives the cycles (a thread does not)."""

    def __init__(self, index):
        self.index = index
        self.rng = random.Random(SEED * 1000 + index)
        self.next_id = 0
        self.counter_key = f"c:{index}"
        self.hash_key = f"h:{index}"
        self.tx_keys = [f"tx:{name}:{index}" for name in ("a", "b", "c")]
        self.counter = 0      # last acknowledged INCR value
        self.fields = {}      # acknowledged HSET fields
        self.orders = {}      # order id -> "reserved" | "committed": acknowledged this cycle
        self.orders_checked = {}  # the same for orders found so after an earlier restart
        self.tx = 0           # last acknowledged value of every tx key
        self.adm = Admissions()
        self.tok = Admissions()
        self.tokens = {}      # user -> token: acknowledged SKU.TOKEN not yet used
        self.pushed = []      # values whose RPUSH was acknowledged and not yet seen popped
        # The command in flight, if any: a tuple naming it (see Worker.step).
        self.pending = None
        self.errors = []

    def new_id(self):
        self.next_id += 1
        return self.next_id


class Client(threading.Thread):
    """One client connection calling step() until the kill; other exceptions go to state.errors,
    which the test reports."""

    def __init__(self, state, port):
        super().__init__(daemon=True)
        self.s = state
        self.port = port

    def run(self):
        conn = connect(self.port)
        try:
            while True:
                self.step(conn)
        except CONNECTION_LOST:
            return  # the kill
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.s.errors.append(repr(e))

    def step(self, conn):
        raise NotImplementedError


class Worker(Client):
    """Drives the mixed load."""

    def error(self, text):
        self.s.errors.append(text)

    def step(self, conn):
        s = self.s
        op = s.rng.random()
        n = s.new_id()
        if op < 0.14:
            s.pending = ("incr",)
            v = conn.incr(s.counter_key)
            if v != s.counter + 1:
                self.error(f"INCR {s.counter_key} gave {v} after {s.counter}")
            s.counter = v
        elif op < 0.26:
            field = f"f{n}"
            s.pending = ("hset", field)
            conn.hset(s.hash_key, field, f"v{n}")
            s.fields[field] = f"v{n}"
        elif op < 0.44:
            self.reserve(conn, f"o:{s.index}:{n}")
        elif op < 0.56:
            s.pending = ("tx",)
            pipe = conn.pipeline(transaction=True)
            for key in s.tx_keys:
                pipe.incr(key)
            values = pipe.execute()
            if values != [s.tx + 1] * len(s.tx_keys):
                self.error(f"MULTI INCR {s.tx_keys} gave {values} after {s.tx}")
            s.tx += 1
        elif op < 0.70:
            self.admission(conn, ADM_SKU, s.adm, f"u:{s.index}:{n}", token=None)
        elif op < 0.82:
            user = f"t:{s.index}:{n}"
            if len(s.tok.live) >= ADMISSIONS_LIVE_MAX:
                self.leave(conn, TOK_SKU, s.tok)
            else:
                s.pending = ("token", user)
                token = conn.execute_command("SKU.TOKEN", TOK_SKU, user, "TTL", TOKEN_TTL_MS)
                s.tokens[user] = token
                s.pending = None
                if s.rng.random() < 0.6:
                    self.admission(conn, TOK_SKU, s.tok, user, token=token)
        else:
            value = f"w{s.index}:{n}"
            s.pending = ("push", value)
            conn.rpush(LIST_KEY, value)
            s.pushed.append(value)
        s.pending = None

    def reserve(self, conn, order):
        s = self.s
        s.pending = ("reserve", order)
        reply = conn.execute_command("SKU.RESERVE", SKU, order, 1, "TTL", RESERVE_TTL_MS)
        if not isinstance(reply, list) or as_map(reply).get("state") != "reserved":
            self.error(f"SKU.RESERVE {order}: {reply!r}")
        s.orders[order] = "reserved"
        if s.rng.random() < 0.7:
            s.pending = ("commit", order)
            reply = conn.execute_command("SKU.COMMIT", SKU, order)
            if not isinstance(reply, list) or as_map(reply).get("state") != "committed":
                self.error(f"SKU.COMMIT {order}: {reply!r}")
            s.orders[order] = "committed"

    def admission(self, conn, sku, book, user, token):
        """SKU.ENTER a new user (with `token` on the tokens SKU), or leave one at the cap."""
        s = self.s
        if len(book.live) >= ADMISSIONS_LIVE_MAX or (book.live and s.rng.random() < 0.3):
            return self.leave(conn, sku, book)
        args = ["SKU.ENTER", sku, user] + (["TOKEN", token] if token is not None else [])
        s.pending = ("enter", sku, user, token)
        reply = as_map(conn.execute_command(*args))
        if reply.get("user") != user or not isinstance(reply.get("ticket"), int):
            self.error(f"{' '.join(args)}: {reply!r}")
        book.live[user] = reply["ticket"]
        if token is not None:
            del s.tokens[user]

    def leave(self, conn, sku, book):
        s = self.s
        user = s.rng.choice(sorted(book.live))
        s.pending = ("leave", sku, user)
        left = conn.execute_command("SKU.LEAVE", sku, user)
        if left != 1:
            self.error(f"SKU.LEAVE {sku} {user} of a live admission answered {left!r}")
        del book.live[user]
        book.left.append(user)


class Taker(Client):
    """The order service: SKU.TAKE sku:crash:adm 3 BLOCK 500 in a loop (state: ConsumerState;
    .taken: user -> ticket handed out by an acknowledged TAKE)."""

    def step(self, conn):
        self.s.pending = True
        reply = conn.execute_command("SKU.TAKE", ADM_SKU, TAKE_COUNT, "BLOCK", TAKE_BLOCK_MS)
        for user, ticket, _expires_ms in reply or []:
            if user in self.s.taken:
                self.s.errors.append(f"SKU.TAKE handed out {user} twice")
            self.s.taken[user] = ticket
        self.s.pending = False


class Popper(Client):
    """The list consumer: BLPOP q:crash 1 in a loop (state: ConsumerState; .popped: every value
    an acknowledged BLPOP returned)."""

    def step(self, conn):
        self.s.pending = True
        reply = conn.blpop([LIST_KEY], timeout=BLPOP_TIMEOUT_S)
        if reply is not None:
            value = reply[1]
            if value in self.s.popped:
                self.s.errors.append(f"BLPOP returned {value} twice")
            self.s.popped.add(value)
        self.s.pending = False


class ConsumerState:
    def __init__(self):
        self.taken = {}
        self.popped = set()
        self.pending = False
        self.errors = []


class CrashTest(unittest.TestCase):
    def test_acknowledged_writes_survive_kill9(self):
        print(f"seed {SEED}, {CYCLES} cycles", file=sys.stderr)
        srv = Server(stockd_args=["--shards", str(SHARDS)], startup_timeout_s=RESTART_TIMEOUT_S)
        if srv.is_redis:
            self.skipTest("SKU commands are stockd's")
        srv.start()
        try:
            self.run_cycles(srv)
        finally:
            srv.stop()

    def run_cycles(self, srv):
        rng = random.Random(SEED)
        conn = connect(srv.port)
        conn.execute_command("SKU.SET", SKU, SKU_STOCK)
        conn.execute_command("SKU.SET", ADM_SKU, SKU_STOCK, "HOLD", HOLD_MS)
        conn.execute_command("SKU.SET", TOK_SKU, SKU_STOCK, "HOLD", HOLD_MS, "TOKENS", "yes")
        workers = [WorkerState(i) for i in range(THREADS)]
        taker, popper = ConsumerState(), ConsumerState()
        self.unknown_tokens = 0  # tokens issued by a SKU.TOKEN in flight at a kill
        self.gone = set()        # every value popped so far, acknowledged or in flight
        self.committed = 0       # orders found committed after an earlier restart
        acked_total = 0
        started = time.monotonic()
        for cycle in range(CYCLES):
            threads = [Worker(w, srv.port) for w in workers]
            threads += [Taker(taker, srv.port), Popper(popper, srv.port)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(RUN_S_MIN, RUN_S_MAX))
            srv.kill9()
            for t in threads:
                t.join(timeout=SOCKET_TIMEOUT_S + 5)
                self.assertFalse(t.is_alive(), "a client thread did not notice the kill")
            for state in workers + [taker, popper]:
                self.assertEqual(state.errors, [], f"cycle {cycle}: a client was told nonsense")
            srv.restart()
            conn = connect(srv.port)
            recheck = (cycle + 1) % ORDERS_RECHECK_CYCLES == 0 or cycle + 1 == CYCLES
            acked = self.check(conn, workers, taker, popper, recheck)
            acked_total += acked
            if CYCLES <= 10 or (cycle + 1) % 10 == 0:
                replays = [line for line in srv.log_tail().splitlines() if "replayed" in line]
                replay = replays[-1].split("Write-ahead log: ")[-1] if replays else "?"
                print(f"  cycle {cycle + 1}/{CYCLES}: {acked} acknowledged writes checked; "
                      f"{replay} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
            conn.close()
        self.assertGreater(acked_total, 0, "no write was acknowledged at all")

    def check(self, conn, workers, taker, popper, recheck):
        """Checks everything the clients were told after a restart, settles what was in flight
        at the kill, and returns the number of acknowledged writes checked. `recheck`: the
        orders checked after earlier restarts too."""
        acked = self.check_counters(conn, workers)
        acked += self.check_orders(conn, workers, recheck)
        acked += self.check_list(conn, workers, popper)
        acked += self.check_admissions(conn, workers, taker)
        acked += self.check_tokens(conn, workers)
        for sku in (SKU, ADM_SKU, TOK_SKU):
            check = conn.execute_command("SKU.CHECK", sku)
            self.assertEqual(check, "OK", f"SKU.CHECK {sku}: {check!r}")
        for w in workers:
            w.pending = None
        taker.pending = popper.pending = False
        return acked

    def check_counters(self, conn, workers):
        acked = 0
        for w in workers:
            value = int(conn.get(w.counter_key) or 0)
            allowed = {w.counter, w.counter + 1} if w.pending == ("incr",) else {w.counter}
            self.assertIn(value, allowed, f"{w.counter_key}: acknowledged {w.counter}")
            w.counter = value
            stored = conn.hgetall(w.hash_key)
            for field, v in w.fields.items():
                self.assertEqual(stored.get(field), v, f"{w.hash_key} {field}")
            tx = [int(conn.get(key) or 0) for key in w.tx_keys]
            self.assertEqual(len(set(tx)), 1, f"half a transaction: {dict(zip(w.tx_keys, tx))}")
            allowed = {w.tx, w.tx + 1} if w.pending == ("tx",) else {w.tx}
            self.assertIn(tx[0], allowed, f"{w.tx_keys}: acknowledged {w.tx}")
            w.tx = tx[0]
            acked += w.counter + len(w.fields) + w.tx
        return acked

    @staticmethod
    def order_state(conn, order):
        try:
            return as_map(conn.execute_command("SKU.ORDER", SKU, order))["state"]
        except redis.ResponseError:
            return None

    def check_orders(self, conn, workers, recheck):
        # Orders checked before keep their state: nobody touches them again.
        old = [(o, st) for w in workers for o, st in w.orders_checked.items()] if recheck else []
        pipe = conn.pipeline(transaction=False)
        new = [(o, st) for w in workers for o, st in w.orders.items()]
        for order, _ in old + new:
            pipe.execute_command("SKU.ORDER", SKU, order)
        replies = pipe.execute(raise_on_error=False)
        for (order, state), reply in zip(old, replies):
            self.assertIsInstance(reply, list, f"{order}: was {state}, now {reply!r}")
            self.assertEqual(as_map(reply)["state"], state, f"{order} (checked before)")
        committed = 0
        for (order, state), reply in zip(new, replies[len(old):]):
            self.assertIsInstance(reply, list, f"{order}: acknowledged {state}, now {reply!r}")
            now = as_map(reply)["state"]
            if state == "committed":
                self.assertEqual(now, "committed", order)
            else:
                self.assertIn(now, ("reserved", "committed"), order)
            committed += now == "committed"
        # An order in flight may or may not have landed; count it if it did, and go on from
        # what the server holds.
        for w in workers:
            if w.pending and w.pending[0] in ("reserve", "commit"):
                order = w.pending[1]
                state = self.order_state(conn, order)
                if order not in w.orders:
                    committed += state == "committed"
                if state is not None:
                    w.orders[order] = state
        sku = as_map(conn.execute_command("SKU.GET", SKU))
        self.committed += committed
        self.assertEqual(sku["sold"], self.committed, "sold = orders found committed")
        for w in workers:
            w.orders_checked.update(w.orders)
            w.orders = {}
        return len(new)

    def check_list(self, conn, workers, popper):
        values = conn.lrange(LIST_KEY, 0, -1)
        self.assertEqual(len(values), len(set(values)), "a value is in the list twice")
        popped_again = self.gone & set(values) | popper.popped & set(values)
        self.assertEqual(popped_again, set(), "values whose pop was acknowledged are back")
        in_list = set(values)
        lost = []
        acked = 0
        for w in workers:
            prefix = f"w{w.index}:"
            mine = [v for v in values if v.startswith(prefix)]
            sent = w.pushed + ([w.pending[1]] if w.pending and w.pending[0] == "push" else [])
            # Pops take the head, so what is left of a client's pushes is a suffix of them.
            start = len(sent) - len(mine)
            suffix_ok = sent[start:] == mine or (
                w.pending and w.pending[0] == "push" and sent[start - 1:-1] == mine)
            self.assertTrue(suffix_ok, f"{prefix}: left in the list {mine[:8]}, not the end of "
                                       f"what it pushed, in order: {sent[-len(mine) - 3:][:8]}; "
                                       f"popped: {sorted(v for v in popper.popped if v.startswith(prefix))[-8:]}")
            for v in w.pushed:
                acked += 1
                if v not in in_list and v not in popper.popped:
                    lost.append(v)
            w.pushed = [v for v in sent if v in in_list]
        # Only the BLPOP in flight at the kill may have taken a value nobody was told about.
        self.assertLessEqual(len(lost), 1 if popper.pending else 0,
                             f"acknowledged pushes neither in the list nor popped: {lost}")
        self.gone |= popper.popped | set(lost)
        popper.popped = set()
        return acked

    @staticmethod
    def call(conn, *args):
        """The reply, or the error's text (so that an assertion shows it)."""
        try:
            return conn.execute_command(*args)
        except redis.ResponseError as e:
            return f"-{e}"

    def settle_admissions(self, conn, workers, sku, book_of):
        """Checks the acknowledged admissions on `sku` and settles the ones in flight."""
        acked = 0
        for w in workers:
            book = book_of(w)
            leaving = w.pending[2] if w.pending and w.pending[:2] == ("leave", sku) else None
            pipe = conn.pipeline(transaction=False)
            for user in book.left:
                pipe.execute_command("SKU.LEAVE", sku, user)
            # Entering again answers the live admission, changing nothing; a new ticket (or
            # BADTOKEN) means the acknowledged admission was lost. The one leaving is settled
            # below.
            live = [(user, ticket) for user, ticket in book.live.items() if user != leaving]
            for user, _ in live:
                pipe.execute_command("SKU.ENTER", sku, user)
            replies = pipe.execute(raise_on_error=False)
            for user, reply in zip(book.left, replies):
                self.assertEqual(reply, 0, f"{sku} {user}: left (acknowledged), yet live")
            for (user, ticket), reply in zip(live, replies[len(book.left):]):
                got = as_map(reply).get("ticket") if isinstance(reply, list) else reply
                self.assertEqual(got, ticket,
                                 f"{sku} {user}: admitted (acknowledged) with ticket {ticket}")
            acked += len(book.left) + len(book.live)
            book.left = []
            if w.pending and w.pending[:2] == ("enter", sku):
                # It landed or not: entering again (with the same token) must admit the user.
                _, _, user, token = w.pending
                args = ["SKU.ENTER", sku, user] + (["TOKEN", token] if token else [])
                reply = self.call(conn, *args)
                self.assertIsInstance(reply, list, f"{' '.join(args)} (in flight): {reply!r}")
                book.live[user] = as_map(reply)["ticket"]
                w.tokens.pop(user, None)
            if leaving is not None:
                self.assertIn(conn.execute_command("SKU.LEAVE", sku, leaving), (0, 1))
                book.live.pop(leaving, None)
        live = sum(len(book_of(w).live) for w in workers)
        got = as_map(conn.execute_command("SKU.GET", sku))
        self.assertEqual(got["admissions"], live, f"{sku}: live admissions")
        self.assertEqual(got["held"], live, f"{sku}: held units")
        return acked

    def check_admissions(self, conn, workers, taker):
        acked = self.settle_admissions(conn, workers, ADM_SKU, lambda w: w.adm)
        live = {u: t for w in workers for u, t in w.adm.live.items()}
        handed = {}
        while True:
            batch = conn.execute_command("SKU.TAKE", ADM_SKU, TAKE_DRAIN_COUNT)
            if not batch:
                break
            for user, ticket, _ in batch:
                self.assertNotIn(user, handed, f"SKU.TAKE handed out {user} twice")
                handed[user] = ticket
        again = set(handed) & set(taker.taken)
        self.assertEqual(again, set(), "handed out again after an acknowledged SKU.TAKE")
        for user, ticket in handed.items():
            self.assertEqual(live.get(user), ticket, f"{user}: taken, but not admitted so")
        for user, ticket in taker.taken.items():
            if user in live:
                self.assertEqual(live[user], ticket, f"{user}: taken with another ticket")
        untaken = set(live) - set(taker.taken)
        missing = untaken - set(handed)
        self.assertLessEqual(len(missing), TAKE_COUNT if taker.pending else 0,
                             f"live admissions never handed out: {sorted(missing)[:10]}")
        acked += len(taker.taken)
        # Every live admission is taken now; forget the ones that are gone.
        taker.taken = {u: t for u, t in taker.taken.items() if u in live}
        taker.taken.update({u: live[u] for u in untaken})
        return acked

    def check_tokens(self, conn, workers):
        unused = {u: t for w in workers for u, t in w.tokens.items()}
        # A SKU.TOKEN in flight may have issued a token nobody knows; a SKU.ENTER ... TOKEN in
        # flight may have used one of the unused.
        issuing = sum(1 for w in workers if w.pending and w.pending[0] == "token")
        using = sum(1 for w in workers if w.pending and w.pending[:2] == ("enter", TOK_SKU))
        outstanding = as_map(conn.execute_command("SKU.GET", TOK_SKU))["outstanding_tokens"]
        known = self.unknown_tokens + len(unused)
        self.assertTrue(known - using <= outstanding <= known + issuing,
                        f"{TOK_SKU}: {outstanding} outstanding tokens; acknowledged unused "
                        f"{len(unused)}, unknown {self.unknown_tokens}, in flight: {issuing} "
                        f"issuing, {using} using")
        acked = self.settle_admissions(conn, workers, TOK_SKU, lambda w: w.tok)
        # The server's token is the one the client was given, and it works exactly once: enter
        # with it, leave, enter with it again.
        for w in workers:
            pipe = conn.pipeline(transaction=False)
            for user, token in w.tokens.items():
                pipe.execute_command("SKU.ENTER", TOK_SKU, user, "TOKEN", token)
                pipe.execute_command("SKU.LEAVE", TOK_SKU, user)
                pipe.execute_command("SKU.ENTER", TOK_SKU, user, "TOKEN", token)
            replies = pipe.execute(raise_on_error=False)
            for i, user in enumerate(w.tokens):
                entered, left, again = replies[3 * i:3 * i + 3]
                self.assertIsInstance(entered, list, f"acknowledged token of {user}: {entered!r}")
                self.assertEqual(as_map(entered)["user"], user, f"token of {user}")
                self.assertEqual(left, 1, f"SKU.LEAVE {TOK_SKU} {user} after entering")
                self.assertIsInstance(again, redis.ResponseError, f"token of {user} used twice")
                self.assertTrue(str(again).startswith("BADTOKEN"), f"{user}: {again}")
            w.tokens = {}
        acked += len(unused)
        outstanding = as_map(conn.execute_command("SKU.GET", TOK_SKU))["outstanding_tokens"]
        self.assertLessEqual(outstanding, self.unknown_tokens + issuing)
        self.unknown_tokens = outstanding
        return acked


if __name__ == "__main__":
    unittest.main()
