#!/usr/bin/python3
"""Replication over real processes (docs/replication.md): a standby follows its primary, refuses
writes, and is promoted; WAIT; sync mode's refusal and its fallback; full sync from a snapshot; a
former primary's divergent records cut when it rejoins; fencing of a paused primary.

    /usr/bin/python3 tests/integration/test_replication.py [-v]

Link faults go through tools/chaos_proxy.py. Debian's /usr/bin/python3 with python3-redis.
Skipped against redis-server (epochs, sync mode and REPLSYNC are stockd's).
"""

import os
import signal
import socket
import sys
import threading
import time
import unittest

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from chaos_proxy import Proxy  # noqa: E402
from server import Server, is_redis_binary, server_binary  # noqa: E402

WAIT_S = 10.0  # longest any state change below may take


def client(srv, **kw):
    return redis.Redis(host=srv.host, port=srv.port, decode_responses=True, socket_timeout=15,
                       **kw)


def wait_until(fn, what, timeout_s=WAIT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def info(srv, field):
    return client(srv).info("replication").get(field)


def caught_up(primary, standby):
    """Waits until the standby holds every record of the primary's log."""
    last = client(primary).execute_command("ROLE")[1]
    wait_until(lambda: client(standby).execute_command("ROLE")[4] == last,
               f"the standby to reach LSN {last}")
    return last


def digest(srv):
    return client(srv).execute_command("DEBUG", "DIGEST")


class Pair:
    """A primary and a standby (optionally through a proxy), stopped on exit."""

    def __init__(self, primary_args=(), standby_args=(), proxy=False):
        self.primary = Server(stockd_args=list(primary_args)).start()
        self.proxy = Proxy(target_port=self.primary.port) if proxy else None
        port = self.proxy.port if proxy else self.primary.port
        self.standby = Server(
            stockd_args=["--replicaof", "127.0.0.1", str(port)] + list(standby_args)).start()
        wait_until(lambda: info(self.standby, "master_link_status") == "up", "the link")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for s in (self.primary, self.standby):
            if s.alive():
                os.kill(s.proc.pid, signal.SIGCONT)
            s.stop()
        if self.proxy:
            self.proxy.close()


@unittest.skipIf(is_redis_binary(server_binary()), "stockd's replication")
class ReplicationTest(unittest.TestCase):
    def test_standby_follows_serves_reads_and_refuses_writes(self):
        with Pair() as pair:
            p, s = client(pair.primary), client(pair.standby)
            p.set("k", "v")
            p.incr("n")
            p.execute_command("SKU.SET", "sku:1", 10)
            p.execute_command("SKU.RESERVE", "sku:1", "o1", 2)
            p.execute_command("SKU.COMMIT", "sku:1", "o1")
            p.hset("h", mapping={"a": 1, "b": 2})
            with p.pipeline(transaction=True) as tx:
                tx.incr("{t}a").incr("{t}b").execute()
            caught_up(pair.primary, pair.standby)
            self.assertEqual(s.get("k"), "v")
            self.assertEqual(s.hgetall("h"), {"a": "1", "b": "2"})
            self.assertEqual(s.get("{t}b"), "1")
            self.assertEqual(digest(pair.primary), digest(pair.standby))
            with self.assertRaises(redis.exceptions.ReadOnlyError):
                s.set("k", "w")
            with self.assertRaises(redis.exceptions.ReadOnlyError):
                s.execute_command("SKU.RESERVE", "sku:1", "o2", 1)
            # In MULTI the write is refused when queued, so EXEC aborts (as on a Redis replica).
            with self.assertRaises(redis.exceptions.ResponseError):
                with s.pipeline(transaction=True) as tx:
                    tx.set("k", "w").execute()
            self.assertEqual(s.get("k"), "v")
            role = s.execute_command("ROLE")
            self.assertEqual(role[0], "slave")
            self.assertEqual(role[3], "connected")
            prole = p.execute_command("ROLE")
            self.assertEqual(prole[0], "master")
            self.assertEqual(len(prole[2]), 1)
            self.assertEqual(prole[2][0][1], str(pair.standby.port))
            pinfo = p.info("replication")
            self.assertEqual(pinfo["connected_slaves"], 1)
            self.assertEqual(pinfo["slave0"]["state"], "online")
            self.assertEqual(s.info("replication")["role"], "slave")

    def test_wait_counts_standbys_that_have_the_clients_writes(self):
        with Pair() as pair:
            p = client(pair.primary)
            p.set("k", "v")
            self.assertEqual(p.execute_command("WAIT", 1, 5000), 1)
            start = time.monotonic()
            self.assertEqual(p.execute_command("WAIT", 2, 200), 1)  # there is only one
            self.assertGreaterEqual(time.monotonic() - start, 0.19)
            with self.assertRaises(redis.ResponseError) as e:
                client(pair.standby).execute_command("WAIT", 1, 0)
            self.assertIn("replica", str(e.exception))
            with self.assertRaises(redis.ResponseError):
                p.execute_command("WAIT", 1, -1)

    def test_sync_mode_refuses_without_a_standby_and_answers_when_it_returns(self):
        with Pair(primary_args=["--repl-ack", "sync", "--repl-sync-timeout", "300"],
                  proxy=True) as pair:
            p = client(pair.primary)
            p.set("a", "1")  # acknowledged by the standby
            self.assertEqual(info(pair.primary, "repl_sync_state"), "sync")
            pair.proxy.cut(60)
            held = {}

            def write():
                held["reply"] = client(pair.primary).set("b", "2")

            t = threading.Thread(target=write)
            t.start()
            wait_until(lambda: info(pair.primary, "repl_sync_state") == "refusing", "refusing")
            with self.assertRaises(redis.ResponseError) as e:
                p.set("c", "3")
            self.assertTrue(str(e.exception).startswith("NOREPLICAS"), str(e.exception))
            self.assertNotIn("reply", held)  # never acknowledged without the standby
            pair.proxy.resume()
            t.join(WAIT_S)
            self.assertEqual(held.get("reply"), True)
            wait_until(lambda: info(pair.primary, "repl_sync_state") == "sync", "sync again")
            p.set("c", "3")
            caught_up(pair.primary, pair.standby)
            self.assertEqual(client(pair.standby).get("b"), "2")

    def test_a_demoted_sync_primary_never_acknowledges_what_it_cuts(self):
        with Pair(primary_args=["--repl-ack", "sync", "--repl-sync-timeout", "60000"],
                  proxy=True) as pair:
            client(pair.primary).set("a", "1")
            before = client(pair.primary).execute_command("ROLE")[1]
            pair.proxy.cut(120)
            held = {}

            def write():
                try:
                    held["reply"] = client(pair.primary).set("b", "2")
                except redis.ConnectionError as e:
                    held["error"] = e

            t = threading.Thread(target=write)
            t.start()
            # (A read of b would wait too: it would show an unacknowledged write.)
            wait_until(lambda: client(pair.primary).execute_command("ROLE")[1] > before,
                       "the write to be logged")
            client(pair.standby).execute_command("REPLICAOF", "NO", "ONE")
            client(pair.primary).execute_command("REPLICAOF", "127.0.0.1", pair.standby.port)
            t.join(WAIT_S)
            self.assertNotIn("reply", held)  # closed, never told OK
            self.assertIn("error", held)
            wait_until(lambda: info(pair.primary, "master_link_status") == "up", "the rejoin")
            caught_up(pair.standby, pair.primary)
            self.assertEqual(info(pair.primary, "repl_cut_records"), 1)
            self.assertIsNone(client(pair.primary).get("b"))

    def test_sync_mode_can_degrade_to_async(self):
        with Pair(primary_args=["--repl-ack", "sync", "--repl-sync-timeout", "200",
                                "--repl-sync-fallback", "async"], proxy=True) as pair:
            p = client(pair.primary)
            pair.proxy.cut(60)
            start = time.monotonic()
            p.set("b", "2")  # waits for the timeout, then is acknowledged asynchronously
            self.assertGreaterEqual(time.monotonic() - start, 0.15)
            self.assertEqual(info(pair.primary, "repl_sync_state"), "degraded")
            pair.proxy.resume()
            wait_until(lambda: info(pair.primary, "repl_sync_state") == "sync", "sync again")

    def test_a_standby_behind_a_trimmed_log_gets_a_full_sync(self):
        primary = Server().start()
        try:
            p = client(primary)
            for i in range(200):
                p.set(f"k{i}", i)
            p.execute_command("SKU.SET", "sku:1", 5)
            p.execute_command("SKU.RESERVE", "sku:1", "o1", 1)
            p.save()  # the snapshot trims the log: LSN 1 is gone
            p.set("after", "1")
            with Server(stockd_args=["--replicaof", "127.0.0.1", str(primary.port)]) as standby:
                wait_until(lambda: info(standby, "master_link_status") == "up", "the link")
                caught_up(primary, standby)
                self.assertEqual(info(standby, "repl_full_syncs"), 1)
                self.assertEqual(digest(primary), digest(standby))
                # It restarts from the snapshot it was sent plus its own log.
                standby.restart()
                self.assertEqual(client(standby).get("after"), "1")
                self.assertEqual(client(standby).get("k7"), "7")
        finally:
            primary.stop()

    def test_a_former_primary_cuts_what_the_new_one_never_had(self):
        with Pair(proxy=True) as pair:
            p = client(pair.primary)
            p.set("shared", "1")
            caught_up(pair.primary, pair.standby)
            pair.proxy.cut(60)
            for i in range(5):
                p.incr("lost")  # async: acknowledged, never shipped
            pair.primary.kill9()
            s = client(pair.standby)
            s.execute_command("REPLICAOF", "NO", "ONE")
            self.assertEqual(info(pair.standby, "repl_epoch"), 1)
            s.set("new", "1")
            pair.primary.stockd_args = ["--replicaof", "127.0.0.1", str(pair.standby.port)]
            pair.primary.restart()
            wait_until(lambda: info(pair.primary, "master_link_status") == "up", "the rejoin")
            caught_up(pair.standby, pair.primary)
            self.assertEqual(info(pair.primary, "repl_cut_records"), 5)
            self.assertIsNone(client(pair.primary).get("lost"))
            self.assertEqual(client(pair.primary).get("new"), "1")
            self.assertEqual(digest(pair.primary), digest(pair.standby))
            self.assertEqual(info(pair.primary, "repl_epoch"), 1)

    def test_a_paused_primary_is_fenced_once_its_standby_is_promoted(self):
        with Pair() as pair:
            client(pair.primary).set("k", "1")
            caught_up(pair.primary, pair.standby)
            os.kill(pair.primary.proc.pid, signal.SIGSTOP)
            client(pair.standby).execute_command("REPLICAOF", "NO", "ONE")
            os.kill(pair.primary.proc.pid, signal.SIGCONT)
            p = client(pair.primary)

            def fenced():
                try:
                    p.set("k", "2")
                    return False
                except redis.exceptions.ReadOnlyError as e:
                    return "stale" in str(e)

            wait_until(fenced, "the old primary to refuse writes")
            self.assertEqual(info(pair.primary, "repl_fenced_by_epoch"), 1)
            # Made a standby of the new primary, it follows again.
            p.execute_command("REPLICAOF", "127.0.0.1", pair.standby.port)
            wait_until(lambda: info(pair.primary, "master_link_status") == "up", "the rejoin")
            client(pair.standby).set("k", "3")
            caught_up(pair.standby, pair.primary)
            self.assertEqual(p.get("k"), "3")

    def test_failover_switches_roles_without_losing_a_write(self):
        with Pair(primary_args=["--repl-ack", "sync"]) as pair:
            p = client(pair.primary)
            for i in range(100):
                p.incr("n")
            self.assertEqual(p.execute_command("FAILOVER", "TO", "127.0.0.1", pair.standby.port,
                                               "TIMEOUT", 5000), "OK")
            wait_until(lambda: info(pair.standby, "role") == "master", "the standby to take over")
            wait_until(lambda: info(pair.primary, "master_link_status") == "up",
                       "the former primary to follow")
            s = client(pair.standby)
            self.assertEqual(s.get("n"), "100")
            s.incr("n")
            caught_up(pair.standby, pair.primary)
            self.assertEqual(p.get("n"), "101")
            self.assertEqual(info(pair.standby, "repl_epoch"), 1)
            self.assertEqual(info(pair.primary, "master_failover_state"), "no-failover")
            with self.assertRaises(redis.ResponseError):
                p.execute_command("FAILOVER")  # a standby now
            with self.assertRaises(redis.ResponseError):
                s.execute_command("FAILOVER", "ABORT")  # none in progress
            with self.assertRaises(redis.ResponseError):
                s.execute_command("FAILOVER", "TIMEOUT", 100, "FORCE")  # FORCE needs TO

    def test_the_protocol_refuses_bad_handshakes_and_the_17th_standby(self):
        """REPLSYNC over raw sockets: kReplStandbysMax (16) links at once, malformed handshakes
        answered with errors, a garbage frame from a standby drops only its own link."""
        with Server() as srv:
            c = client(srv)
            c.set("k", "v")

            def replsync(*args):
                sock = socket.create_connection((srv.host, srv.port), timeout=5)
                parts = [b"REPLSYNC"] + [str(a).encode() for a in args]
                sock.sendall(b"*%d\r\n" % len(parts) +
                             b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
                return sock, sock.recv(4096).split(b"\r\n", 1)[0]

            with self.assertRaises(redis.ResponseError):
                c.execute_command("REPLSYNC", 1, 0, "garbage")
            with self.assertRaises(redis.ResponseError):
                c.execute_command("REPLSYNC", 1, -1, "")
            links = []
            for _ in range(16):
                sock, first = replsync(1, 0, "")
                self.assertEqual(first, b"+CONTINUE 0 ", first)
                links.append(sock)
            wait_until(lambda: info(srv, "connected_slaves") == 16, "16 standbys")
            sock, first = replsync(1, 0, "")
            self.assertTrue(first.startswith(b"-ERR this primary already serves 16"), first)
            sock.close()
            # A garbage frame drops that link only; so does an acknowledgement frame over
            # kReplAckFrameBytesMax (1 KiB): the reader stops buffering it.
            links[0].sendall(b"*1\r\n$5\r\nHELLO\r\n")
            wait_until(lambda: info(srv, "connected_slaves") == 15, "the bad link to drop")
            links[1].sendall(b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$2000\r\n" + b"1" * 1000)
            wait_until(lambda: info(srv, "connected_slaves") == 14, "the oversized frame's link")
            self.assertEqual(c.get("k"), "v")
            for sock in links:
                sock.close()
            wait_until(lambda: info(srv, "connected_slaves") == 0, "the links to close")
            # A standby in a newer epoch: this primary is the stale one and fences itself.
            sock, first = replsync(1, 0, "5:1")
            self.assertTrue(first.startswith(b"-STALE"), first)
            sock.close()
            self.assertEqual(info(srv, "repl_fenced_by_epoch"), 5)
            with self.assertRaises(redis.exceptions.ReadOnlyError):
                c.set("k", "w")

    def test_replicaof_errors(self):
        with Server() as srv:
            c = client(srv)
            with self.assertRaises(redis.ResponseError):
                c.execute_command("REPLICAOF", "127.0.0.1", "70000")
            self.assertEqual(c.execute_command("REPLICAOF", "NO", "ONE"), "OK")  # already one
        with Server(stockd_args=["--appendonly", "no"]) as srv:
            with self.assertRaises(redis.ResponseError) as e:
                client(srv).execute_command("REPLICAOF", "127.0.0.1", "6379")
            self.assertIn("appendonly", str(e.exception))


if __name__ == "__main__":
    unittest.main()
