#!/usr/bin/python3
"""Startup refusal and stockd-wal over a real process (docs/wal.md, "Operating the log").

stockd writes 20 records (LSN 1..20: odd LSNs INCR c, even LSNs SET k:<lsn>), is stopped, and then:

- stockd-wal refuses to open the log while stockd runs ("is stockd running?"); info, dump and verify
  describe the stopped log; truncate without --yes changes nothing; truncate --from 16 --yes leaves
  a consistent shorter log and stockd starts with exactly the writes of LSN 1..15;
- the log is damaged from outside (wal_damage, through RocksDB: no switch in stockd) with a gap, a
  record naming an unknown command, and a record whose db is >= `databases`. Each time stockd exits
  non-zero naming the LSN and the exact stockd-wal command; stockd-wal verify names the same LSN
  and command; running that command lets stockd start, serving the writes before that LSN.

    /usr/bin/python3 tests/integration/test_recovery.py [-v]

$STOCKD_WAL_TOOL is stockd-wal (default: next to the server binary) and $STOCKD_WAL_DAMAGE the
damaging helper (default: build/tests/integration/wal_damage). Skipped against redis-server.
"""

import os
import re
import subprocess
import sys
import unittest

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server import REPO_ROOT, Server, free_port, server_binary, server_command  # noqa: E402

SHARDS = 2
RECORDS = 20
TRUNCATE_FROM = 16
DAMAGE_LSN = 8
TOOL_TIMEOUT_S = 30
# stockd refuses before it listens: it exits well within this.
REFUSAL_TIMEOUT_S = 15
# A value that needs redis-cli's escaping in dump: a space, a quote, a newline, a non-ASCII byte.
ODD_VALUE = b'a b"\n\xff'
TRUNCATE_COMMAND_RE = re.compile(r"stockd-wal truncate (\S+) --from (\d+) --yes")


def wal_tool():
    return os.environ.get("STOCKD_WAL_TOOL") or os.path.join(
        os.path.dirname(server_binary()), "stockd-wal")


def wal_damage():
    return os.environ.get("STOCKD_WAL_DAMAGE") or os.path.join(
        REPO_ROOT, "build", "tests", "integration", "wal_damage")


def write_command(lsn):
    """The client command that makes the record at `lsn` (each is exactly one record)."""
    if lsn % 2 == 1:
        return ["INCR", "c"]
    return ["SET", f"k:{lsn}", ODD_VALUE if lsn == 2 else f"v{lsn}".encode()]


def run(args, timeout_s=TOOL_TIMEOUT_S):
    p = subprocess.run(args, capture_output=True, timeout=timeout_s)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


class RecoveryTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(stockd_args=["--shards", str(SHARDS)])
        if self.srv.is_redis:
            self.skipTest("stockd's write-ahead log")
        for binary in (wal_tool(), wal_damage()):
            self.assertTrue(os.access(binary, os.X_OK), f"{binary} is not built")
        self.srv.start()
        self.wal_dir = os.path.join(self.srv.dir, "wal")

    def tearDown(self):
        self.srv.stop()

    def tool(self, *args):
        return run([wal_tool(), *args])

    def connect(self):
        return redis.Redis(host=self.srv.host, port=self.srv.port, socket_timeout=10,
                           single_connection_client=True)

    def check_state(self, records):
        """The server holds exactly the writes of LSN 1..records."""
        conn = self.connect()
        incrs = sum(1 for lsn in range(1, records + 1) if lsn % 2 == 1)
        self.assertEqual(int(conn.get("c") or 0), incrs)
        for lsn in range(2, RECORDS + 1, 2):
            expected = write_command(lsn)[2] if lsn <= records else None
            self.assertEqual(conn.get(f"k:{lsn}"), expected, f"k:{lsn}")
        conn.close()

    def test_refusals_and_the_tool(self):
        conn = self.connect()
        for lsn in range(1, RECORDS + 1):
            self.assertTrue(conn.execute_command(*write_command(lsn)))
        conn.close()

        rc, _, err = self.tool("info", self.srv.dir)
        self.assertEqual(rc, 2, err)
        self.assertIn("is stockd running?", err)
        self.assertEqual(self.srv.terminate(), 0)

        self.check_info_dump_verify()
        self.check_truncate()
        for damage, what in [
                (["delete", str(DAMAGE_LSN)], f"gap at LSN {DAMAGE_LSN}"),
                (["put", str(DAMAGE_LSN), "0", "NOSUCHCMD", "c"],
                 "'NOSUCHCMD' is not a command this stockd can run"),
                (["put", str(DAMAGE_LSN), "16", "SET", "x", "1"],
                 "database 16 is outside 'databases' (16)")]:
            with self.subTest(damage=damage):
                self.check_refusal(damage, what)

    def check_info_dump_verify(self):
        rc, out, err = self.tool("info", self.srv.dir)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"first LSN: +1\n")
        self.assertRegex(out, rf"last LSN: +{RECORDS}\n")
        self.assertRegex(out, rf"records: +{RECORDS}\n")
        self.assertRegex(out, r"tail: +complete\n")

        rc, out, err = self.tool("dump", self.wal_dir, "--from", "2", "--count", "2")
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(len(lines), 2, out)
        self.assertRegex(lines[0], r'^2 command db=0 now_ms=\d+ \(\d{4}-\d\d-\d\dT[0-9:.]+Z\) '
                                   r'"SET" "k:2" "a b\\"\\n\\xff"$')
        self.assertRegex(lines[1], r'^3 command db=0 now_ms=\d+ \(.*\) "INCR" "c"$')

        rc, out, err = self.tool("verify", self.srv.dir)
        self.assertEqual((rc, out), (0, f"OK: {RECORDS} records, LSN 1..{RECORDS}; "
                                        "stockd replays them all\n"), err)

    def check_truncate(self):
        rc, out, _ = self.tool("truncate", self.srv.dir, "--from", str(TRUNCATE_FROM))
        self.assertEqual(rc, 1, out)
        self.assertIn(f"Would drop every record from LSN {TRUNCATE_FROM} to LSN {RECORDS}", out)
        self.assertIn('"SET" "k:16" "v16"', out)
        self.assertIn("Nothing was changed", out)
        self.assertRegex(self.tool("info", self.srv.dir)[1], rf"last LSN: +{RECORDS}\n")

        rc, out, err = self.tool("truncate", self.srv.dir, "--from", str(TRUNCATE_FROM), "--yes")
        self.assertEqual(rc, 0, out + err)
        self.assertIn(f"The log now ends at LSN {TRUNCATE_FROM - 1}", out)
        self.srv.restart()
        self.check_state(TRUNCATE_FROM - 1)
        self.assertEqual(self.srv.terminate(), 0)

    def check_refusal(self, damage, what):
        rc, _, err = run([wal_damage(), self.wal_dir, *damage])
        self.assertEqual(rc, 0, err)

        # stockd refuses: non-zero, and the message says what, where and what to do.
        command = server_command(self.srv.binary, free_port(), self.srv.dir,
                                 stockd_args=["--shards", str(SHARDS)])
        rc, out, err = run(command, timeout_s=REFUSAL_TIMEOUT_S)
        self.assertNotEqual(rc, 0, out)
        self.assertIn(what, out)
        self.assertIn(f"LSN {DAMAGE_LSN}", out)
        found = TRUNCATE_COMMAND_RE.search(out)
        self.assertIsNotNone(found, out)
        self.assertEqual(found.groups(), (self.wal_dir, str(DAMAGE_LSN)), out)

        # verify names the same LSN and the same command.
        rc, verify_out, err = self.tool("verify", self.srv.dir, "--databases", "16")
        self.assertEqual(rc, 1, verify_out + err)
        # Without --databases, verify assumes stockd's default (16, as here).
        self.assertEqual(self.tool("verify", self.srv.dir)[0], rc)
        self.assertIn(what, verify_out)
        self.assertIn(found.group(0), verify_out)

        # Doing what stockd said lets it start, with the writes before the damage.
        rc, out, err = run([wal_tool(), *found.group(0).split()[1:]])
        self.assertEqual(rc, 0, out + err)
        rc, out, err = self.tool("verify", self.srv.dir)
        self.assertEqual(rc, 0, out + err)
        self.srv.restart()
        self.check_state(DAMAGE_LSN - 1)
        self.assertEqual(self.srv.terminate(), 0)


if __name__ == "__main__":
    unittest.main()
