#!/usr/bin/python3
"""Foundation command set, driven through redis-py and raw sockets, with Redis 7 semantics.

Run against stockd (the default, build/stockd) or real Redis:

    /usr/bin/python3 tests/integration/test_redis_py.py [-v] [TestClass[.test_name]]
    STOCKD_SERVER=/usr/bin/redis-server /usr/bin/python3 tests/integration/test_redis_py.py

Every expectation here was checked against redis-server 7.0.15: a test that fails against real
Redis is a wrong test. Where Redis's output is specific to the server (INFO values, CLIENT LIST
fields, COMMAND DOCS text) the tests check its shape, not its values. Exact replies and error texts
are checked on raw sockets (resp.py), since redis-py strips error prefixes and cannot read RESP3
(Debian's redis-py is 4.3; protocol=3 arrived in 5.0).
"""

import os
import re
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis  # noqa: E402  (Debian's python3-redis)

from resp import RespConnection, RespError, Status, Verbatim, encode_command  # noqa: E402
from server import Server  # noqa: E402

SERVER = None  # the server shared by most tests; each test starts from FLUSHALL
PASSWORD = "s3cret-pass"
DATABASES = 16

ERR_NOT_INTEGER = "ERR value is not an integer or out of range"
ERR_SYNTAX = "ERR syntax error"
ERR_WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
ERR_NOAUTH = "NOAUTH Authentication required."
ERR_WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
ERR_EXECABORT = "EXECABORT Transaction discarded because of previous errors."


def setUpModule():
    global SERVER
    SERVER = Server()
    SERVER.start()


def tearDownModule():
    alive = SERVER.stop()
    if not alive:
        raise AssertionError(f"the server died during the tests; log:\n{SERVER.final_log}")


def client(server=None, **kwargs):
    server = server or SERVER
    kwargs.setdefault("decode_responses", True)
    kwargs.setdefault("socket_timeout", 10)
    return redis.Redis(host=server.host, port=server.port, **kwargs)


def raw(server=None):
    server = server or SERVER
    return RespConnection(server.port, host=server.host)


def is_unknown_command(reply_or_error):
    text = str(reply_or_error)
    return "unknown command" in text or "unknown subcommand" in text


class ServerTestCase(unittest.TestCase):
    """A test against the shared server: clean keyspace, one decoded client `self.r`."""

    def setUp(self):
        self.r = client(single_connection_client=True)
        self.r.flushall()
        self.addCleanup(self.r.close)

    def raw(self):
        conn = raw()
        self.addCleanup(conn.close)
        return conn

    def assertStatus(self, reply, text):
        self.assertIsInstance(reply, Status, f"expected +{text}, got {reply!r}")
        self.assertEqual(reply, text)

    def assertError(self, reply, text):
        self.assertIsInstance(reply, RespError, f"expected -{text}, got {reply!r}")
        self.assertEqual(reply, text)

    def assertErrorStartsWith(self, reply, prefix):
        self.assertIsInstance(reply, RespError, f"expected -{prefix}..., got {reply!r}")
        self.assertTrue(reply.startswith(prefix), f"{reply!r} does not start with {prefix!r}")

    def assertRespClosed(self, conn):
        self.assertTrue(conn.closed_by_peer(), "the server kept the connection open")

    def skip_unless_supported(self, *command):
        """Skips the test when the server answers `command` with unknown command."""
        try:
            self.r.execute_command(*command)
        except redis.ResponseError as e:
            if is_unknown_command(e):
                self.skipTest(f"server does not implement {command[0]}")
            raise


# ---------------------------------------------------------------------------------------------
# Connection: PING ECHO HELLO AUTH SELECT QUIT RESET CLIENT
# ---------------------------------------------------------------------------------------------

class ConnectionTest(ServerTestCase):
    def test_ping(self):
        self.assertTrue(self.r.ping())
        c = self.raw()
        self.assertStatus(c.call("PING"), "PONG")
        reply = c.call("PING", "hello world")
        self.assertEqual(reply, b"hello world")  # a bulk string, not a status
        self.assertNotIsInstance(reply, Status)
        self.assertError(c.call("PING", "a", "b"),
                         "ERR wrong number of arguments for 'ping' command")

    def test_echo(self):
        self.assertEqual(self.r.echo("héllo\r\nbinary\x00"), "héllo\r\nbinary\x00")
        c = self.raw()
        self.assertEqual(c.call("ECHO", b"\x00\xff"), b"\x00\xff")
        self.assertEqual(c.call("ECHO", ""), b"")
        self.assertError(c.call("ECHO"), "ERR wrong number of arguments for 'echo' command")
        self.assertError(c.call("ECHO", "a", "b"),
                         "ERR wrong number of arguments for 'echo' command")

    def check_hello_fields(self, fields, proto, client_id):
        self.assertEqual(list(fields), [b"server", b"version", b"proto", b"id", b"mode", b"role",
                                        b"modules"])
        self.assertIsInstance(fields[b"server"], bytes)
        self.assertRegex(fields[b"version"].decode(), r"^\d+\.\d+\.\d+")
        self.assertEqual(fields[b"proto"], proto)
        self.assertEqual(fields[b"id"], client_id)
        self.assertEqual(fields[b"mode"], b"standalone")
        self.assertEqual(fields[b"role"], b"master")
        self.assertEqual(fields[b"modules"], [])

    def test_hello_resp2(self):
        c = self.raw()
        client_id = c.call("CLIENT", "ID")
        for args in [(), ("2",)]:
            reply = c.call("HELLO", *args)
            self.assertIsInstance(reply, list)  # RESP2: a flat array of 14 items
            self.assertEqual(len(reply), 14)
            self.check_hello_fields(dict(zip(reply[::2], reply[1::2])), 2, client_id)
        # redis-py sees the same flat array.
        reply = self.r.execute_command("HELLO", 2)
        self.assertEqual(reply[:2], ["server", reply[1]])
        self.assertEqual(reply[4:6], ["proto", 2])

    def test_hello_resp3(self):
        c = self.raw()
        client_id = c.call("CLIENT", "ID")
        c.send_command("HELLO", "3")
        self.assertEqual(c.read_raw(4), b"%7\r\n")  # a RESP3 map of 7 pairs
        c.unread(b"%7\r\n")
        self.check_hello_fields(c.read(), 3, client_id)
        # Replies are now RESP3: null is "_", CONFIG GET is a map, EXEC of a dirty WATCH is null.
        c.send_command("GET", "missing")
        self.assertEqual(c.read_raw(3), b"_\r\n")
        self.assertEqual(c.call("MGET", "missing", "missing"), [None, None])
        self.assertStatus(c.call("PING"), "PONG")
        self.assertEqual(c.call("CONFIG", "GET", "maxmemory"), {b"maxmemory": b"0"})
        self.assertEqual(c.call("INCRBYFLOAT", "f", "1.5"), b"1.5")  # still a bulk string
        # HELLO with no version keeps the protocol and answers in it.
        reply = c.call("HELLO")
        self.assertIsInstance(reply, dict)
        self.assertEqual(reply[b"proto"], 3)
        # Back to RESP2.
        reply = c.call("HELLO", "2")
        self.assertIsInstance(reply, list)
        c.send_command("GET", "missing")
        self.assertEqual(c.read_raw(5), b"$-1\r\n")

    def test_hello_errors(self):
        c = self.raw()
        self.assertError(c.call("HELLO", "4"), "NOPROTO unsupported protocol version")
        self.assertError(c.call("HELLO", "1"), "NOPROTO unsupported protocol version")
        self.assertError(c.call("HELLO", "abc"),
                         "ERR Protocol version is not an integer or out of range")
        self.assertStatus(c.call("PING"), "PONG")  # still usable, still RESP2

    def test_hello_setname(self):
        c = self.raw()
        reply = c.call("HELLO", "2", "SETNAME", "hello-name")
        self.assertIsInstance(reply, list)
        self.assertEqual(c.call("CLIENT", "GETNAME"), b"hello-name")

    def test_auth_without_password_configured(self):
        c = self.raw()
        self.assertError(
            c.call("AUTH", "x"),
            "ERR AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?")
        # The two-argument form names the default user, which is "nopass": any password works.
        self.assertStatus(c.call("AUTH", "default", "x"), "OK")
        self.assertError(c.call("AUTH", "nosuchuser", "x"), ERR_WRONGPASS)
        self.assertStatus(c.call("PING"), "PONG")

    def test_select(self):
        for db in range(DATABASES):
            self.assertTrue(self.r.select(db))
            self.r.set("db-key", f"value-{db}")
        for db in range(DATABASES):
            self.r.select(db)
            self.assertEqual(self.r.get("db-key"), f"value-{db}")
            self.assertEqual(self.r.dbsize(), 1)
        c = self.raw()
        self.assertError(c.call("SELECT", str(DATABASES)), "ERR DB index is out of range")
        self.assertError(c.call("SELECT", "-1"), "ERR DB index is out of range")
        self.assertError(c.call("SELECT", "x"), ERR_NOT_INTEGER)
        self.assertStatus(c.call("SELECT", "15"), "OK")
        self.assertEqual(c.call("GET", "db-key"), b"value-15")
        # A second connection starts in db 0.
        self.assertEqual(self.raw().call("GET", "db-key"), b"value-0")

    def test_quit(self):
        c = self.raw()
        self.assertStatus(c.call("SET", "quit-key", "v"), "OK")
        self.assertStatus(c.call("QUIT"), "OK")
        self.assertRespClosed(c)
        self.assertEqual(self.r.get("quit-key"), "v")

    def test_reset(self):
        c = self.raw()
        c.call("SELECT", "3")
        c.call("CLIENT", "SETNAME", "before-reset")
        c.call("HELLO", "3")
        c.call("WATCH", "w")
        c.call("MULTI")
        self.assertStatus(c.call("SET", "in-multi", "1"), "QUEUED")
        self.assertStatus(c.call("RESET"), "RESET")
        # Name cleared, db 0, RESP2, no transaction, no watch.
        self.assertIsNone(c.call("CLIENT", "GETNAME"))
        c.send_command("GET", "missing")
        self.assertEqual(c.read_raw(5), b"$-1\r\n")
        self.assertError(c.call("EXEC"), "ERR EXEC without MULTI")
        self.assertStatus(c.call("SET", "after-reset", "1"), "OK")
        self.assertEqual(self.r.get("after-reset"), "1")  # db 0
        self.assertIsNone(self.r.get("in-multi"))
        self.r.set("w", "changed")
        self.assertStatus(c.call("MULTI"), "OK")
        c.call("SET", "x", "1")
        self.assertEqual(c.call("EXEC"), ["OK"])  # the WATCH was forgotten

    def test_redis_py_reset_and_quit(self):
        r = client(single_connection_client=True)
        self.addCleanup(r.close)
        self.assertEqual(r.reset(), "RESET")
        self.assertTrue(r.ping())


class ClientCommandTest(ServerTestCase):
    def test_client_id(self):
        a, b = self.raw(), self.raw()
        id_a, id_b = a.call("CLIENT", "ID"), b.call("CLIENT", "ID")
        self.assertIsInstance(id_a, int)
        self.assertGreater(id_a, 0)
        self.assertNotEqual(id_a, id_b)
        self.assertEqual(a.call("CLIENT", "ID"), id_a)
        self.assertGreater(self.raw().call("CLIENT", "ID"), max(id_a, id_b))  # ids only grow

    def test_setname_getname(self):
        self.assertIsNone(self.r.client_getname())
        self.assertTrue(self.r.client_setname("conn-1"))
        self.assertEqual(self.r.client_getname(), "conn-1")
        c = self.raw()
        self.assertIsNone(c.call("CLIENT", "GETNAME"))
        self.assertError(c.call("CLIENT", "SETNAME", "has space"),
                         "ERR Client names cannot contain spaces, newlines or special characters.")
        self.assertError(c.call("CLIENT", "SETNAME", "new\nline"),
                         "ERR Client names cannot contain spaces, newlines or special characters.")
        self.assertStatus(c.call("CLIENT", "SETNAME", "x"), "OK")
        self.assertStatus(c.call("CLIENT", "SETNAME", ""), "OK")  # empty name clears it
        self.assertIsNone(c.call("CLIENT", "GETNAME"))
        self.assertError(c.call("CLIENT", "SETNAME"),
                         "ERR wrong number of arguments for 'client|setname' command")

    def test_client_info_and_list(self):
        self.r.client_setname("lister")
        my_id = self.r.client_id()
        info = self.r.client_info()  # redis-py parses "k=v k=v" into a dict
        self.assertEqual(int(info["id"]), my_id)
        self.assertEqual(info["name"], "lister")
        for field in ["id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "cmd",
                      "user", "resp"]:
            self.assertIn(field, info)
        self.assertEqual(str(info["db"]), "0")
        self.assertEqual(str(info["resp"]).strip(), "2")  # redis-py keeps the "\n"
        other = self.raw()
        other_id = other.call("CLIENT", "ID")
        other.call("SELECT", "5")
        listing = self.r.client_list()
        by_id = {int(entry["id"]): entry for entry in listing}
        self.assertIn(my_id, by_id)
        self.assertIn(other_id, by_id)
        self.assertEqual(str(by_id[other_id]["db"]), "5")
        self.assertEqual(by_id[my_id]["name"], "lister")
        # Raw shape: one line per client, "key=value" fields separated by single spaces.
        text = self.raw().call("CLIENT", "LIST")
        self.assertIsInstance(text, bytes)
        lines = text.decode().split("\n")
        self.assertEqual(lines[-1], "")  # every line ends with "\n"
        for line in lines[:-1]:
            self.assertRegex(line, r"^id=\d+ addr=\S+ laddr=\S+ ")
            for field in line.split(" "):
                self.assertIn("=", field)
        info_line = self.raw().call("CLIENT", "INFO").decode()
        self.assertTrue(info_line.endswith("\n"))
        self.assertEqual(info_line.count("\n"), 1)
        # CLIENT LIST ID filters.
        only = self.r.execute_command("CLIENT", "LIST", "ID", str(other_id))
        self.assertEqual(only.count("\n"), 1)
        self.assertIn(f"id={other_id} ", only)

    def test_client_kill(self):
        victim = self.raw()
        victim_id = victim.call("CLIENT", "ID")
        self.assertEqual(self.r.client_kill_filter(_id=victim_id), 1)
        self.assertRespClosed(victim)
        self.assertEqual(self.r.client_kill_filter(_id=victim_id), 0)  # gone already
        c = self.raw()
        self.assertEqual(c.call("CLIENT", "KILL", "ID", "999999999"), 0)
        self.assertError(c.call("CLIENT", "KILL", "1.2.3.4:5"), "ERR No such client")
        # Old form: CLIENT KILL addr:port.
        victim = self.raw()
        victim_addr = victim.call("CLIENT", "INFO").decode().split(" addr=")[1].split(" ")[0]
        self.assertStatus(c.call("CLIENT", "KILL", victim_addr), "OK")
        self.assertRespClosed(victim)
        self.assertStatus(c.call("PING"), "PONG")

    def test_client_unknown_subcommand(self):
        c = self.raw()
        self.assertError(c.call("CLIENT", "NOPE"), "ERR unknown subcommand 'NOPE'. Try CLIENT HELP.")
        self.assertError(c.call("CLIENT"), "ERR wrong number of arguments for 'client' command")

    def test_client_setinfo(self):
        # CLIENT SETINFO arrived in Redis 7.2; 7.0 answers "unknown subcommand".
        c = self.raw()
        reply = c.call("CLIENT", "SETINFO", "lib-name", "stockd-tests")
        if isinstance(reply, RespError) and is_unknown_command(reply):
            self.skipTest("server predates CLIENT SETINFO (Redis 7.2)")
        self.assertStatus(reply, "OK")
        self.assertStatus(c.call("CLIENT", "SETINFO", "lib-ver", "1.2.3"), "OK")
        info = c.call("CLIENT", "INFO").decode()
        self.assertIn(" lib-name=stockd-tests ", info)
        self.assertIn(" lib-ver=1.2.3", info)
        self.assertErrorStartsWith(c.call("CLIENT", "SETINFO", "no-such-attr", "x"), "ERR ")


class AuthTest(unittest.TestCase):
    """A server started with --requirepass."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(extra_args=["--requirepass", PASSWORD])
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def raw(self):
        conn = raw(self.server)
        self.addCleanup(conn.close)
        return conn

    def test_noauth_before_auth(self):
        c = self.raw()
        self.assertEqual(c.call("GET", "k"), ERR_NOAUTH)
        self.assertIsInstance(c.call("PING"), RespError)
        self.assertEqual(c.call("PING"), ERR_NOAUTH)
        self.assertEqual(c.call("SET", "k", "v"), ERR_NOAUTH)
        self.assertTrue(c.call("HELLO", "3").startswith(
            "NOAUTH HELLO must be called with the client already authenticated"))

    def test_wrongpass(self):
        c = self.raw()
        for args in [("wrong",), ("default", "wrong"), ("nosuchuser", PASSWORD)]:
            reply = c.call("AUTH", *args)
            self.assertIsInstance(reply, RespError)
            self.assertEqual(reply, ERR_WRONGPASS)
        self.assertEqual(c.call("AUTH"), "ERR wrong number of arguments for 'auth' command")
        self.assertEqual(c.call("GET", "k"), ERR_NOAUTH)

    def test_auth_then_commands(self):
        c = self.raw()
        self.assertEqual(c.call("AUTH", PASSWORD), Status("OK"))
        self.assertEqual(c.call("SET", "k", "v"), "OK")
        self.assertEqual(c.call("GET", "k"), b"v")
        c2 = self.raw()
        self.assertEqual(c2.call("AUTH", "default", PASSWORD), "OK")
        self.assertEqual(c2.call("GET", "k"), b"v")

    def test_hello_auth(self):
        c = self.raw()
        self.assertEqual(c.call("HELLO", "3", "AUTH", "default", "wrong"), ERR_WRONGPASS)
        reply = c.call("HELLO", "3", "AUTH", "default", PASSWORD, "SETNAME", "h3")
        self.assertIsInstance(reply, dict)
        self.assertEqual(reply[b"proto"], 3)
        self.assertEqual(c.call("CLIENT", "GETNAME"), b"h3")

    def test_reset_deauthenticates(self):
        c = self.raw()
        c.call("AUTH", PASSWORD)
        self.assertEqual(c.call("RESET"), "RESET")
        self.assertEqual(c.call("GET", "k"), ERR_NOAUTH)

    def test_quit_without_auth(self):
        c = self.raw()
        self.assertEqual(c.call("QUIT"), "OK")
        self.assertTrue(c.closed_by_peer())

    def test_redis_py(self):
        r = client(self.server, password=PASSWORD)
        self.addCleanup(r.close)
        self.assertTrue(r.set("py", "1"))
        self.assertEqual(r.get("py"), "1")
        bad = client(self.server, password="wrong")
        self.addCleanup(bad.close)
        with self.assertRaises(redis.ResponseError) as ctx:  # redis-py 4.3 maps no WRONGPASS
            bad.ping()
        self.assertTrue(str(ctx.exception).startswith("WRONGPASS"), str(ctx.exception))
        anonymous = client(self.server)
        self.addCleanup(anonymous.close)
        with self.assertRaises(redis.AuthenticationError) as ctx:
            anonymous.get("py")
        self.assertEqual(str(ctx.exception), "Authentication required.")


# ---------------------------------------------------------------------------------------------
# Server: COMMAND INFO DBSIZE FLUSHDB FLUSHALL TIME CONFIG
# ---------------------------------------------------------------------------------------------

FOUNDATION_COMMANDS = [
    "ping", "echo", "hello", "auth", "select", "quit", "reset", "client", "command", "info",
    "dbsize", "flushdb", "flushall", "time", "config", "del", "unlink", "exists", "type",
    "rename", "renamenx", "randomkey", "keys", "scan", "expire", "pexpire", "expireat",
    "pexpireat", "ttl", "pttl", "expiretime", "pexpiretime", "persist", "get", "set", "setnx",
    "setex", "psetex", "getset", "getdel", "getex", "mget", "mset", "msetnx", "incr", "decr",
    "incrby", "decrby", "incrbyfloat", "append", "strlen", "getrange", "setrange", "multi",
    "exec", "discard", "watch", "unwatch",
]


class CommandIntrospectionTest(ServerTestCase):
    def test_command_count_and_list(self):
        count = self.r.command_count()
        self.assertIsInstance(count, int)
        names = self.r.command_list()
        self.assertEqual(len(set(names)), len(names))
        # COMMAND LIST names subcommands too ("config|get"); COMMAND COUNT does not count them.
        self.assertEqual(len([n for n in names if "|" not in n]), count)
        for name in FOUNDATION_COMMANDS + ["config|get", "config|set", "client|id"]:
            self.assertIn(name, names)  # lower case
        self.assertEqual(self.r.command_list(pattern="getr*"), ["getrange"])
        self.assertEqual(sorted(self.r.command_list(pattern="config|[gs]et")),
                         ["config|get", "config|set"])

    def test_command_info(self):
        c = self.raw()
        expect = {  # name: (arity, first key, last key, step, a flag it must have)
            "get": (2, 1, 1, 1, "readonly"),
            "set": (-3, 1, 1, 1, "write"),
            "mset": (-3, 1, -1, 2, "write"),
            "mget": (-2, 1, -1, 1, "readonly"),
            "del": (-2, 1, -1, 1, "write"),
            "ping": (-1, 0, 0, 0, "fast"),
            "incr": (2, 1, 1, 1, "fast"),
        }
        reply = c.call("COMMAND", "INFO", *expect.keys())
        self.assertEqual(len(reply), len(expect))
        for entry, (name, (arity, first, last, step, flag)) in zip(reply, expect.items()):
            self.assertGreaterEqual(len(entry), 10)
            self.assertEqual(entry[0], name.encode())
            self.assertEqual(entry[1:2] + entry[3:6], [arity, first, last, step], name)
            self.assertIsInstance(entry[2], list)
            for f in entry[2]:
                self.assertIsInstance(f, Status)  # flags are simple strings
            self.assertIn(flag, entry[2], name)
        self.assertEqual(c.call("COMMAND", "INFO", "no-such-command"), [None])
        # redis-py's COMMAND parser reads the full table.
        table = self.r.command()
        self.assertEqual(table["get"]["arity"], 2)
        self.assertEqual(len(table), self.r.command_count())

    def test_command_docs(self):
        c = self.raw()
        reply = c.call("COMMAND", "DOCS", "get", "set")
        self.assertIsInstance(reply, list)  # RESP2: name, doc, name, doc
        self.assertEqual(len(reply), 4)
        docs = dict(zip(reply[::2], reply[1::2]))
        self.assertEqual(set(docs), {b"get", b"set"})
        for doc in docs.values():
            fields = dict(zip(doc[::2], doc[1::2]))
            for key in [b"summary", b"since", b"group", b"complexity", b"arguments"]:
                self.assertIn(key, fields)
            self.assertEqual(fields[b"group"], b"string")
        self.assertEqual(c.call("COMMAND", "DOCS", "no-such-command"), [])


INFO_SECTIONS = {  # section: fields the section must hold
    "server": ["redis_version", "tcp_port", "process_id", "uptime_in_seconds", "run_id"],
    "clients": ["connected_clients", "blocked_clients"],
    "memory": ["used_memory", "used_memory_human"],
    "persistence": ["loading"],
    "stats": ["total_connections_received", "total_commands_processed", "keyspace_hits",
              "keyspace_misses", "expired_keys"],
    "replication": ["role", "connected_slaves"],
    "cpu": ["used_cpu_sys", "used_cpu_user"],
}


class InfoTest(ServerTestCase):
    def test_info_default_parses(self):
        info = self.r.info()
        self.assertIsInstance(info, dict)
        for section, fields in INFO_SECTIONS.items():
            for field in fields:
                self.assertIn(field, info, f"INFO lacks {field} ({section})")
        self.assertEqual(info["tcp_port"], SERVER.port)
        self.assertRegex(str(info["redis_version"]), r"^\d+\.\d+\.\d+")
        self.assertEqual(info["role"], "master")
        self.assertGreaterEqual(info["connected_clients"], 1)
        self.assertIsInstance(info["used_memory"], int)

    def test_info_raw_shape(self):
        text = self.raw().call("INFO").decode()
        self.assertIn("\r\n", text)
        headers = []
        for line in text.split("\r\n"):
            if not line:
                continue
            if line.startswith("# "):
                headers.append(line[2:].lower())
            else:
                self.assertRegex(line, r"^[a-zA-Z0-9_.|-]+:", line)
        for section in list(INFO_SECTIONS) + ["keyspace"]:
            self.assertIn(section, headers)
        self.assertNotIn("commandstats", headers)  # not in the default set

    def test_each_section(self):
        for section, fields in INFO_SECTIONS.items():
            info = self.r.info(section)
            for field in fields:
                self.assertIn(field, info, f"INFO {section} lacks {field}")
            text = self.raw().call("INFO", section).decode()
            self.assertTrue(text.lower().startswith("# " + section), text[:40])
            headers = [line for line in text.split("\r\n") if line.startswith("# ")]
            self.assertEqual(len(headers), 1, f"INFO {section} holds other sections: {headers}")
        two = self.raw().call("INFO", "server", "clients").decode().lower()
        self.assertIn("# server", two)
        self.assertIn("# clients", two)
        self.assertNotIn("# memory", two)
        self.assertEqual(self.raw().call("INFO", "no-such-section"), b"")

    def test_keyspace(self):
        self.assertEqual(self.r.info("keyspace"), {})
        self.r.mset({"k1": "1", "k2": "2", "k3": "3"})
        self.r.expire("k1", 1000)
        self.r.select(3)
        self.r.set("other-db", "1")
        info = self.r.info("keyspace")
        self.assertEqual(set(info), {"db0", "db3"})
        self.assertEqual(info["db0"]["keys"], 3)
        self.assertEqual(info["db0"]["expires"], 1)
        self.assertIn("avg_ttl", info["db0"])
        self.assertEqual(info["db3"], {"keys": 1, "expires": 0, "avg_ttl": 0})
        text = self.raw().call("INFO", "keyspace").decode()
        self.assertRegex(text, r"# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=\d+\r\n"
                               r"db3:keys=1,expires=0,avg_ttl=0\r\n")

    def test_commandstats_and_resetstat(self):
        for _ in range(3):
            self.r.set("cs", "1")
        self.r.get("cs")
        stats = self.r.info("commandstats")
        self.assertGreaterEqual(stats["cmdstat_set"]["calls"], 3)
        for field in ["calls", "usec", "usec_per_call", "rejected_calls", "failed_calls"]:
            self.assertIn(field, stats["cmdstat_set"])
        self.assertIn("cmdstat_get", stats)
        self.assertTrue(self.r.config_resetstat())
        stats = self.r.info("commandstats")
        self.assertNotIn("cmdstat_set", stats)
        self.assertLess(self.r.info("stats")["total_commands_processed"], 10)
        self.r.set("cs", "2")
        self.assertIn("cmdstat_set", self.r.info("all"))  # "all" includes commandstats
        self.assertNotIn("cmdstat_set", self.r.info())  # the default set does not


class ServerCommandsTest(ServerTestCase):
    def test_dbsize_flushdb_flushall(self):
        self.assertEqual(self.r.dbsize(), 0)
        self.r.mset({f"k{i}": i for i in range(10)})
        self.assertEqual(self.r.dbsize(), 10)
        self.r.select(1)
        self.r.set("db1", "x")
        self.assertEqual(self.r.dbsize(), 1)
        self.assertTrue(self.r.flushdb())  # only db 1
        self.assertEqual(self.r.dbsize(), 0)
        self.r.select(0)
        self.assertEqual(self.r.dbsize(), 10)
        self.r.select(2)
        self.r.set("db2", "x")
        self.assertTrue(self.r.flushall())
        self.assertEqual(self.r.dbsize(), 0)
        self.r.select(0)
        self.assertEqual(self.r.dbsize(), 0)
        c = self.raw()
        self.assertStatus(c.call("FLUSHDB", "ASYNC"), "OK")
        self.assertStatus(c.call("FLUSHDB", "SYNC"), "OK")
        self.assertStatus(c.call("FLUSHALL", "SYNC"), "OK")
        self.assertError(c.call("FLUSHDB", "foo"), ERR_SYNTAX)
        self.assertError(c.call("DBSIZE", "x"), "ERR wrong number of arguments for 'dbsize' command")

    def test_time(self):
        reply = self.raw().call("TIME")
        self.assertEqual(len(reply), 2)
        self.assertIsInstance(reply[0], bytes)  # two bulk strings
        seconds, micros = int(reply[0]), int(reply[1])
        self.assertLess(abs(seconds + micros / 1e6 - time.time()), 5)
        self.assertTrue(0 <= micros < 1_000_000)
        self.assertEqual(len(self.r.time()), 2)

    def test_config_get_set(self):
        self.assertEqual(self.r.config_get("port"), {"port": str(SERVER.port)})
        self.assertEqual(os.path.realpath(self.r.config_get("dir")["dir"]),
                         os.path.realpath(SERVER.dir))
        self.assertEqual(self.r.config_get("no-such-parameter"), {})
        self.assertEqual(self.r.config_get("maxmemory"), {"maxmemory": "0"})
        try:
            self.assertTrue(self.r.config_set("maxmemory", "100mb"))
            self.assertEqual(self.r.config_get("maxmemory"), {"maxmemory": "104857600"})
            c = self.raw()
            self.assertStatus(c.call("CONFIG", "SET", "maxmemory", "1000", "timeout", "30"), "OK")
            reply = c.call("CONFIG", "GET", "maxmemory", "timeout")
            self.assertEqual(dict(zip(reply[::2], reply[1::2])),
                             {b"maxmemory": b"1000", b"timeout": b"30"})
            glob = self.r.config_get("maxmemory*")
            self.assertIn("maxmemory", glob)
            self.assertGreater(len(glob), 1)
            self.assertError(
                c.call("CONFIG", "SET", "no-such-parameter", "1"),
                "ERR Unknown option or number of arguments for CONFIG SET - 'no-such-parameter'")
            self.assertErrorStartsWith(c.call("CONFIG", "SET", "maxmemory", "lots"),
                                       "ERR CONFIG SET failed (possibly related to argument "
                                       "'maxmemory')")
            self.assertError(c.call("CONFIG", "SET", "maxmemory"),
                             "ERR wrong number of arguments for 'config|set' command")
            self.assertError(c.call("CONFIG", "GET"),
                             "ERR wrong number of arguments for 'config|get' command")
        finally:
            self.r.config_set("maxmemory", "0")
            self.r.config_set("timeout", "0")


# ---------------------------------------------------------------------------------------------
# Keys and expiry
# ---------------------------------------------------------------------------------------------

class KeysTest(ServerTestCase):
    def test_del_unlink_exists(self):
        self.r.mset({"a": "1", "b": "2", "c": "3"})
        self.assertEqual(self.r.exists("a", "a", "b", "missing"), 3)  # duplicates count
        self.assertEqual(self.r.delete("a", "a", "missing"), 1)
        self.assertEqual(self.r.unlink("b", "c", "missing"), 2)
        self.assertEqual(self.r.exists("a", "b", "c"), 0)
        c = self.raw()
        self.assertError(c.call("EXISTS"), "ERR wrong number of arguments for 'exists' command")
        self.assertError(c.call("DEL"), "ERR wrong number of arguments for 'del' command")

    def test_type(self):
        self.r.set("s", "v")
        c = self.raw()
        self.assertStatus(c.call("TYPE", "s"), "string")
        self.assertStatus(c.call("TYPE", "missing"), "none")
        reply = c.call("LPUSH", "l", "x")
        if not is_unknown_command(reply):
            self.assertStatus(c.call("TYPE", "l"), "list")

    def test_rename(self):
        self.r.set("src", "v", ex=100)
        self.assertTrue(self.r.rename("src", "dst"))
        self.assertIsNone(self.r.get("src"))
        self.assertEqual(self.r.get("dst"), "v")
        self.assertTrue(90 < self.r.ttl("dst") <= 100)  # the TTL moves with the value
        self.r.set("other", "o")
        self.assertTrue(self.r.rename("other", "dst"))  # overwrites, and drops dst's TTL
        self.assertEqual(self.r.get("dst"), "o")
        self.assertEqual(self.r.ttl("dst"), -1)
        c = self.raw()
        self.assertError(c.call("RENAME", "missing", "x"), "ERR no such key")
        self.assertStatus(c.call("RENAME", "dst", "dst"), "OK")
        self.assertEqual(c.call("GET", "dst"), b"o")

    def test_rename_many_keys(self):
        # Sources and destinations spread over every shard.
        keys = {f"rn:{i}": str(i) for i in range(200)}
        self.r.mset(keys)
        for i in range(200):
            self.r.rename(f"rn:{i}", f"moved:{i}")
        self.assertEqual(self.r.mget([f"moved:{i}" for i in range(200)]),
                         [str(i) for i in range(200)])
        self.assertEqual(self.r.exists(*keys), 0)

    def test_renamenx(self):
        self.r.mset({"a": "1", "b": "2"})
        self.assertFalse(self.r.renamenx("a", "b"))
        self.assertEqual(self.r.mget("a", "b"), ["1", "2"])
        self.assertTrue(self.r.renamenx("a", "c"))
        self.assertEqual(self.r.mget("a", "c"), [None, "1"])
        c = self.raw()
        self.assertError(c.call("RENAMENX", "missing", "x"), "ERR no such key")
        self.assertEqual(c.call("RENAMENX", "c", "c"), 0)

    def test_randomkey(self):
        self.assertIsNone(self.r.randomkey())
        keys = {f"rk{i}" for i in range(20)}
        self.r.mset({k: "v" for k in keys})
        seen = {self.r.randomkey() for _ in range(50)}
        self.assertTrue(seen <= keys)
        self.assertGreater(len(seen), 1)

    def test_keys_patterns(self):
        names = ["hello", "hallo", "hxllo", "hllo", "heeeello", "hillo", "h*llo", "other", "a:1",
                 "a:2", "b:1"]
        self.r.mset({n: "1" for n in names})

        def keys(pattern):
            return sorted(self.r.keys(pattern))

        self.assertEqual(keys("*"), sorted(names))
        self.assertEqual(keys("h?llo"), ["h*llo", "hallo", "hello", "hillo", "hxllo"])
        self.assertEqual(keys("h*llo"), ["h*llo", "hallo", "heeeello", "hello", "hillo", "hllo",
                                         "hxllo"])
        self.assertEqual(keys("h[ae]llo"), ["hallo", "hello"])
        self.assertEqual(keys("h[^e]llo"), ["h*llo", "hallo", "hillo", "hxllo"])
        self.assertEqual(keys("h[a-b]llo"), ["hallo"])
        self.assertEqual(keys("h\\*llo"), ["h*llo"])
        self.assertEqual(keys("a:*"), ["a:1", "a:2"])
        self.assertEqual(keys("nomatch*"), [])

    def test_scan_basics(self):
        c = self.raw()
        self.assertEqual(c.call("SCAN", "0"), [b"0", []])  # cursor is a bulk string
        self.r.mset({f"user:{i}": i for i in range(30)})
        self.r.mset({f"item:{i}": i for i in range(30)})
        cursor, batch = self.r.scan(0, count=5)
        self.assertIsInstance(cursor, int)
        self.assertGreater(len(batch), 0)
        self.assertEqual(sorted(self.r.scan_iter(match="user:*")),
                         sorted(f"user:{i}" for i in range(30)))
        self.assertEqual(sorted(self.r.scan_iter(match="item:1*", count=7)),
                         sorted(["item:1"] + [f"item:1{i}" for i in range(10)]))
        self.assertEqual(len(set(self.r.scan_iter(_type="string"))), 60)
        self.assertEqual(list(self.r.scan_iter(_type="list")), [])
        self.assertError(c.call("SCAN", "abc"), "ERR invalid cursor")
        self.assertError(c.call("SCAN", "0", "COUNT", "0"), ERR_SYNTAX)
        self.assertError(c.call("SCAN", "0", "COUNT", "x"), ERR_NOT_INTEGER)
        self.assertError(c.call("SCAN", "0", "MATCH"), ERR_SYNTAX)
        self.assertError(c.call("SCAN", "0", "FOO", "1"), ERR_SYNTAX)

    def test_scan_iter_5000_keys(self):
        expected = {f"scan:{i}" for i in range(5000)}
        pipe = self.r.pipeline(transaction=False)
        for i in range(0, 5000, 500):
            pipe.mset({f"scan:{j}": j for j in range(i, i + 500)})
        pipe.execute()
        for count in (10, 1000):
            seen = list(self.r.scan_iter(count=count))
            self.assertEqual(set(seen), expected)  # every key at least once, nothing else
            self.assertLess(len(seen), 2 * len(expected))


class ExpireTest(ServerTestCase):
    def test_ttl_pttl_persist(self):
        self.r.set("k", "v")
        self.assertEqual(self.r.ttl("k"), -1)
        self.assertEqual(self.r.pttl("k"), -1)
        self.assertEqual(self.r.ttl("missing"), -2)
        self.assertEqual(self.r.pttl("missing"), -2)
        self.assertTrue(self.r.expire("k", 100))
        self.assertTrue(95 <= self.r.ttl("k") <= 100)
        self.assertTrue(95_000 <= self.r.pttl("k") <= 100_000)
        self.assertTrue(self.r.persist("k"))
        self.assertFalse(self.r.persist("k"))
        self.assertFalse(self.r.persist("missing"))
        self.assertEqual(self.r.ttl("k"), -1)
        self.assertFalse(self.r.expire("missing", 100))
        self.assertTrue(self.r.pexpire("k", 50_000))
        self.assertTrue(45_000 <= self.r.pttl("k") <= 50_000)

    def test_expireat_and_expiretime(self):
        self.r.set("k", "v")
        c = self.raw()
        self.assertEqual(c.call("EXPIRETIME", "k"), -1)
        self.assertEqual(c.call("PEXPIRETIME", "k"), -1)
        self.assertEqual(c.call("EXPIRETIME", "missing"), -2)
        self.assertEqual(c.call("PEXPIRETIME", "missing"), -2)
        at = int(time.time()) + 1000
        self.assertEqual(c.call("EXPIREAT", "k", str(at)), 1)
        self.assertEqual(c.call("EXPIRETIME", "k"), at)
        self.assertEqual(c.call("PEXPIRETIME", "k"), at * 1000)
        self.assertEqual(c.call("PEXPIREAT", "k", str(at * 1000 + 555)), 1)
        self.assertEqual(c.call("PEXPIRETIME", "k"), at * 1000 + 555)
        self.assertEqual(c.call("EXPIRETIME", "k"), at + 1)  # milliseconds round to nearest
        self.assertEqual(c.call("PEXPIREAT", "k", str(at * 1000 + 499)), 1)
        self.assertEqual(c.call("EXPIRETIME", "k"), at)
        self.assertEqual(c.call("EXPIREAT", "missing", str(at)), 0)
        # A time in the past deletes the key at once.
        self.assertEqual(c.call("EXPIREAT", "k", "1"), 1)
        self.assertEqual(c.call("EXISTS", "k"), 0)
        c.call("SET", "k", "v")
        self.assertEqual(c.call("PEXPIREAT", "k", "1"), 1)
        self.assertEqual(c.call("EXISTS", "k"), 0)
        c.call("SET", "k", "v")
        self.assertEqual(c.call("EXPIRE", "k", "-1"), 1)  # negative TTL deletes too
        self.assertEqual(c.call("EXISTS", "k"), 0)

    def test_expire_options(self):
        c = self.raw()
        c.call("SET", "k", "v")
        self.assertEqual(c.call("EXPIRE", "k", "100", "XX"), 0)  # no TTL yet
        self.assertEqual(c.call("EXPIRE", "k", "100", "GT"), 0)  # no TTL counts as infinite
        self.assertEqual(c.call("EXPIRE", "k", "100", "NX"), 1)
        self.assertEqual(c.call("EXPIRE", "k", "200", "NX"), 0)
        self.assertEqual(c.call("EXPIRE", "k", "50", "GT"), 0)
        self.assertEqual(c.call("EXPIRE", "k", "200", "GT"), 1)
        self.assertEqual(c.call("EXPIRE", "k", "300", "LT"), 0)
        self.assertEqual(c.call("EXPIRE", "k", "150", "LT"), 1)
        self.assertEqual(c.call("EXPIRE", "k", "120", "XX"), 1)
        self.assertEqual(c.call("TTL", "k"), 120)
        c.call("PERSIST", "k")
        self.assertEqual(c.call("EXPIRE", "k", "10", "LT"), 1)  # anything is less than infinite
        self.assertEqual(c.call("PEXPIRE", "k", "20000", "GT"), 1)
        self.assertEqual(c.call("EXPIRETIME", "k") - int(time.time()) in range(18, 22), True)
        at = int(time.time()) + 5000
        self.assertEqual(c.call("EXPIREAT", "k", str(at), "GT"), 1)
        self.assertEqual(c.call("PEXPIREAT", "k", str(at * 1000 - 1), "GT"), 0)
        self.assertEqual(c.call("EXPIREAT", "k", str(at), "NX"), 0)
        self.assertEqual(c.call("PEXPIREAT", "k", str(at * 1000 - 1), "LT"), 1)
        self.assertEqual(c.call("PEXPIRETIME", "k"), at * 1000 - 1)
        self.assertError(c.call("EXPIRE", "k", "10", "NX", "XX"),
                         "ERR NX and XX, GT or LT options at the same time are not compatible")
        self.assertError(c.call("EXPIRE", "k", "10", "GT", "LT"),
                         "ERR GT and LT options at the same time are not compatible")
        self.assertError(c.call("EXPIRE", "k", "10", "FOO"), "ERR Unsupported option FOO")
        self.assertError(c.call("EXPIRE", "k", "abc"), ERR_NOT_INTEGER)
        self.assertError(c.call("EXPIRE", "k", "9223372036854775807"),
                         "ERR invalid expire time in 'expire' command")
        self.assertError(c.call("PEXPIRE", "k", "9223372036854775807"),
                         "ERR invalid expire time in 'pexpire' command")
        # redis-py's keyword spelling.
        self.assertFalse(self.r.expire("k", 10, nx=True))
        self.assertTrue(self.r.expire("k", 10, xx=True))

    def test_lazy_expiry(self):
        self.r.set("short", "v", px=300)
        self.r.set("long", "v", ex=100)
        self.assertEqual(self.r.get("short"), "v")
        time.sleep(0.45)
        self.assertIsNone(self.r.get("short"))
        self.assertEqual(self.r.exists("short"), 0)
        self.assertEqual(self.r.ttl("short"), -2)
        self.assertEqual(self.r.keys("*"), ["long"])
        self.assertEqual(list(self.r.scan_iter()), ["long"])
        self.assertEqual(self.r.get("long"), "v")
        # Expired keys are not seen by NX, INCR or APPEND either.
        self.r.set("gone", "5", px=50)
        time.sleep(0.15)
        self.assertTrue(self.r.set("gone", "new", nx=True))
        self.r.set("n", "41", px=50)
        time.sleep(0.15)
        self.assertEqual(self.r.incr("n"), 1)
        self.assertEqual(self.r.ttl("n"), -1)

    def test_active_expiry(self):
        pipe = self.r.pipeline(transaction=False)
        for i in range(300):
            pipe.set(f"ttl:{i}", "v", px=100)
        pipe.mset({f"keep:{i}": "v" for i in range(5)})
        pipe.execute()
        deadline = time.monotonic() + 2.5
        size = self.r.dbsize()
        while size != 5 and time.monotonic() < deadline:
            time.sleep(0.1)
            size = self.r.dbsize()  # DBSIZE touches no key: only active expiry shrinks it
        self.assertEqual(size, 5, "keys with a 100 ms TTL were not expired actively within 2.5 s")
        self.assertEqual(self.r.info("keyspace")["db0"]["keys"], 5)


# ---------------------------------------------------------------------------------------------
# Strings
# ---------------------------------------------------------------------------------------------

class StringsTest(ServerTestCase):
    def test_get_set(self):
        self.assertIsNone(self.r.get("k"))
        self.assertTrue(self.r.set("k", "v"))
        self.assertEqual(self.r.get("k"), "v")
        binary = client(decode_responses=False)
        self.addCleanup(binary.close)
        value = bytes(range(256)) * 4
        binary.set(b"bin\x00key", value)
        self.assertEqual(binary.get(b"bin\x00key"), value)
        big = "x" * (1 << 20)
        self.r.set("big", big)
        self.assertEqual(self.r.get("big"), big)
        self.r.set("empty", "")
        self.assertEqual(self.r.get("empty"), "")
        self.assertEqual(self.r.exists("empty"), 1)

    def test_set_options(self):
        c = self.raw()
        self.assertIsNone(c.call("SET", "k", "v", "XX"))
        self.assertStatus(c.call("SET", "k", "v", "NX"), "OK")
        self.assertIsNone(c.call("SET", "k", "w", "NX"))
        self.assertStatus(c.call("SET", "k", "w", "XX"), "OK")
        self.assertEqual(c.call("GET", "k"), b"w")
        # GET returns the old value (a bulk), or nil.
        self.assertEqual(c.call("SET", "k", "x", "GET"), b"w")
        self.assertIsNone(c.call("SET", "new", "x", "GET"))
        self.assertEqual(c.call("SET", "k", "y", "NX", "GET"), b"x")  # not set, old value
        self.assertEqual(c.call("GET", "k"), b"x")
        self.assertIsNone(c.call("SET", "nx-get", "1", "NX", "GET"))
        self.assertEqual(c.call("GET", "nx-get"), b"1")
        self.assertEqual(c.call("SET", "k", "z", "XX", "GET"), b"x")
        # Expiry options.
        self.assertStatus(c.call("SET", "k", "v", "EX", "100"), "OK")
        self.assertEqual(c.call("TTL", "k"), 100)
        self.assertStatus(c.call("SET", "k", "v", "PX", "100000"), "OK")
        self.assertTrue(99_000 <= c.call("PTTL", "k") <= 100_000)
        self.assertStatus(c.call("SET", "k", "v2", "KEEPTTL"), "OK")
        self.assertTrue(99_000 <= c.call("PTTL", "k") <= 100_000)
        self.assertStatus(c.call("SET", "k", "v3"), "OK")
        self.assertEqual(c.call("TTL", "k"), -1)  # plain SET clears the TTL
        at = int(time.time()) + 500
        self.assertStatus(c.call("SET", "k", "v", "EXAT", str(at)), "OK")
        self.assertEqual(c.call("EXPIRETIME", "k"), at)
        self.assertStatus(c.call("SET", "k", "v", "PXAT", str(at * 1000 + 7)), "OK")
        self.assertEqual(c.call("PEXPIRETIME", "k"), at * 1000 + 7)
        self.assertStatus(c.call("SET", "k", "v", "EXAT", "1"), "OK")  # already past
        self.assertEqual(c.call("EXISTS", "k"), 0)
        self.assertStatus(c.call("SET", "k", "v", "ex", "10", "nx"), "OK")  # case-insensitive

    def test_set_errors(self):
        c = self.raw()
        for args in [("EX", "10", "PX", "100"), ("KEEPTTL", "EX", "10"), ("NX", "XX"),
                     ("EX",), ("FOO",), ("EX", "10", "EXAT", "20")]:
            self.assertError(c.call("SET", "k", "v", *args), ERR_SYNTAX)
        for args in [("EX", "0"), ("EX", "-1"), ("PX", "0"), ("EX", "9223372036854775807"),
                     ("PX", "9223372036854775807"), ("EXAT", "0"), ("PXAT", "-5")]:
            self.assertError(c.call("SET", "k", "v", *args),
                             "ERR invalid expire time in 'set' command")
        self.assertError(c.call("SET", "k", "v", "EX", "abc"), ERR_NOT_INTEGER)
        self.assertError(c.call("SET", "k"), "ERR wrong number of arguments for 'set' command")
        self.assertEqual(c.call("EXISTS", "k"), 0)  # nothing was set

    def test_set_with_redis_py_keywords(self):
        self.assertTrue(self.r.set("k", "v", ex=10, nx=True))
        self.assertIsNone(self.r.set("k", "v", nx=True))
        self.assertTrue(self.r.set("k", "x", keepttl=True))
        self.assertEqual(self.r.ttl("k"), 10)
        self.assertEqual(self.r.set("k", "w", get=True), "x")
        self.assertEqual(self.r.ttl("k"), -1)

    def test_setnx_setex_psetex(self):
        self.assertTrue(self.r.setnx("k", "1"))
        self.assertFalse(self.r.setnx("k", "2"))
        self.assertEqual(self.r.get("k"), "1")
        self.assertTrue(self.r.setex("k", 100, "v"))
        self.assertEqual(self.r.ttl("k"), 100)
        self.assertTrue(self.r.psetex("k", 5000, "w"))
        self.assertTrue(4000 <= self.r.pttl("k") <= 5000)
        self.assertEqual(self.r.get("k"), "w")
        c = self.raw()
        self.assertError(c.call("SETEX", "k", "0", "v"),
                         "ERR invalid expire time in 'setex' command")
        self.assertError(c.call("SETEX", "k", "-5", "v"),
                         "ERR invalid expire time in 'setex' command")
        self.assertError(c.call("PSETEX", "k", "0", "v"),
                         "ERR invalid expire time in 'psetex' command")
        self.assertError(c.call("SETEX", "k", "abc", "v"), ERR_NOT_INTEGER)

    def test_getset_getdel_getex(self):
        self.assertIsNone(self.r.getset("k", "1"))
        self.assertEqual(self.r.getset("k", "2"), "1")
        self.r.expire("k", 100)
        self.assertEqual(self.r.getset("k", "3"), "2")
        self.assertEqual(self.r.ttl("k"), -1)  # GETSET drops the TTL
        self.assertEqual(self.r.getdel("k"), "3")
        self.assertIsNone(self.r.getdel("k"))
        self.assertEqual(self.r.exists("k"), 0)
        self.r.set("k", "v")
        self.assertEqual(self.r.getex("k", ex=100), "v")
        self.assertEqual(self.r.ttl("k"), 100)
        self.assertEqual(self.r.getex("k", px=50_000), "v")
        self.assertTrue(45_000 <= self.r.pttl("k") <= 50_000)
        at = int(time.time()) + 1000
        self.assertEqual(self.r.getex("k", exat=at), "v")
        self.assertEqual(self.r.expiretime("k"), at)
        self.assertEqual(self.r.getex("k", pxat=at * 1000 + 1), "v")
        self.assertEqual(self.r.pexpiretime("k"), at * 1000 + 1)
        self.assertEqual(self.r.getex("k"), "v")
        self.assertEqual(self.r.pexpiretime("k"), at * 1000 + 1)  # plain GETEX keeps the TTL
        self.assertEqual(self.r.getex("k", persist=True), "v")
        self.assertEqual(self.r.ttl("k"), -1)
        self.assertIsNone(self.r.getex("missing", ex=10))
        c = self.raw()
        self.assertError(c.call("GETEX", "k", "EX", "1", "PX", "1"), ERR_SYNTAX)
        self.assertError(c.call("GETEX", "k", "KEEPTTL"), ERR_SYNTAX)
        self.assertError(c.call("GETEX", "k", "EX", "0"),
                         "ERR invalid expire time in 'getex' command")

    def test_mget_mset_msetnx(self):
        self.assertTrue(self.r.mset({"a": "1", "b": "2", "c": "3"}))
        self.assertEqual(self.r.mget("a", "missing", "c", "a"), ["1", None, "3", "1"])
        self.assertFalse(self.r.msetnx({"c": "x", "d": "4"}))  # c exists: nothing is set
        self.assertIsNone(self.r.get("d"))
        self.assertTrue(self.r.msetnx({"d": "4", "e": "5"}))
        self.assertEqual(self.r.mget("d", "e"), ["4", "5"])
        c = self.raw()
        self.assertStatus(c.call("MSET", "a", "x", "a", "y"), "OK")  # the last one wins
        self.assertEqual(c.call("GET", "a"), b"y")
        self.assertError(c.call("MSET", "a"), "ERR wrong number of arguments for 'mset' command")
        self.assertError(c.call("MSET", "a", "1", "b"),
                         "ERR wrong number of arguments for 'mset' command")
        self.assertError(c.call("MSETNX", "a", "1", "b"),
                         "ERR wrong number of arguments for 'msetnx' command")
        self.assertError(c.call("MGET"), "ERR wrong number of arguments for 'mget' command")
        # MSET clears TTLs of the keys it sets.
        c.call("SET", "t", "v", "EX", "100")
        c.call("MSET", "t", "w")
        self.assertEqual(c.call("TTL", "t"), -1)

    def test_incr_decr(self):
        self.assertEqual(self.r.incr("n"), 1)
        self.assertEqual(self.r.incr("n", 10), 11)
        self.assertEqual(self.r.decr("n"), 10)
        self.assertEqual(self.r.decr("n", 15), -5)
        self.assertEqual(self.r.incrby("n", -5), -10)
        self.assertEqual(self.r.decrby("n", -20), 10)
        self.assertEqual(self.r.get("n"), "10")
        self.r.set("n", "100", ex=100)
        self.r.incr("n")
        self.assertEqual(self.r.ttl("n"), 100)  # INCR keeps the TTL
        c = self.raw()
        for value in ["abc", " 1", "1 ", "01", "-0", "1.5", "", "9223372036854775808",
                      "+1", "0x10"]:
            c.call("SET", "bad", value)
            self.assertError(c.call("INCR", "bad"), ERR_NOT_INTEGER)
        self.assertError(c.call("INCRBY", "n", "x"), ERR_NOT_INTEGER)
        self.assertError(c.call("INCRBY", "n", "1.0"), ERR_NOT_INTEGER)
        c.call("SET", "max", "9223372036854775807")
        self.assertError(c.call("INCR", "max"), "ERR increment or decrement would overflow")
        self.assertError(c.call("INCRBY", "max", "1"), "ERR increment or decrement would overflow")
        c.call("SET", "min", "-9223372036854775808")
        self.assertError(c.call("DECR", "min"), "ERR increment or decrement would overflow")
        self.assertError(c.call("DECRBY", "x", "-9223372036854775808"),
                         "ERR decrement would overflow")
        self.assertEqual(c.call("GET", "max"), b"9223372036854775807")  # unchanged
        self.assertEqual(c.call("INCRBY", "fresh", "-9223372036854775808"),
                         -9223372036854775808)

    def test_incrbyfloat(self):
        # The examples from the INCRBYFLOAT documentation, reply for reply.
        c = self.raw()
        c.call("SET", "mykey", "10.50")
        self.assertEqual(c.call("INCRBYFLOAT", "mykey", "0.1"), b"10.6")
        self.assertEqual(c.call("INCRBYFLOAT", "mykey", "-5"), b"5.6")
        c.call("SET", "mykey", "5.0e3")
        self.assertEqual(c.call("INCRBYFLOAT", "mykey", "2.0e2"), b"5200")
        self.assertEqual(c.call("GET", "mykey"), b"5200")
        self.assertEqual(c.call("INCRBYFLOAT", "new", "3"), b"3")  # no trailing ".0"
        self.assertEqual(c.call("INCRBYFLOAT", "new", "0.25"), b"3.25")
        self.assertEqual(c.call("INCRBYFLOAT", "new", "-3.25"), b"0")
        self.assertError(c.call("INCRBYFLOAT", "new", "abc"), "ERR value is not a valid float")
        c.call("SET", "s", "abc")
        self.assertError(c.call("INCRBYFLOAT", "s", "1"), "ERR value is not a valid float")
        self.assertError(c.call("INCRBYFLOAT", "new", "inf"),
                         "ERR increment would produce NaN or Infinity")
        self.assertAlmostEqual(self.r.incrbyfloat("pyf", 1.5), 1.5)

    def test_append_strlen(self):
        self.assertEqual(self.r.append("k", "Hello"), 5)
        self.assertEqual(self.r.append("k", " World"), 11)
        self.assertEqual(self.r.get("k"), "Hello World")
        self.assertEqual(self.r.strlen("k"), 11)
        self.assertEqual(self.r.strlen("missing"), 0)
        self.r.set("n", "1", ex=100)
        self.r.append("n", "2")
        self.assertEqual(self.r.ttl("n"), 100)  # APPEND keeps the TTL
        self.assertEqual(self.r.incr("n"), 13)  # and the value is a number again

    def test_getrange_setrange(self):
        self.r.set("k", "This is a string")
        self.assertEqual(self.r.getrange("k", 0, 3), "This")
        self.assertEqual(self.r.getrange("k", -3, -1), "ing")
        self.assertEqual(self.r.getrange("k", 0, -1), "This is a string")
        self.assertEqual(self.r.getrange("k", 10, 100), "string")
        self.assertEqual(self.r.getrange("k", 5, 2), "")
        self.assertEqual(self.r.getrange("k", -100, 3), "This")
        self.assertEqual(self.r.getrange("missing", 0, -1), "")
        self.r.set("k1", "Hello World")
        self.assertEqual(self.r.setrange("k1", 6, "Redis"), 11)
        self.assertEqual(self.r.get("k1"), "Hello Redis")
        self.assertEqual(self.r.setrange("k2", 6, "Redis"), 11)  # zero padding
        self.assertEqual(self.r.get("k2"), "\x00" * 6 + "Redis")
        self.assertEqual(self.r.setrange("k3", 0, ""), 0)
        self.assertEqual(self.r.exists("k3"), 0)  # an empty SETRANGE creates nothing
        c = self.raw()
        self.assertError(c.call("SETRANGE", "k1", "-1", "x"), "ERR offset is out of range")
        self.assertError(c.call("SETRANGE", "k1", "536870912", "x"),
                         "ERR string exceeds maximum allowed size (proto-max-bulk-len)")
        self.assertError(c.call("GETRANGE", "k1", "a", "1"), ERR_NOT_INTEGER)


# ---------------------------------------------------------------------------------------------
# Transactions and pipelines
# ---------------------------------------------------------------------------------------------

class TransactionTest(ServerTestCase):
    def test_multi_exec_raw(self):
        c = self.raw()
        self.assertStatus(c.call("MULTI"), "OK")
        self.assertStatus(c.call("SET", "a", "1"), "QUEUED")
        self.assertStatus(c.call("INCR", "a"), "QUEUED")
        self.assertStatus(c.call("GET", "a"), "QUEUED")
        self.assertStatus(c.call("GET", "missing"), "QUEUED")
        reply = c.call("EXEC")
        self.assertEqual(reply, ["OK", 2, b"2", None])
        self.assertIsInstance(reply[0], Status)
        self.assertStatus(c.call("MULTI"), "OK")
        self.assertEqual(c.call("EXEC"), [])

    def test_multi_errors(self):
        c = self.raw()
        self.assertError(c.call("EXEC"), "ERR EXEC without MULTI")
        self.assertError(c.call("DISCARD"), "ERR DISCARD without MULTI")
        c.call("MULTI")
        self.assertError(c.call("MULTI"), "ERR MULTI calls can not be nested")
        self.assertError(c.call("WATCH", "x"), "ERR WATCH inside MULTI is not allowed")
        self.assertStatus(c.call("DISCARD"), "OK")

    def test_discard(self):
        c = self.raw()
        c.call("MULTI")
        c.call("SET", "a", "1")
        self.assertStatus(c.call("DISCARD"), "OK")
        self.assertIsNone(c.call("GET", "a"))
        self.assertError(c.call("EXEC"), "ERR EXEC without MULTI")

    def test_execabort_after_queue_error(self):
        c = self.raw()
        c.call("MULTI")
        self.assertStatus(c.call("SET", "a", "1"), "QUEUED")
        self.assertError(c.call("SET", "b"), "ERR wrong number of arguments for 'set' command")
        self.assertStatus(c.call("SET", "c", "1"), "QUEUED")
        self.assertError(c.call("EXEC"), ERR_EXECABORT)
        self.assertEqual(c.call("EXISTS", "a", "b", "c"), 0)
        c.call("MULTI")
        self.assertErrorStartsWith(c.call("NOSUCHCOMMAND", "x"), "ERR unknown command")
        self.assertError(c.call("EXEC"), ERR_EXECABORT)
        self.assertError(c.call("EXEC"), "ERR EXEC without MULTI")  # the MULTI is over
        # redis-py raises ExecAbortError, wrapped by its own error for the failed command.
        pipe = self.r.pipeline()
        pipe.set("a", "1")
        pipe.execute_command("SET", "only-key")
        with self.assertRaises(redis.ResponseError):
            pipe.execute()
        self.assertIsNone(self.r.get("a"))

    def test_runtime_error_does_not_abort(self):
        c = self.raw()
        c.call("SET", "s", "text")
        c.call("MULTI")
        c.call("SET", "a", "1")
        c.call("INCR", "s")
        c.call("INCR", "a")
        reply = c.call("EXEC")
        self.assertEqual(reply[0], "OK")
        self.assertError(reply[1], ERR_NOT_INTEGER)
        self.assertEqual(reply[2], 2)

    def test_watch(self):
        other = client()
        self.addCleanup(other.close)
        self.r.set("w", "0")
        with self.r.pipeline() as pipe:
            pipe.watch("w")
            other.set("w", "changed")  # another connection touches the watched key
            pipe.multi()
            pipe.set("w", "mine")
            with self.assertRaises(redis.WatchError):
                pipe.execute()
        self.assertEqual(self.r.get("w"), "changed")
        # Raw: EXEC answers a null array.
        c = self.raw()
        c.call("WATCH", "w", "w2")
        other.set("w2", "x")
        c.call("MULTI")
        c.call("SET", "w", "raw")
        c.send_command("EXEC")
        self.assertEqual(c.read_raw(5), b"*-1\r\n")
        # Unchanged watched keys let EXEC run; EXEC forgets the watches.
        c.call("WATCH", "w")
        c.call("MULTI")
        c.call("SET", "w", "ok")
        self.assertEqual(c.call("EXEC"), ["OK"])
        other.set("w", "after")
        c.call("MULTI")
        c.call("GET", "w")
        self.assertEqual(c.call("EXEC"), [b"after"])

    def test_watch_sees_expiry_and_delete(self):
        other = client()
        self.addCleanup(other.close)
        c = self.raw()
        c.call("SET", "d", "1")
        c.call("WATCH", "d")
        other.delete("d")
        c.call("MULTI")
        c.call("SET", "d", "2")
        self.assertIsNone(c.call("EXEC"))
        self.assertIsNone(other.get("d"))

    def test_unwatch(self):
        other = client()
        self.addCleanup(other.close)
        c = self.raw()
        c.call("WATCH", "u")
        self.assertStatus(c.call("UNWATCH"), "OK")
        other.set("u", "x")
        c.call("MULTI")
        c.call("SET", "u", "y")
        self.assertEqual(c.call("EXEC"), ["OK"])
        self.assertEqual(other.get("u"), "y")

    def test_watch_transaction_helper(self):
        self.r.set("counter", "0")

        def increment(pipe):
            value = int(pipe.get("counter"))
            pipe.multi()
            pipe.set("counter", value + 1)

        for _ in range(20):
            self.r.transaction(increment, "counter")
        self.assertEqual(self.r.get("counter"), "20")

    def test_large_transaction(self):
        pipe = self.r.pipeline(transaction=True)
        for i in range(2000):
            pipe.set(f"tx:{i}", i)
        pipe.incr("tx-count")
        results = pipe.execute()
        self.assertEqual(results, [True] * 2000 + [1])
        self.assertEqual(self.r.dbsize(), 2001)


class PipelineTest(ServerTestCase):
    def test_pipeline_thousands(self):
        pipe = self.r.pipeline(transaction=False)
        for i in range(5000):
            pipe.set(f"p:{i}", i)
            pipe.incr("p-counter")
            pipe.get(f"p:{i}")
        results = pipe.execute()
        self.assertEqual(len(results), 15000)
        for i in range(5000):
            self.assertEqual(results[3 * i:3 * i + 3], [True, i + 1, str(i)])

    def test_pipeline_errors_in_place(self):
        self.r.set("s", "text")
        pipe = self.r.pipeline(transaction=False)
        pipe.incr("s")
        pipe.set("ok", "1")
        pipe.get("ok")
        results = pipe.execute(raise_on_error=False)
        self.assertIsInstance(results[0], redis.ResponseError)
        self.assertEqual(str(results[0]), "value is not an integer or out of range")
        self.assertEqual(results[1:], [True, "1"])


# ---------------------------------------------------------------------------------------------
# Error texts that clients match on
# ---------------------------------------------------------------------------------------------

class ErrorTextTest(ServerTestCase):
    def test_unknown_command(self):
        c = self.raw()
        self.assertError(c.call("FOO"), "ERR unknown command 'FOO', with args beginning with: ")
        self.assertError(c.call("foo", "a", "b c"),
                         "ERR unknown command 'foo', with args beginning with: 'a' 'b c' ")
        with self.assertRaises(redis.ResponseError) as ctx:
            self.r.execute_command("NOSUCH", "x")
        self.assertEqual(str(ctx.exception),
                         "unknown command 'NOSUCH', with args beginning with: 'x' ")

    def test_wrong_arity(self):
        c = self.raw()
        self.assertError(c.call("GET"), "ERR wrong number of arguments for 'get' command")
        self.assertError(c.call("GeT", "a", "b"), "ERR wrong number of arguments for 'get' command")
        self.assertError(c.call("INCR"), "ERR wrong number of arguments for 'incr' command")
        self.assertError(c.call("CONFIG", "GET"),
                         "ERR wrong number of arguments for 'config|get' command")

    def test_syntax_and_integer(self):
        c = self.raw()
        self.assertError(c.call("SET", "a", "b", "NX", "XX"), ERR_SYNTAX)
        self.assertError(c.call("EXPIRE", "a", "ten"), ERR_NOT_INTEGER)
        with self.assertRaises(redis.ResponseError) as ctx:
            self.r.execute_command("INCRBY", "a", "ten")
        self.assertEqual(str(ctx.exception), "value is not an integer or out of range")

    def test_wrongtype(self):
        c = self.raw()
        reply = c.call("LPUSH", "list", "x")
        if isinstance(reply, RespError) and is_unknown_command(reply):
            self.skipTest("server has no LPUSH yet, so no non-string key to test WRONGTYPE on")
        for args in [("GET", "list"), ("INCR", "list"), ("APPEND", "list", "x"),
                     ("STRLEN", "list"), ("GETRANGE", "list", "0", "1"), ("SET", "list", "x", "GET"),
                     ("GETDEL", "list"), ("GETEX", "list"), ("INCRBYFLOAT", "list", "1"),
                     ("SETRANGE", "list", "0", "x")]:
            self.assertError(c.call(*args), ERR_WRONGTYPE)
        self.assertEqual(c.call("MGET", "list"), [None])  # MGET never fails on type
        self.assertStatus(c.call("SET", "list", "now-a-string"), "OK")  # SET overwrites any type
        with self.assertRaises(redis.ResponseError) as ctx:
            self.r.lpush("list2", "x")
            self.r.get("list2")
        self.assertTrue(str(ctx.exception).startswith("WRONGTYPE"))


# ---------------------------------------------------------------------------------------------
# Atomicity of multi-key commands across shards
# ---------------------------------------------------------------------------------------------

ATOMIC_KEYS = [f"atom:{i}" for i in range(64)]  # enough distinct keys to land on every shard
ATOMIC_RUN_S = 1.5


class AtomicityTest(unittest.TestCase):
    """Writers change many keys at once while readers check they never see a half-done change."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(stockd_args=["--shards", "4"])
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        alive = cls.server.stop()
        if not alive:
            raise AssertionError(f"server died; log:\n{cls.server.final_log}")

    def setUp(self):
        self.r = client(self.server)
        self.addCleanup(self.r.close)
        self.r.flushall()

    def run_concurrently(self, writer, reader):
        """Runs writer(i) and reader() in loops for ATOMIC_RUN_S; returns reader failures."""
        stop = threading.Event()
        failures = []
        errors = []

        def write_loop():
            try:
                i = 0
                while not stop.is_set():
                    i += 1
                    writer(i)
            except Exception as e:  # reported by the test thread
                errors.append(e)

        def read_loop():
            try:
                while not stop.is_set():
                    problem = reader()
                    if problem:
                        failures.append(problem)
                        return
            except Exception as e:
                errors.append(e)

        threads = [threading.Thread(target=write_loop), threading.Thread(target=read_loop)]
        for t in threads:
            t.start()
        time.sleep(ATOMIC_RUN_S)
        stop.set()
        for t in threads:
            t.join(timeout=10)
        self.assertEqual(errors, [])
        return failures

    def test_mset_is_atomic_for_mget(self):
        w, rd = client(self.server), client(self.server)
        self.addCleanup(w.close)
        self.addCleanup(rd.close)
        w.mset({k: "0" for k in ATOMIC_KEYS})

        def reader():
            values = rd.mget(ATOMIC_KEYS)
            if len(set(values)) != 1:
                return f"MGET saw a partial MSET: {sorted(set(values))}"
            return None

        failures = self.run_concurrently(lambda i: w.mset({k: str(i) for k in ATOMIC_KEYS}),
                                         reader)
        self.assertEqual(failures, [])

    def test_del_is_atomic_for_exists(self):
        w, rd = client(self.server), client(self.server)
        self.addCleanup(w.close)
        self.addCleanup(rd.close)

        def writer(i):
            if i % 2:
                w.mset({k: "v" for k in ATOMIC_KEYS})
            else:
                w.delete(*ATOMIC_KEYS)

        def reader():
            n = rd.exists(*ATOMIC_KEYS)
            if n not in (0, len(ATOMIC_KEYS)):
                return f"EXISTS counted {n} of {len(ATOMIC_KEYS)} keys mid-DEL/MSET"
            return None

        self.assertEqual(self.run_concurrently(writer, reader), [])

    def test_multi_exec_is_atomic(self):
        w, rd = client(self.server), client(self.server)
        self.addCleanup(w.close)
        self.addCleanup(rd.close)
        keys = ATOMIC_KEYS[:16]

        def writer(i):
            pipe = w.pipeline(transaction=True)
            for k in keys:
                pipe.incr(k)
            pipe.execute()

        def reader():
            pipe = rd.pipeline(transaction=True)
            pipe.mget(keys)
            pipe.get(keys[0])
            values, first = pipe.execute()
            if len(set(values)) != 1 or values[0] != first:
                return f"a reader saw a half-applied MULTI/EXEC: {sorted(set(values))}"
            return None

        self.assertEqual(self.run_concurrently(writer, reader), [])

    def test_msetnx_all_or_nothing(self):
        # Racing MSETNX calls over overlapping key sets: exactly one of each race wins, wholly.
        clients = [client(self.server) for _ in range(4)]
        for c in clients:
            self.addCleanup(c.close)
        for round_ in range(30):
            keys = [f"nx:{round_}:{i}" for i in range(32)]
            results = [None] * len(clients)

            def attempt(n):
                # Each client uses the keys in its own order, so a per-key race would show.
                ordered = keys[n:] + keys[:n]
                results[n] = clients[n].msetnx({k: str(n) for k in ordered})

            threads = [threading.Thread(target=attempt, args=(n,)) for n in range(len(clients))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(results.count(True), 1, results)
            winner = results.index(True)
            self.assertEqual(self.r.mget(keys), [str(winner)] * len(keys))

    def test_concurrent_incr_loses_nothing(self):
        clients = [client(self.server) for _ in range(4)]
        for c in clients:
            self.addCleanup(c.close)

        def work(c):
            pipe = c.pipeline(transaction=False)
            for _ in range(500):
                pipe.incr("shared-counter")
                pipe.incrby("other-counter", 2)
            pipe.execute()

        threads = [threading.Thread(target=work, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(self.r.mget("shared-counter", "other-counter"), ["2000", "4000"])


# ---------------------------------------------------------------------------------------------
# Protocol abuse on raw sockets
# ---------------------------------------------------------------------------------------------

class ProtocolTest(ServerTestCase):
    def test_inline_commands(self):
        c = self.raw()
        c.send(b"PING\r\n")
        self.assertStatus(c.read(), "PONG")
        c.send(b"SET a b\r\nGET a\r\n")
        self.assertStatus(c.read(), "OK")
        self.assertEqual(c.read(), b"b")
        c.send(b'SET "key with space" "va\\x41l\\n\\"q\\""\r\n')
        self.assertStatus(c.read(), "OK")
        self.assertEqual(self.r.get("key with space"), 'vaAl\n"q"')
        c.send(b"SET single 'it\\'s'\r\n")
        self.assertStatus(c.read(), "OK")
        self.assertEqual(self.r.get("single"), "it's")
        c.send(b"\r\n\r\n  PING  \r\n")  # empty lines are skipped, spaces separate
        self.assertStatus(c.read(), "PONG")
        c.send(b"ECHO hi\n")  # a bare LF ends an inline command too
        self.assertEqual(c.read(), b"hi")
        c.send(b"get\r\n")
        self.assertError(c.read(), "ERR wrong number of arguments for 'get' command")
        c.send(b"*1\r\n$4\r\nPING\r\nPING\r\n")  # multibulk and inline mixed
        self.assertStatus(c.read(), "PONG")
        self.assertStatus(c.read(), "PONG")

    def test_unbalanced_quotes(self):
        bystander = self.raw()
        c = self.raw()
        c.send(b'SET "abc\r\n')
        self.assertError(c.read(), "ERR Protocol error: unbalanced quotes in request")
        self.assertRespClosed(c)
        c = self.raw()
        c.send(b'SET "a"b c\r\n')  # a closing quote must be followed by a space
        self.assertError(c.read(), "ERR Protocol error: unbalanced quotes in request")
        self.assertRespClosed(c)
        self.assertStatus(bystander.call("PING"), "PONG")

    def test_bulk_length_over_limit(self):
        bystander = self.raw()
        bystander.call("SET", "still", "here")
        c = self.raw()
        c.send(b"*2\r\n$3\r\nGET\r\n$536870913\r\n")  # 512 MB + 1
        self.assertError(c.read(), "ERR Protocol error: invalid bulk length")
        self.assertRespClosed(c)
        for bad in [b"*1\r\n$-5\r\n", b"*1\r\n$abc\r\n"]:
            c = self.raw()
            c.send(bad)
            self.assertError(c.read(), "ERR Protocol error: invalid bulk length")
            self.assertRespClosed(c)
        self.assertEqual(bystander.call("GET", "still"), b"here")
        self.assertStatus(bystander.call("PING"), "PONG")

    def test_other_protocol_errors(self):
        cases = [
            (b"*abc\r\n", "ERR Protocol error: invalid multibulk length"),
            (b"*1\r\nx\r\n", "ERR Protocol error: expected '$', got 'x'"),
        ]
        for data, error in cases:
            c = self.raw()
            c.send(data)
            self.assertError(c.read(), error)
            self.assertRespClosed(c)
        c = self.raw()
        c.send(b"A" * (64 * 1024 + 100))  # an inline line longer than 64 KB
        self.assertError(c.read(), "ERR Protocol error: too big inline request")
        self.assertRespClosed(c)

    def test_empty_multibulk_is_ignored(self):
        c = self.raw()
        c.send(b"*0\r\n*-1\r\nPING\r\n")
        self.assertStatus(c.read(), "PONG")

    def test_ten_thousand_pipelined_in_one_send(self):
        c = self.raw()
        count = 10_000
        c.send(b"".join(encode_command("INCR", "pipelined") for _ in range(count)))
        for expected in range(1, count + 1):
            self.assertEqual(c.read(), expected)
        inline = b"".join(b"SET inline:%d %d\r\n" % (i, i) for i in range(count))
        c.send(inline)
        for _ in range(count):
            self.assertStatus(c.read(), "OK")
        self.assertEqual(self.r.get("inline:9999"), "9999")

    def test_command_split_at_every_byte(self):
        c = self.raw()
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = encode_command("SET", "split", "value") + b"GET split\r\n"
        for i in range(len(data)):
            c.send(data[i:i + 1])
            time.sleep(0.001)
        self.assertStatus(c.read(), "OK")
        self.assertEqual(c.read(), b"value")

    def test_half_command_then_disconnect(self):
        bystander = self.raw()
        half = self.raw()
        half.send(b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$10\r\nabc")
        # The partial request blocks nobody else.
        self.assertStatus(bystander.call("SET", "other", "1"), "OK")
        self.assertEqual(bystander.call("GET", "other"), b"1")
        half.close()
        time.sleep(0.1)
        self.assertIsNone(bystander.call("GET", "half"))  # never executed
        self.assertStatus(bystander.call("PING"), "PONG")
        # A half command later completed runs normally.
        late = self.raw()
        late.send(b"*3\r\n$3\r\nSET\r\n$4\r\nlate\r\n$5\r\nab")
        self.assertStatus(bystander.call("PING"), "PONG")
        late.send(b"cde\r\n")
        self.assertStatus(late.read(), "OK")
        self.assertEqual(bystander.call("GET", "late"), b"abcde")

    def test_disconnect_with_unread_replies(self):
        self.r.set("big", "x" * 100_000)
        c = self.raw()
        c.send(b"".join(encode_command("GET", "big") for _ in range(200)))  # 20 MB of replies
        c.close()
        bystander = self.raw()
        self.assertStatus(bystander.call("PING"), "PONG")
        self.assertEqual(len(bystander.call("GET", "big")), 100_000)

    def test_many_connections(self):
        conns = [self.raw() for _ in range(100)]
        for i, c in enumerate(conns):
            c.send_command("SET", f"conn:{i}", str(i))
        for c in conns:
            self.assertStatus(c.read(), "OK")
        self.assertEqual(self.r.dbsize(), 100)


# ---------------------------------------------------------------------------------------------
# Blocking pops: consumers on their own connections wait for a producer
# ---------------------------------------------------------------------------------------------

class BlockingPopTest(ServerTestCase):
    def blocked_clients(self):
        return self.r.info("clients")["blocked_clients"]

    def wait_blocked(self, n):
        deadline = time.time() + 5
        while self.blocked_clients() != n and time.time() < deadline:
            time.sleep(0.01)
        self.assertEqual(self.blocked_clients(), n)

    def test_consumers_are_served_in_the_order_they_blocked(self):
        results = {}

        def consume(i):
            c = client()
            try:
                results[i] = c.blpop(["orders:queue"], timeout=5)
            finally:
                c.close()

        threads = []
        for i in range(3):
            t = threading.Thread(target=consume, args=(i,))
            t.start()
            threads.append(t)
            self.wait_blocked(i + 1)  # fixes the arrival order
        self.r.rpush("orders:queue", "o1", "o2", "o3")
        for t in threads:
            t.join(10)
        self.assertEqual(results, {0: ("orders:queue", "o1"), 1: ("orders:queue", "o2"),
                                   2: ("orders:queue", "o3")})
        self.assertEqual(self.r.exists("orders:queue"), 0)

    def test_timeout_and_blmove(self):
        started = time.time()
        self.assertIsNone(self.r.blpop(["nothing"], timeout=0.2))
        self.assertGreaterEqual(time.time() - started, 0.15)
        moved = {}

        def mover():
            c = client()
            try:
                moved["v"] = c.blmove("jobs:new", "jobs:taken", 5, "LEFT", "RIGHT")
            finally:
                c.close()

        t = threading.Thread(target=mover)
        t.start()
        self.wait_blocked(1)
        self.r.rpush("jobs:new", "job-7")
        t.join(10)
        self.assertEqual(moved["v"], "job-7")
        self.assertEqual(self.r.lrange("jobs:taken", 0, -1), ["job-7"])

    def test_a_consumer_that_disconnects_loses_nothing(self):
        conn = self.raw()
        conn.send_command("BLPOP", "payments", "0")
        self.wait_blocked(1)
        conn.close()
        self.wait_blocked(0)
        self.r.rpush("payments", "p1")
        self.assertEqual(self.r.lrange("payments", 0, -1), ["p1"])


# ---------------------------------------------------------------------------------------------
# Pub/sub: a publisher and several subscribers on different connections, with redis-py's PubSub
# ---------------------------------------------------------------------------------------------

class PubSubTest(ServerTestCase):
    def wait_message(self, p, timeout=5.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = p.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if m is not None:
                return m
        self.fail("no message within the timeout")

    def test_publisher_and_several_subscribers(self):
        subscribers = []
        for i in range(4):
            c = client()
            self.addCleanup(c.close)
            p = c.pubsub()
            self.addCleanup(p.close)
            p.subscribe("orders")
            if i % 2 == 0:
                p.psubscribe("order*")
            subscribers.append(p)
        # Wait until every subscription is registered.
        deadline = time.time() + 5
        while self.r.pubsub_numsub("orders")[0][1] < 4 and time.time() < deadline:
            time.sleep(0.01)
        self.assertEqual(self.r.pubsub_numsub("orders"), [("orders", 4)])
        self.assertEqual(self.r.pubsub_numpat(), 1)
        for n in range(20):
            # 4 channel subscribers + 2 pattern subscribers.
            self.assertEqual(self.r.publish("orders", f"order-{n}"), 6)
        for i, p in enumerate(subscribers):
            got = [self.wait_message(p) for _ in range(20 * (2 if i % 2 == 0 else 1))]
            by_channel = [m["data"] for m in got if m["type"] == "message"]
            self.assertEqual(by_channel, [f"order-{n}" for n in range(20)])  # in order
            if i % 2 == 0:
                by_pattern = [m for m in got if m["type"] == "pmessage"]
                self.assertEqual(len(by_pattern), 20)
                self.assertEqual(by_pattern[0]["pattern"], "order*")
        self.assertIn("orders", self.r.pubsub_channels())

    def test_subscribed_connection_rejects_other_commands(self):
        c = client()
        self.addCleanup(c.close)
        p = c.pubsub()
        self.addCleanup(p.close)
        p.subscribe("x")
        p.get_message(timeout=1)
        p.execute_command("GET", "k")
        with self.assertRaises(redis.ResponseError) as caught:
            p.parse_response(timeout=2)
        self.assertIn("only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET",
                      str(caught.exception))


# ---------------------------------------------------------------------------------------------
# Rate limiting: CL.THROTTLE, as the redis-cell module defines it
# ---------------------------------------------------------------------------------------------

CELL_USAGE = ("Cell error: Store error: Usage: cl.throttle <key> <max_burst> <count per period> "
              "<period> [<quantity>]")


class ThrottleTest(ServerTestCase):
    """The replies are redis-cell's for the same inputs (worked out from its source, see
    docs/rate-limiting.md). Real Redis has the command only with the module loaded: without it
    these tests skip."""

    def setUp(self):
        super().setUp()
        self.skip_unless_supported("CL.THROTTLE", "probe", 1, 1, 1)

    def throttle(self, *args):
        return self.r.execute_command("CL.THROTTLE", *args)

    def test_burst_then_limited(self):
        # redis-cell's README example: 15 burst, 30 per 60 s.
        self.assertEqual(self.throttle("user123", 15, 30, 60, 1), [0, 16, 15, -1, 2])
        # 2 burst (3 at once), 1 per 60 s.
        self.assertEqual(self.throttle("u", 2, 1, 60), [0, 3, 2, -1, 60])
        self.assertEqual(self.throttle("u", 2, 1, 60), [0, 3, 1, -1, 120])
        self.assertEqual(self.throttle("u", 2, 1, 60), [0, 3, 0, -1, 180])
        self.assertEqual(self.throttle("u", 2, 1, 60), [1, 3, 0, 60, 180])
        # Quantity 0 peeks; a larger quantity takes more; one above the bucket never fits.
        self.assertEqual(self.throttle("q", 4, 1, 1, 0), [0, 5, 5, -1, 0])
        self.assertEqual(self.throttle("q", 4, 1, 1, 3), [0, 5, 2, -1, 3])
        self.assertEqual(self.throttle("q", 4, 1, 1, 0), [0, 5, 2, -1, 3])
        self.assertEqual(self.throttle("q", 4, 1, 1, 3), [1, 5, 2, 1, 3])
        self.assertEqual(self.throttle("big", 4, 1, 1, 6), [1, 5, 5, -1, 0])

    def test_key_and_time(self):
        self.throttle("u", 2, 1, 60)
        self.assertEqual(self.r.type("u"), "string")
        self.assertEqual(self.r.ttl("u"), 60)
        self.assertAlmostEqual(int(self.r.get("u")) / 1e9, time.time() + 60, delta=2)
        # 5 per second, no burst: one request per 200 ms.
        self.assertEqual(self.throttle("fast", 0, 5, 1), [0, 1, 0, -1, 1])
        self.assertEqual(self.throttle("fast", 0, 5, 1), [1, 1, 0, 1, 1])
        time.sleep(0.25)
        self.assertEqual(self.throttle("fast", 0, 5, 1), [0, 1, 0, -1, 1])

    def test_errors(self):
        c = self.raw()
        self.assertError(c.call("CL.THROTTLE"), CELL_USAGE)
        self.assertError(c.call("CL.THROTTLE", "k", "1", "2"), CELL_USAGE)
        self.assertError(c.call("CL.THROTTLE", "k", "1", "x", "1"),
                         "Cell error: Store error: Couldn't parse as integer: x")
        self.assertError(c.call("CL.THROTTLE", "k", "1", "0", "1"),
                         "Cell error: Store error: Zero rates are not supported")
        c.call("SET", "s", "abc")
        self.assertError(c.call("CL.THROTTLE", "s", "1", "1", "1"),
                         "Cell error: invalid digit found in string")
        if not SERVER.is_redis:
            # stockd answers WRONGTYPE; redis-cell reads a list as "" (see docs/rate-limiting.md).
            c.call("LPUSH", "list", "x")
            self.assertError(c.call("CL.THROTTLE", "list", "1", "1", "1"), ERR_WRONGTYPE)
        with self.assertRaises(redis.ResponseError) as ctx:
            self.throttle("k", "1", "1")
        self.assertEqual(str(ctx.exception), CELL_USAGE)


if __name__ == "__main__":
    unittest.main()
