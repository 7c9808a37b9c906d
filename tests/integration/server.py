"""Starts and stops one server process for an integration test.

The binary is $STOCKD_SERVER, or the repository's build/stockd when that is unset. When the
binary's basename is ``redis-server`` the equivalent redis-server flags are passed instead, so every
integration test can be checked against real Redis:

    STOCKD_SERVER=/usr/bin/redis-server /usr/bin/python3 tests/integration/test_redis_py.py

Usage:

    with Server(extra_args=["--requirepass", "secret"]) as srv:
        sock = socket.create_connection((srv.host, srv.port))

$STOCKD_SERVER_ARGS (split like a shell would) adds arguments for stockd only, for example
STOCKD_SERVER_ARGS="--shards 8"; $STOCKD_KEEP_DIR=1 keeps each server's directory and log.

Contract: ``start()`` returns only once the server answers PING on its port (any reply counts, so
a server that demands AUTH is ready too) or raises ``ServerError`` with the server's log; ``stop()``
sends SIGTERM, then SIGKILL after ``stop_timeout_s``, and removes the temporary directory unless
$STOCKD_KEEP_DIR is set. Standard library only: this runs under Debian's /usr/bin/python3.
"""

import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time

HOST = "127.0.0.1"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_BINARY = os.path.join(REPO_ROOT, "build", "stockd")

STARTUP_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
# A free port found by binding port 0 can be taken by someone else before the server binds it;
# retry the start on a fresh port this many times when the server exits early.
START_ATTEMPTS_MAX = 3
LOG_TAIL_BYTES_MAX = 8000


class ServerError(RuntimeError):
    pass


def server_binary():
    return os.environ.get("STOCKD_SERVER") or DEFAULT_BINARY


def is_redis_binary(binary):
    return os.path.basename(binary) == "redis-server"


def free_port():
    """Returns a loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def server_command(binary, port, data_dir, extra_args=(), stockd_args=()):
    """The argv that starts `binary` on `port` with `data_dir`.

    `extra_args` go to either server (for example --requirepass P); `stockd_args` only to stockd
    (for example --shards 4), since redis-server would reject them.
    """
    cmd = [binary, "--port", str(port), "--bind", HOST, "--dir", data_dir]
    if is_redis_binary(binary):
        cmd += ["--save", "", "--appendonly", "no"]
    else:
        cmd += list(stockd_args)
        cmd += shlex.split(os.environ.get("STOCKD_SERVER_ARGS", ""))
    cmd += list(extra_args)
    return cmd


def ping_reply(port, timeout_s=1.0):
    """Sends PING and returns the first reply line, or None when nothing answers."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout_s) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    return None
                data += chunk
            return data.split(b"\r\n", 1)[0]
    except OSError:
        return None


class Server:
    def __init__(self, binary=None, extra_args=(), stockd_args=(),
                 startup_timeout_s=STARTUP_TIMEOUT_S, stop_timeout_s=STOP_TIMEOUT_S,
                 new_session=False, preexec_fn=None):
        """new_session=True puts the server in its own session, out of reach of the terminal's
        Ctrl-C, so that the caller alone decides when it stops (bench/compare does). preexec_fn
        runs in the server's process before it starts (for example to set resource limits); set
        the attribute to None before restart() to start it without."""
        self.binary = binary or server_binary()
        self.new_session = new_session
        self.preexec_fn = preexec_fn
        self.extra_args = list(extra_args)
        self.stockd_args = list(stockd_args)
        self.startup_timeout_s = startup_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.host = HOST
        self.port = None
        self.dir = None
        self.log_path = None
        self.proc = None
        self.command = None
        self.final_log = ""  # the log's tail as it was when stop() ran (the file is then gone)

    @property
    def is_redis(self):
        return is_redis_binary(self.binary)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def log_tail(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return "(no log)"
        with open(self.log_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - LOG_TAIL_BYTES_MAX))
            return f.read().decode("utf-8", "replace")

    def start(self):
        if not os.path.isfile(self.binary) or not os.access(self.binary, os.X_OK):
            raise ServerError(
                f"server binary {self.binary!r} does not exist or is not executable "
                "(build it, or set STOCKD_SERVER=/usr/bin/redis-server)")
        self.dir = tempfile.mkdtemp(prefix="stockd-it-")
        self.log_path = os.path.join(self.dir, "server.log")
        try:
            return self._start_on_a_free_port()
        except ServerError:
            self._cleanup_dir()
            raise

    def _start_on_a_free_port(self):
        last_error = None
        for _ in range(START_ATTEMPTS_MAX):
            try:
                self._start_once()
                return self
            except ServerError as e:
                last_error = e
                # Only a lost race for the port is worth another try; the log says "in use".
                if "in use" not in str(e).lower():
                    break
        raise last_error

    def _start_once(self):
        self.port = free_port()
        self.command = server_command(self.binary, self.port, self.dir,
                                      self.extra_args, self.stockd_args)
        with open(self.log_path, "ab") as log:
            log.write(("$ " + shlex.join(self.command) + "\n").encode())
            log.flush()
            self.proc = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.dir,
                                         start_new_session=self.new_session,
                                         preexec_fn=self.preexec_fn)
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(
                    f"server exited with code {self.proc.returncode} before answering PING on "
                    f"port {self.port}\n--- server log ---\n{self.log_tail()}")
            if ping_reply(self.port, timeout_s=0.5) is not None:
                return
            time.sleep(0.05)
        self._kill()
        raise ServerError(
            f"server did not answer PING on port {self.port} within {self.startup_timeout_s} s\n"
            f"--- server log ---\n{self.log_tail()}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def kill9(self):
        """SIGKILLs the server (a crash: nothing is flushed) and keeps its directory."""
        self._kill()

    def terminate(self):
        """Stops the server with SIGTERM (a clean shutdown) and keeps its directory, for a restart
        or for tools that need the server stopped. Returns its exit code."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def restart(self):
        """Starts the server again on the same directory (after kill9 or a clean exit), on a new
        port; returns once it answers PING, as start() does."""
        self._kill()
        return self._start_on_a_free_port()

    def stop(self):
        """Stops the server. Returns True when it was still running when asked to stop."""
        if self.proc is None:
            return False
        was_alive = self.alive()
        self.terminate()
        self.final_log = self.log_tail()
        self._cleanup_dir()
        return was_alive

    def _cleanup_dir(self):
        if self.dir and not os.environ.get("STOCKD_KEEP_DIR"):
            shutil.rmtree(self.dir, ignore_errors=True)
