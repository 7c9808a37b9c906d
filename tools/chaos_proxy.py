"""A fault-injecting TCP proxy on loopback, for tools/chaos.py.

    proxy = Proxy(target_port=7000)   # listens on 127.0.0.1:proxy.port at once
    proxy.delay(20)                   # every byte now arrives 20 ms later, both ways
    proxy.cut(0.5)                    # close every connection, refuse new ones for 0.5 s
    proxy.resume()                    # no cut, no delay
    proxy.retarget(7001)              # new connections go to another port
    proxy.close()

Threads, standard library only. Each direction of a connection has a reader, which stamps each
chunk with the time it arrived, and a writer, which sends it once that time plus the delay has
come: a delay adds latency without limiting throughput, and bytes stay in order. A cut shuts
both sockets of every connection, so both ends see the connection drop as they would in a
network partition that resets connections; while it lasts, new connections are accepted and
closed at once (a client sees its connection refused by the far end, at once, not a hang).
"""

import collections
import socket
import threading
import time

HOST = "127.0.0.1"
CHUNK_BYTES = 65536
CONNECT_TIMEOUT_S = 2.0


class _Pipe:
    """One direction of one connection: src -> dst through a queue of (due time, bytes)."""

    def __init__(self, proxy, src, dst, conn):
        self.proxy = proxy
        self.src = src
        self.dst = dst
        self.conn = conn
        self.chunks = collections.deque()
        self.ready = threading.Condition()
        self.eof = False

    def start(self):
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._write, daemon=True).start()

    def _read(self):
        try:
            while True:
                data = self.src.recv(CHUNK_BYTES)
                if not data:
                    break
                with self.ready:
                    self.chunks.append((time.monotonic() + self.proxy.delay_s, data))
                    self.ready.notify()
        except OSError:
            pass
        with self.ready:
            self.eof = True
            self.ready.notify()

    def _write(self):
        try:
            while True:
                with self.ready:
                    while not self.chunks and not self.eof:
                        self.ready.wait()
                    if not self.chunks:
                        break  # the reader saw the end and everything read was sent
                    due, data = self.chunks.popleft()
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                self.dst.sendall(data)
            # Pass the half-close on, as TCP would.
            self.dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        # Either side gone: drop the whole connection (stockd and redis-py do not use half-open
        # connections).
        self.conn.close()


class _Connection:
    def __init__(self, proxy, client, server):
        self.proxy = proxy
        self.client = client
        self.server = server
        self.closed = False
        self.lock = threading.Lock()

    def start(self):
        _Pipe(self.proxy, self.client, self.server, self).start()
        _Pipe(self.proxy, self.server, self.client, self).start()

    def close(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for s in (self.client, self.server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.proxy._forget(self)


class Proxy:
    def __init__(self, target_port, name="proxy", log=None):
        self.name = name
        self.target_port = target_port
        self.delay_s = 0.0
        self.cut_until = 0.0  # time.monotonic() before which new connections are refused
        self.log = log or (lambda text: None)
        self.connections = set()
        self.accepted = 0
        self.refused = 0
        self.lock = threading.Lock()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Port 0 and keeping the socket: nobody else can take the port between choosing and
        # binding it.
        self.listener.bind((HOST, 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def __repr__(self):
        return f"{self.name}(:{self.port} -> :{self.target_port})"

    def _accept_loop(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if self.closed or time.monotonic() < self.cut_until:
                self.refused += 1
                client.close()
                continue
            try:
                server = socket.create_connection((HOST, self.target_port),
                                                  timeout=CONNECT_TIMEOUT_S)
            except OSError:
                client.close()  # the target is down: the client sees its connection close
                continue
            server.settimeout(None)
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(self, client, server)
            with self.lock:
                self.connections.add(conn)
                self.accepted += 1
            conn.start()

    def _forget(self, conn):
        with self.lock:
            self.connections.discard(conn)

    def _close_all(self):
        with self.lock:
            conns = list(self.connections)
        for conn in conns:
            conn.close()
        return len(conns)

    def cut(self, seconds):
        """Closes every connection and refuses new ones for `seconds` (float('inf'): until
        resume())."""
        self.cut_until = time.monotonic() + seconds
        n = self._close_all()
        self.log(f"{self}: cut {n} connection(s) for {seconds:.2f} s")

    def delay(self, ms):
        """Data read from now on is forwarded `ms` milliseconds after it arrived."""
        self.delay_s = ms / 1000.0
        self.log(f"{self}: delay {ms} ms")

    def resume(self):
        self.cut_until = 0.0
        self.delay_s = 0.0

    def retarget(self, port):
        """New connections go to `port`; existing ones are closed (they belong to the old
        target)."""
        self.target_port = port
        self._close_all()

    def close(self):
        self.closed = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        try:
            self.listener.close()
        except OSError:
            pass
        self._close_all()
