#!/usr/bin/python3
"""Runs one command against a freshly started server, for tests not written in Python.

    run_with_server.py [--server-arg=X ...] [--stockd-arg=X ...] -- CMD ARGS...

Starts the server named by $STOCKD_SERVER (see server.py) on a free loopback port, runs CMD with
STOCKD_HOST=127.0.0.1 and STOCKD_PORT=<port> in its environment, stops the server and exits with
CMD's exit code. The run also fails when the server died while CMD ran, and the server's log is
printed whenever the run fails. Use the --opt=value form for values that begin with "--":
`--server-arg=--requirepass --server-arg=secret`. --stockd-arg values are passed to stockd only
(redis-server would refuse them), for example `--stockd-arg=--shards --stockd-arg=4`.
"""

import argparse
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server import Server, ServerError  # noqa: E402

# Exit code when the server could not be started or died during the run.
SERVER_FAILURE_EXIT_CODE = 99


def parse_args(argv):
    if "--" not in argv:
        sys.exit("usage: run_with_server.py [--server-arg=X ...] -- CMD ARGS...")
    split = argv.index("--")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server-arg", action="append", default=[],
                        help="argument passed to the server (repeat for several)")
    parser.add_argument("--stockd-arg", action="append", default=[],
                        help="argument passed to stockd only, not to redis-server")
    opts = parser.parse_args(argv[:split])
    command = argv[split + 1:]
    if not command:
        parser.error("no command after --")
    return opts, command


def main(argv):
    opts, command = parse_args(argv)
    server = Server(extra_args=opts.server_arg, stockd_args=opts.stockd_arg)
    child = None

    def on_signal(signum, _frame):
        if child is not None and child.poll() is None:
            child.send_signal(signum)
        server.stop()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        server.start()
    except ServerError as e:
        print(f"run_with_server: {e}", file=sys.stderr)
        return SERVER_FAILURE_EXIT_CODE
    env = dict(os.environ, STOCKD_HOST=server.host, STOCKD_PORT=str(server.port))
    print(f"run_with_server: {os.path.basename(server.binary)} on {server.host}:{server.port}",
          flush=True)
    try:
        child = subprocess.Popen(command, env=env)
        code = child.wait()
        if code < 0:  # killed by a signal: report it as a shell would
            code = 128 - code
    except OSError as e:
        print(f"run_with_server: cannot run {command[0]!r}: {e}", file=sys.stderr)
        code = 127
    finally:
        alive = server.stop()
    if not alive:
        print("run_with_server: the server died while the command ran", file=sys.stderr)
        code = code or SERVER_FAILURE_EXIT_CODE
    if code != 0:
        print(f"run_with_server: exit code {code}; server log tail:\n{server.final_log}",
              file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
