#!/usr/bin/env python3
"""bench/inventory_memory.py: bytes per SKU and per open reservation, stockd against Redis + Lua.

    bench/inventory_memory.py [--count 1000000] [--server-b build/stockd] [--shards 2]

Each measurement starts a fresh server (persistence off; stockd as bench/compare starts it),
reads INFO memory's used_memory, loads `count` items over one connection in pipelined batches
of BATCH commands, reads used_memory again and prints (after - before) / count:

  per SKU          stockd: SKU.SET sku:NNNNNNNNNN 100            (one SKU per command)
                   redis:  SET sku:NNNNNNNNNN 100                (the stock counter a Lua setup
                                                                  keeps per SKU, for reference)
  per reservation  stockd: SKU.SET sku 1000000000, then
                           SKU.RESERVE sku order-NNNNNNNNNN 1 TTL 3600000   (all on one SKU)
                   redis:  the reserve Lua script of bench/inventory.py: a flow-hash field
                           (HSET flow order qty) and a deadline (ZADD deadlines ms order)

Names and order ids have a fixed length (SKU name 14 bytes, order id ID_BYTES = 16), so the
figure "excluding the id strings" is the per-item figure minus those bytes: the bytes the server
spends beyond the id it must keep. Goals (stockd): <= 128 bytes per SKU and <= 96 bytes per open
reservation excluding the id string. The reservation TTL (1 hour) is far longer than the run, so
every reservation is still open when memory is read.
"""
import argparse
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "tests", "integration"))
from compare import STOCKD_PERSISTENCE_OFF  # noqa: E402
from inventory import RESERVE_LUA  # noqa: E402
from resp import RespConnection, RespError, encode_command  # noqa: E402
from server import Server  # noqa: E402

BATCH = 1000
SKU_NAME_BYTES = len("sku:%010d" % 0)
ID_BYTES = len("order-%010d" % 0)
RESERVATION_TTL_MS = 3_600_000
STOCK_UNITS = 1_000_000_000
GOAL_SKU_BYTES_MAX = 128
GOAL_RESERVATION_BYTES_MAX = 96  # excluding the order id string


def used_memory(conn):
    info = conn.call("INFO", "memory")
    for line in info.decode().split("\r\n"):
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    raise RuntimeError("no used_memory in INFO memory")


def pipelined(conn, commands):
    """Sends the commands in batches of BATCH, reading each batch's replies; raises on the
    first error reply."""
    for start in range(0, len(commands), BATCH):
        batch = commands[start:start + BATCH]
        conn.send(b"".join(encode_command(*c) for c in batch))
        for c in batch:
            reply = conn.read()
            if isinstance(reply, RespError):
                raise RuntimeError(f"{' '.join(map(str, c))} -> -{reply}")


def sku_commands(redis, count):
    name = "SET" if redis else "SKU.SET"
    return [[name, "sku:%010d" % i, 100] for i in range(count)]


def reservation_commands(redis, conn, count):
    """Sets up the one SKU and returns the reservation commands."""
    ids = ["order-%010d" % i for i in range(count)]
    if redis:
        conn.call("SET", "stock", STOCK_UNITS)
        sha = conn.call("SCRIPT", "LOAD", RESERVE_LUA).decode()
        return [["EVALSHA", sha, 3, "stock", "flow", "deadlines", i, 1, RESERVATION_TTL_MS]
                for i in ids]
    reply = conn.call("SKU.SET", "sku", STOCK_UNITS)
    if isinstance(reply, RespError):
        raise RuntimeError(f"SKU.SET sku {STOCK_UNITS} -> -{reply}")
    return [["SKU.RESERVE", "sku", i, 1, "TTL", RESERVATION_TTL_MS] for i in ids]


def measure(binary, extra_args, kind, count):
    """Bytes per item, or the error text when the server rejects the commands."""
    srv = Server(binary=binary, stockd_args=extra_args)
    srv.start()
    try:
        with RespConnection(srv.port, timeout_s=120.0) as conn:
            redis = srv.is_redis
            try:
                if kind == "sku":
                    before = used_memory(conn)
                    commands = sku_commands(redis, count)
                else:
                    commands = reservation_commands(redis, conn, count)
                    before = used_memory(conn)
                pipelined(conn, commands)
            except RuntimeError as e:
                return str(e)
            return (used_memory(conn) - before) / count
    finally:
        srv.stop()


def fmt(value):
    return f"{value:.1f}" if isinstance(value, float) else "n/a"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--count", type=int, default=1_000_000)
    p.add_argument("--server-a", default="/usr/bin/redis-server")
    p.add_argument("--server-b", default=os.path.join(here, "..", "build", "stockd"))
    p.add_argument("--shards", type=int, default=2)
    args = p.parse_args()
    shards = ["--shards", str(args.shards)] + STOCKD_PERSISTENCE_OFF
    print(f"bytes per item over {args.count} items (used_memory delta / count)")
    print(f"{'item':<38}{'redis':>10}{'stockd':>10}{'stockd goal':>13}")
    errors = []
    for kind, label, label_stripped, id_bytes, goal, goal_stripped in [
            ("sku", f"per SKU (name {SKU_NAME_BYTES} bytes)", "  beyond the name",
             SKU_NAME_BYTES, GOAL_SKU_BYTES_MAX, None),
            ("reservation", f"per open reservation (id {ID_BYTES} bytes)",
             "  excluding the id string", ID_BYTES, None, GOAL_RESERVATION_BYTES_MAX)]:
        values = [measure(args.server_a, [], kind, args.count),
                  measure(args.server_b, shards, kind, args.count)]
        for name, v in zip(("redis", "stockd"), values):
            if not isinstance(v, float):
                errors.append(f"{name} {kind}: {v}")
        stripped = [v - id_bytes if isinstance(v, float) else None for v in values]
        for text, (a, b), limit in ((label, values, goal),
                                    (label_stripped, stripped, goal_stripped)):
            verdict = ""
            if limit is not None and isinstance(b, float):
                verdict = "  met" if b <= limit else "  NOT met"
            print(f"{text:<38}{fmt(a):>10}{fmt(b):>10}"
                  f"{f'<= {limit}' if limit else '':>13}{verdict}")
    for e in errors:
        print(f"not measured: {e}")


if __name__ == "__main__":
    main()
