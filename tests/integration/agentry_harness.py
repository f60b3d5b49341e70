"""Black-box harness for Agentry integration tests.

Starts the real `agentry` binary on 127.0.0.1 port 0 with a temporary SQLite
store, captures its stdout and stderr in files, and offers small helpers to talk
to it over HTTP. Standard library only.

Typical use:

    with Server() as server:
        status, headers, body = server.request("GET", "/healthz")

Test files call `run_tests()` from their `__main__` block; it understands
`--binary PATH` (also the AGENTRY_BINARY environment variable) and passes any
other arguments to unittest.
"""

import argparse
import atexit
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import weakref

HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 15.0
REQUEST_TIMEOUT_S = 10.0

_DEFAULT_BINARY = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build",
                 "agentry"))

# Set by run_tests(); Server() uses it when no binary is given.
BINARY = os.environ.get("AGENTRY_BINARY", _DEFAULT_BINARY)

# AGENTRY_TEST_BACKEND=postgres runs every Server on a fresh PostgreSQL
# database of the server in AGENTRY_TEST_PG_URL (tests/pg/with_postgres.sh
# starts one), created with psql and dropped on close; the master key then
# comes from the environment, as on any PostgreSQL node.
PG_ADMIN_URL = (os.environ.get("AGENTRY_TEST_PG_URL")
                if os.environ.get("AGENTRY_TEST_BACKEND") == "postgres" else None)
PG_MASTER_KEY = "YWdlbnRyeS10ZXN0LW1hc3Rlci1rZXktMzItYnl0ZXM="  # 32 test bytes


def _psql(sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", PG_ADMIN_URL, "-c", sql],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

_live_servers = weakref.WeakSet()


def random_key(length=40):
    """A random key in the agk_ format, `length` characters long (>= 24)."""
    alphabet = string.ascii_letters + string.digits
    return "agk_" + "".join(secrets.choice(alphabet) for _ in range(length - 4))


class Response(tuple):
    """(status, headers, body) that also carries the raw body text.

    Unpacks as a 3-tuple. `headers` is a dict with lower-cased names; `body` is
    the parsed JSON when the answer is JSON, else the text (None when empty).
    """

    def __new__(cls, status, headers, body, raw):
        obj = super().__new__(cls, (status, headers, body))
        obj.raw = raw
        return obj

    @property
    def status(self):
        return self[0]

    @property
    def headers(self):
        return self[1]

    @property
    def body(self):
        return self[2]

    def __repr__(self):
        raw = self.raw if len(self.raw) <= 2000 else self.raw[:2000] + "..."
        return f"Response(status={self.status}, headers={self.headers}, body={raw!r})"


def _encode_body(body, headers):
    """Returns the bytes to send and adds Content-Type for JSON values."""
    if body is None:
        return None
    if isinstance(body, (dict, list)):
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
        return json.dumps(body).encode("utf-8")
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    raise TypeError(f"unsupported body type {type(body)!r}")


def _build_headers(headers, key):
    out = dict(headers or {})
    if key is not None:
        out["Authorization"] = f"Bearer {key}"
    return out


def _read_response(resp):
    """Turns an http.client.HTTPResponse into a Response."""
    data = resp.read()
    headers = {}
    for name, value in resp.getheaders():
        lname = name.lower()
        headers[lname] = f"{headers[lname]}, {value}" if lname in headers else value
    raw = data.decode("utf-8", errors="replace")
    body = None
    if data:
        body = raw
        if "json" in headers.get("content-type", ""):
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
    return Response(resp.status, headers, body, raw)


class Session:
    """One keep-alive HTTP/1.1 connection to the server."""

    def __init__(self, port, timeout=REQUEST_TIMEOUT_S):
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, key=None):
        hdrs = _build_headers(headers, key)
        data = _encode_body(body, hdrs)
        self.conn.request(method, path, body=data, headers=hdrs)
        return _read_response(self.conn.getresponse())

    @property
    def sock(self):
        return self.conn.sock

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Server:
    """A running `agentry serve` process with its own temporary directory."""

    def __init__(self, binary=None, admin_key=None, extra_args=(), env=None,
                 start=True, share_store_of=None):
        """share_store_of: another Server whose store (SQLite file or
        PostgreSQL database) this one opens too — another node; the owner
        removes it."""
        self.binary = binary or BINARY
        self.admin_key = admin_key or random_key()
        self.extra_args = list(extra_args)
        self.extra_env = dict(env or {})
        self.tmpdir = tempfile.mkdtemp(prefix="agentry-it-")
        self.db_path = os.path.join(self.tmpdir, "agentry.db")
        self.stdout_path = os.path.join(self.tmpdir, "stdout.log")
        self.stderr_path = os.path.join(self.tmpdir, "stderr.log")
        self.proc = None
        self.port = None
        self.host = None
        self.starts = 0
        self.pg_database = None
        self.owns_database = share_store_of is None
        if share_store_of is not None:
            self.db_path = share_store_of.db_path
            self.pg_database = share_store_of.pg_database
            if self.pg_database:
                self.extra_env.setdefault("AGENTRY_MASTER_KEY", PG_MASTER_KEY)
        elif PG_ADMIN_URL:
            self.pg_database = "agentry_it_" + secrets.token_hex(6)
            _psql(f"CREATE DATABASE {self.pg_database}")
            self.extra_env.setdefault("AGENTRY_MASTER_KEY", PG_MASTER_KEY)
        _live_servers.add(self)
        if start:
            self.start()

    # ---------------------------------------------------------------- process

    @property
    def store_url(self):
        if self.pg_database:
            return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.pg_database
        return f"sqlite://{self.db_path}"

    # Tests drive the server far faster than the production defaults (100
    # requests/s per key, 5 failed authentications/s per address) and check
    # many refused keys; keys with their own rate_limit (the rate-limit
    # tests) still get exactly theirs, and extra_args may set either limit
    # back (later flags win).
    DEFAULT_LIMIT_ARGS = ("--rate-limit", "1000000:1000000",
                          "--auth-failure-limit", "1000000:1000000")

    def command(self):
        return [self.binary, "serve", "--listen", f"{HOST}:0", "--store",
                self.store_url, "--log-level", "info", *self.DEFAULT_LIMIT_ARGS,
                *self.extra_args]

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=STARTUP_TIMEOUT_S):
        """Starts the process and waits for its "listening" log line."""
        if self.running():
            raise RuntimeError("server already running")
        if not os.path.exists(self.binary):
            raise RuntimeError(f"binary not found: {self.binary}")
        env = dict(os.environ)
        env["AGENTRY_BOOTSTRAP_ADMIN_KEY"] = self.admin_key
        env.update(self.extra_env)
        offset = os.path.getsize(self.stdout_path) if os.path.exists(
            self.stdout_path) else 0
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, cwd=self.tmpdir,
                                         env=env)
        self.starts += 1
        self.port = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self._find_listening(offset)
            if found:
                self.host, self.port = found
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with code {self.proc.returncode} before "
                    f"listening; logs:\n{self.logs()[-4000:]}")
            time.sleep(0.02)
        self._kill()
        raise RuntimeError(
            f"no listening log line within {timeout} s; logs:\n{self.logs()[-4000:]}")

    def _find_listening(self, offset):
        with open(self.stdout_path, "rb") as f:
            f.seek(offset)
            data = f.read()
        for line in data.decode("utf-8", errors="replace").splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if (isinstance(obj, dict) and obj.get("msg") == "listening"
                    and "host" in obj and isinstance(obj.get("port"), int)
                    and not isinstance(obj.get("port"), bool)):
                return obj["host"], obj["port"]
        return None

    def stop_term(self, timeout=15.0):
        """Sends SIGTERM and returns the exit code.

        Raises TimeoutError (after killing the process) if it has not exited
        within `timeout` seconds.
        """
        if self.proc is None:
            raise RuntimeError("server was never started")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                raise TimeoutError(f"server did not exit within {timeout} s of SIGTERM")
        return self.proc.returncode

    def kill9(self):
        """Kills the process with SIGKILL and waits for it."""
        self._kill()

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def restart(self, timeout=STARTUP_TIMEOUT_S):
        """Starts a new process on the same database (after SIGTERM if running)."""
        if self.running():
            self.stop_term()
        return self.start(timeout=timeout)

    def close(self):
        """Kills the process if needed and removes the temporary directory."""
        self._kill()
        if self.tmpdir and os.path.isdir(self.tmpdir):
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.tmpdir = None
        if self.pg_database and self.owns_database:
            _psql(f"DROP DATABASE IF EXISTS {self.pg_database} WITH (FORCE)")
        self.pg_database = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -------------------------------------------------------------------- logs

    def stdout_text(self):
        return _read_text(self.stdout_path)

    def stderr_text(self):
        return _read_text(self.stderr_path)

    def logs(self):
        """Everything written to stdout and stderr so far (all starts)."""
        return self.stdout_text() + self.stderr_text()

    # -------------------------------------------------------------------- HTTP

    def request(self, method, path, body=None, headers=None, key=None,
                timeout=REQUEST_TIMEOUT_S):
        """One request on a new connection; returns Response."""
        if self.port is None:
            raise RuntimeError("server is not listening")
        with Session(self.port, timeout=timeout) as session:
            return session.request(method, path, body=body, headers=headers, key=key)

    def session(self, timeout=REQUEST_TIMEOUT_S):
        """A keep-alive connection (use as a context manager)."""
        return Session(self.port, timeout=timeout)

    def raw_exchange(self, data, method="GET", timeout=REQUEST_TIMEOUT_S):
        """Sends raw bytes on a new socket and reads one HTTP response.

        Sending happens on a separate thread so that a server which answers
        before reading the whole request (413, 431) is still heard. Returns a
        Response, or raises the socket error if no response could be read.
        """
        sock = socket.create_connection((HOST, self.port), timeout=timeout)
        send_error = []

        def sender():
            try:
                sock.sendall(data)
            except OSError as e:
                send_error.append(e)

        thread = threading.Thread(target=sender, daemon=True)
        thread.start()
        try:
            resp = http.client.HTTPResponse(sock, method=method)
            resp.begin()
            return _read_response(resp)
        finally:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
            thread.join(timeout=timeout)


def _read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


@atexit.register
def _cleanup_servers():
    for server in list(_live_servers):
        try:
            server.close()
        except Exception:  # pylint: disable=broad-except
            pass


def run_tests(argv=None):
    """Entry point for test files: parses --binary, then runs unittest."""
    global BINARY
    argv = list(sys.argv if argv is None else argv)
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--binary", default=BINARY)
    args, rest = parser.parse_known_args(argv[1:])
    BINARY = os.path.abspath(args.binary)
    if not os.access(BINARY, os.X_OK):
        print(f"agentry binary not found or not executable: {BINARY}", file=sys.stderr)
        sys.exit(2)
    unittest.main(module="__main__", argv=[argv[0], *rest], verbosity=2)
