"""Fixtures for the SLS-compatibility suite: one Cairn server per test session, driven with the
official Alibaba Cloud SLS Python SDK (aliyun-log-python-sdk, pinned in requirements.txt).

Environment:
  CAIRN_BIN          server binary (default /root/.cache/cairn-target/debug/cairn)
  CAIRN_COMPAT_KEEP  if set to 1, keep the server's data dir and logs after the run
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

try:
    import requests
    from aliyun.log import LogClient
except ImportError as exc:  # pragma: no cover - only hit when run outside the venv
    raise pytest.UsageError(
        "tests/compat needs the SLS SDK venv: run `scripts/python-env` and use its pytest, "
        "e.g. `$(scripts/python-env)/bin/pytest tests/compat -q` (%s)" % exc
    )

from helpers import delete_project_quietly, unique_name  # noqa: E402

DEFAULT_BIN = "/root/.cache/cairn-target/debug/cairn"
STARTUP_TIMEOUT = 30.0
# Where LogGroups that the tests put come "from" unless a test sets a source. Setting it avoids the
# SDK's fallback of resolving "<project>.127.0.0.1" to find a local address (logclient.put_logs).
CLIENT_SOURCE = "192.0.2.10"

_server_state = {}


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path, lines=80):
    try:
        with open(path, "rb") as f:
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return "<no %s>" % path
    return "\n".join(data.splitlines()[-lines:])


class CairnServer(object):
    def __init__(self, binary):
        self.binary = binary
        self.data_dir = tempfile.mkdtemp(prefix="cairn-compat-")
        self.log_dir = tempfile.mkdtemp(prefix="cairn-compat-logs-")
        self.port = _free_port()
        self.host = "127.0.0.1"
        self.endpoint = "%s:%d" % (self.host, self.port)
        self.base_url = "http://%s" % self.endpoint
        self.stdout_path = os.path.join(self.log_dir, "stdout.log")
        self.stderr_path = os.path.join(self.log_dir, "stderr.log")
        self.proc = None
        self.credentials = None
        self.exit_code = None
        self.stderr_tail = None

    def start(self):
        if not os.path.isfile(self.binary) or not os.access(self.binary, os.X_OK):
            raise RuntimeError("Cairn binary not found or not executable: %s (set CAIRN_BIN)" % self.binary)
        # Records move into splits within a second, so the SDK also reads from splits.
        cmd = [self.binary, "serve", "--data-dir", self.data_dir, "--listen", self.endpoint,
               "--flush-seconds", "1"]
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL)
        deadline = time.time() + STARTUP_TIMEOUT
        last = "no answer yet"
        creds_path = os.path.join(self.data_dir, "credentials.json")
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    "cairn serve exited with %s before becoming healthy: %s\n--- server stderr ---\n%s"
                    % (self.proc.returncode, " ".join(cmd), _tail(self.stderr_path))
                )
            try:
                r = requests.get(self.base_url + "/health", timeout=2)
                last = "HTTP %d %r" % (r.status_code, r.text[:200])
                if r.status_code == 200 and os.path.exists(creds_path):
                    with open(creds_path) as f:
                        self.credentials = json.load(f)
                    for key in ("accountId", "accessKeyId", "accessKeySecret"):
                        if key not in self.credentials:
                            raise RuntimeError("%s lacks %r: %r" % (creds_path, key, self.credentials))
                    return self
            except requests.RequestException as exc:
                last = repr(exc)
            except ValueError:
                last = "credentials.json not complete yet"
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            "cairn serve not healthy after %.0fs (last: %s; credentials.json present: %s)\n"
            "--- server stderr ---\n%s"
            % (STARTUP_TIMEOUT, last, os.path.exists(creds_path), _tail(self.stderr_path))
        )

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.exit_code = self.proc.returncode
            self.stderr_tail = _tail(self.stderr_path, 60)
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f is not None:
                f.close()

    def cleanup(self):
        if os.environ.get("CAIRN_COMPAT_KEEP") == "1":
            return
        shutil.rmtree(self.data_dir, ignore_errors=True)
        shutil.rmtree(self.log_dir, ignore_errors=True)


def make_client(server, access_key_id=None, secret=None):
    """A LogClient pointed at the local server, using the `_isRowIp` workaround (reference 1.5):
    the SDK does not recognise "127.0.0.1:PORT" as an IP, so without it the SDK would dial
    "<project>.127.0.0.1". With it, requests go to 127.0.0.1:PORT with Host "<project>.127.0.0.1"."""
    creds = server.credentials
    client = LogClient(
        server.endpoint,
        creds["accessKeyId"] if access_key_id is None else access_key_id,
        creds["accessKeySecret"] if secret is None else secret,
    )
    client._isRowIp = True
    client.set_source(CLIENT_SOURCE)
    return client


@pytest.fixture(scope="session")
def cairn_server():
    server = CairnServer(os.environ.get("CAIRN_BIN", DEFAULT_BIN))
    _server_state["server"] = server
    try:
        server.start()
    except Exception:
        server.stop()
        raise
    yield server
    server.stop()
    server.cleanup()


@pytest.fixture(scope="session")
def client(cairn_server):
    """Default SDK client: GetLogs goes through v2 (POST /logstores/{ls}/logs), the SDK default."""
    return make_client(cairn_server)


@pytest.fixture(scope="session")
def client_v1(cairn_server):
    """Same credentials, but GetLogs through v1 (GET /logstores/{ls}?type=log)."""
    c = make_client(cairn_server)
    c._get_logs_v2_enabled = False
    return c


@pytest.fixture
def project(client, request):
    """A fresh project for one test, deleted (best effort) afterwards."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:30].strip("-")
    name = unique_name("ct-" + slug)
    client.create_project(name, "compat test project")
    yield name
    delete_project_quietly(client, name)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    server = _server_state.get("server")
    if server is None:
        return
    failed = terminalreporter.stats.get("failed") or terminalreporter.stats.get("error")
    if server.exit_code not in (None, 0):
        terminalreporter.write_line(
            "cairn server exited with code %s after SIGTERM" % server.exit_code, yellow=True
        )
    if failed:
        terminalreporter.section("cairn server stderr (last lines)")
        tail = server.stderr_tail if server.stderr_tail is not None else _tail(server.stderr_path, 60)
        terminalreporter.write_line(tail or "(empty)")
        if os.environ.get("CAIRN_COMPAT_KEEP") == "1":
            terminalreporter.write_line("data dir kept at %s, logs at %s" % (server.data_dir, server.log_dir))
