"""A raw RESP2/RESP3 connection for tests that need the exact bytes and reply types.

redis-py hides what the wire carried (a status "OK" and a bulk "OK" both become "OK", errors lose
their "ERR " prefix) and the Debian redis-py cannot read RESP3 at all, so exact-reply tests use
this. Reply types map to Python as follows:

    +simple string  -> Status (a str)        -error       -> RespError (a str, full text)
    :integer        -> int                   $bulk        -> bytes, $-1 -> None
    *array          -> list, *-1 -> None     %map         -> dict (list keys become tuples)
    ~set            -> RespSet (a list)      _null        -> None
    ,double         -> float                 #boolean     -> bool
    =verbatim       -> Verbatim (a bytes, with .format)   (big number -> int
    >push           -> Push (a list)         |attribute   -> skipped, the reply after it is returned
"""

import socket

HOST = "127.0.0.1"
READ_CHUNK_BYTES = 65536


class Status(str):
    def __repr__(self):
        return f"Status({str.__repr__(self)})"


class RespError(str):
    def __repr__(self):
        return f"RespError({str.__repr__(self)})"


class RespSet(list):
    pass


class Push(list):
    pass


class Verbatim(bytes):
    format = b""


class ConnectionClosed(Exception):
    pass


def encode_command(*args):
    """Encodes one command as a RESP multibulk request."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int):
            arg = str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


def _hashable(value):
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


class RespConnection:
    def __init__(self, port, host=HOST, timeout_s=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def send(self, data):
        self.sock.sendall(data)

    def send_command(self, *args):
        self.send(encode_command(*args))

    def call(self, *args):
        self.send_command(*args)
        return self.read()

    def read(self):
        """Reads one complete reply (blocking up to the socket timeout)."""
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return Status(rest.decode())
        if kind == b"-":
            return RespError(rest.decode())
        if kind in (b":", b"("):
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            items = [self.read() for _ in range(n)]
            return {b"*": list, b"~": RespSet, b">": Push}[kind](items)
        if kind == b"%":
            result = {}
            for _ in range(int(rest)):
                key = self.read()
                result[_hashable(key)] = self.read()
            return result
        if kind == b"_":
            return None
        if kind == b",":
            return float(rest)  # float() also reads "inf", "-inf" and "nan"
        if kind == b"#":
            return rest == b"t"
        if kind == b"=":
            payload = self._exact(int(rest))
            value = Verbatim(payload[4:])
            value.format = payload[:3]
            return value
        if kind == b"|":
            for _ in range(int(rest) * 2):
                self.read()
            return self.read()
        raise AssertionError(f"unknown RESP type byte in line {line!r}")

    def read_raw(self, byte_count):
        """Reads exactly byte_count bytes, as they came."""
        return self._take(byte_count)

    def unread(self, data):
        """Puts bytes taken by read_raw back, so that read() parses them again."""
        self.buf = data + self.buf

    def closed_by_peer(self, timeout_s=3.0):
        """True when the server closes the connection within timeout_s (pending data is dropped)."""
        self.sock.settimeout(timeout_s)
        try:
            while True:
                chunk = self.sock.recv(READ_CHUNK_BYTES)
                if not chunk:
                    return True
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True

    def _fill(self):
        chunk = self.sock.recv(READ_CHUNK_BYTES)
        if not chunk:
            raise ConnectionClosed(f"server closed the connection; unparsed bytes: {self.buf!r}")
        self.buf += chunk

    def _line(self):
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line, self.buf = self.buf[:end], self.buf[end + 2:]
                return line
            self._fill()

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _exact(self, n):
        data = self._take(n + 2)
        if data[-2:] != b"\r\n":
            raise AssertionError(f"bulk of {n} bytes not followed by CRLF: {data[-2:]!r}")
        return data[:-2]
