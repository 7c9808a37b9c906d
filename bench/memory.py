#!/usr/bin/env python3
"""bench/memory.py: bytes per element of large collections, stockd against redis-server.

    bench/memory.py [--members 1000000] [--server-b build/stockd] [--shards 2]

For each of hash, set and sorted set, starts both servers (fresh, persistence off), reads
INFO memory's used_memory, loads one key with N members (HSET/SADD/ZADD in batches of 1000 over
one pipelined connection), reads used_memory again, and prints (after - before) / N for each
server and the ratio stockd/redis. Members are "member:<i>" (and values "value:<i>" for the
hash, score i for the sorted set), so both servers store exactly the same bytes.
"""
import argparse
import os
import socket
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "integration"))
from compare import STOCKD_PERSISTENCE_OFF  # noqa: E402
from server import Server  # noqa: E402

BATCH = 1000


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def read_replies(sock, count):
    """Reads `count` simple replies (integers or statuses); raises on an error reply."""
    buf = b""
    seen = 0
    while seen < count:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError("server closed the connection")
        buf += chunk
        lines = buf.split(b"\r\n")
        buf = lines.pop()
        for line in lines:
            if line.startswith(b"-"):
                raise RuntimeError(line.decode())
            seen += 1


def command(sock, *args):
    sock.sendall(encode(args))
    data = b""
    while not data.endswith(b"\r\n") or (data.startswith(b"$") and data.count(b"\r\n") < 2):
        data += sock.recv(1 << 20)
    return data


def used_memory(sock):
    text = b""
    sock.sendall(encode(["INFO", "memory"]))
    header = b""
    while not header.endswith(b"\r\n"):
        header += sock.recv(1)
    length = int(header[1:-2])
    while len(text) < length + 2:
        text += sock.recv(1 << 16)
    for line in text.decode().split("\r\n"):
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    raise RuntimeError("no used_memory in INFO")


def load(sock, kind, members):
    for start in range(0, members, BATCH):
        end = min(start + BATCH, members)
        if kind == "hash":
            args = ["HSET", "big"]
            for i in range(start, end):
                args += [f"member:{i}", f"value:{i}"]
        elif kind == "set":
            args = ["SADD", "big"] + [f"member:{i}" for i in range(start, end)]
        else:
            args = ["ZADD", "big"]
            for i in range(start, end):
                args += [str(i), f"member:{i}"]
        sock.sendall(encode(args))
        read_replies(sock, 1)


def measure(binary, extra_args, kind, members):
    srv = Server(binary=binary, extra_args=extra_args)
    srv.start()
    try:
        sock = socket.create_connection((srv.host, srv.port))
        before = used_memory(sock)
        load(sock, kind, members)
        after = used_memory(sock)
        sock.close()
        return (after - before) / members
    finally:
        srv.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--members", type=int, default=1_000_000)
    p.add_argument("--server-a", default="/usr/bin/redis-server")
    p.add_argument("--server-b", default=os.path.join(here, "..", "build", "stockd"))
    p.add_argument("--shards", type=int, default=2)
    args = p.parse_args()
    print(f"bytes per member of one {args.members}-member collection (used_memory delta)")
    print(f"{'type':<10}{'redis':>12}{'stockd':>12}{'stockd/redis':>14}")
    for kind in ["hash", "set", "zset"]:
        a = measure(args.server_a, [], kind, args.members)
        b = measure(args.server_b, ["--shards", str(args.shards)] + STOCKD_PERSISTENCE_OFF, kind,
                    args.members)
        print(f"{kind:<10}{a:>12.1f}{b:>12.1f}{b / a:>14.2f}")


if __name__ == "__main__":
    main()
