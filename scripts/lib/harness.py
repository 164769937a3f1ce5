"""Shared pieces of scripts/chaos, scripts/storm and scripts/latency.

Builds the release binaries, runs the fake PagerDuty (Tests/FakePagerDutyServer) and the daemon as child
processes on 127.0.0.1 only, sends Alertmanager webhooks, and reads the fake's record file. Every child process
is killed when the script exits, however it exits.
"""
import atexit
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# release (the default, for figures) or debug (quicker to build; for checking the scripts themselves).
CONFIGURATION = os.environ.get("CHAOS_BUILD_CONFIGURATION", "release")
BINARIES = os.path.join(ROOT, ".build", CONFIGURATION)
DAEMON_BINARY = os.path.join(BINARIES, "pagerduty-publisher")
FAKE_BINARY = os.path.join(BINARIES, "FakePagerDutyServer")

_children = []


def _kill_children():
    for process in _children:
        if process.poll() is None:
            process.kill()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


def _exit_on_signal(signum, _frame):
    _kill_children()
    sys.exit(128 + signum)


atexit.register(_kill_children)
signal.signal(signal.SIGTERM, _exit_on_signal)
signal.signal(signal.SIGINT, _exit_on_signal)


def say(text):
    print(text, flush=True)


def build():
    """Builds the daemon and the fake (release unless CHAOS_BUILD_CONFIGURATION=debug; incremental)."""
    for product in ("pagerduty-publisher", "FakePagerDutyServer"):
        say(f"building {product} ({CONFIGURATION})...")
        started = time.monotonic()
        result = subprocess.run(["swift", "build", "-c", CONFIGURATION, "--product", product], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if result.returncode != 0:
            say(result.stdout[-4000:])
            raise SystemExit(f"build of {product} failed")
        say(f"  built in {time.monotonic() - started:.0f} s")


def openapi_file():
    """PagerDuty's official OpenAPI file, which the fake then validates against besides the project's schema;
    None when not found. A PAGERDUTY_EVENTS_OPENAPI naming a missing file is an error."""
    configured = os.environ.get("PAGERDUTY_EVENTS_OPENAPI")
    if configured:
        if not os.path.exists(configured):
            raise SystemExit(f"PAGERDUTY_EVENTS_OPENAPI names {configured}, which does not exist: "
                             "set it to the path of PagerDuty's events-v2.openapi.json, or unset it")
        return configured
    directory = ROOT
    while True:
        candidate = os.path.join(directory, "shared", "pagerduty", "events-v2.openapi.json")
        if os.path.exists(candidate):
            return candidate
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _spawn(arguments, log_path, env=None):
    log = open(log_path, "ab")
    process = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=log, env=env, cwd=ROOT)
    _children.append(process)
    return process


class Fake:
    """The fake PagerDuty process: records every answered event as a JSON line in `record_path`."""

    def __init__(self, workdir, record_path, rate_limit_per_minute=None, seed=1):
        arguments = [FAKE_BINARY, "--port", "0", "--record", record_path, "--seed", str(seed)]
        if rate_limit_per_minute:
            arguments += ["--rate-limit-per-minute", str(rate_limit_per_minute)]
        # The fake always validates events against the project's schema; it adds PagerDuty's OpenAPI file when
        # the variable names it, and the variable is passed only when the file is found.
        env = dict(os.environ)
        env.pop("PAGERDUTY_EVENTS_OPENAPI", None)
        schema = openapi_file()
        if schema:
            env["PAGERDUTY_EVENTS_OPENAPI"] = schema
        else:
            say("note: PagerDuty's OpenAPI file was not found; the fake validates events against the project's schema only")
        self.process = _spawn(arguments, os.path.join(workdir, "fake.stderr"), env)
        line = _read_line(self.process, timeout=30)
        if not line.startswith("http://127.0.0.1:"):
            raise SystemExit(f"the fake PagerDuty did not start (see {workdir}/fake.stderr)")
        self.base_url = line.strip()
        self.port = int(self.base_url.rsplit(":", 1)[1])

    def control(self, **faults):
        """Sets the faults (mode, error_rate, latency_ms, rate_limit_storm, retry_after_s); the rest reset."""
        status, body = request("POST", self.port, "/_control", json.dumps(faults).encode(), timeout=5)
        if status != 200:
            raise SystemExit(f"the fake refused the control request {faults}: {status} {body!r}")
        return json.loads(body)


def _read_line(process, timeout):
    deadline = time.monotonic() + timeout
    import select
    buffer = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                break
            buffer += chunk
            if b"\n" in buffer:
                return buffer.split(b"\n", 1)[0].decode()
        if process.poll() is not None:
            break
    return buffer.decode()


class Daemon:
    """`pagerduty-publisher serve` on a fixed loopback port (kept across restarts), logs in `workdir`."""

    def __init__(self, workdir, arguments, port=None):
        self.workdir = workdir
        self.arguments = arguments
        self.port = port or free_port()
        self.process = None
        self.starts = 0

    def start(self, wait=True, timeout=60):
        self.starts += 1
        arguments = [DAEMON_BINARY, "serve", "--listen", f"127.0.0.1:{self.port}", "--log-format", "json",
                     "--log-level", "notice"] + self.arguments
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAGERDUTY_")}
        self.process = _spawn(arguments, os.path.join(self.workdir, f"daemon-{self.starts}.log"), env)
        # Standard output (the JSON log) goes to the same file as standard error, through a pump thread-free
        # redirect: reopen the pipe into the file.
        _drain_to_file(self.process, os.path.join(self.workdir, f"daemon-{self.starts}.log"))
        if wait:
            self.wait_healthy(timeout)

    def wait_healthy(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the daemon exited with {self.process.returncode} "
                                 f"(log: {self.workdir}/daemon-{self.starts}.log)")
            status, _ = request("GET", self.port, "/healthz", timeout=1)
            if status == 200:
                return
            time.sleep(0.05)
        raise SystemExit(f"the daemon did not become healthy within {timeout} s")

    def running(self):
        return self.process is not None and self.process.poll() is None

    def kill(self):
        """SIGKILL: no chance to clean up."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout=30):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def _drain_to_file(process, path):
    import threading

    def pump():
        with open(path, "ab") as log:
            while True:
                chunk = process.stdout.read1(65536) if hasattr(process.stdout, "read1") else process.stdout.read(65536)
                if not chunk:
                    return
                log.write(chunk)
                log.flush()

    threading.Thread(target=pump, daemon=True).start()


def request(method, port, path, body=None, timeout=10, headers=None):
    """One HTTP request to 127.0.0.1:port on a new connection: (status, body), or (None, reason)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as error:
        return None, str(error)
    finally:
        connection.close()


class WebhookClient:
    """Posts webhooks over one kept-alive connection, reconnecting after errors."""

    def __init__(self, port, timeout=10):
        self.port = port
        self.timeout = timeout
        self.connection = None

    def post(self, path, payload):
        """(status, body); status None when the connection failed (the outcome is unknown)."""
        body = json.dumps(payload).encode()
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
                response = self.connection.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status, data
            except (OSError, http.client.HTTPException) as error:
                self.close()
                # A kept-alive connection the server closed meanwhile: retry once on a fresh one, but only when
                # nothing could have been sent (a refused or reset connection before any answer).
                if attempt == 0 and isinstance(error, (http.client.RemoteDisconnected, BrokenPipeError,
                                                       ConnectionResetError)):
                    continue
                return None, str(error)
        return None, "no answer"

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def alert(fingerprint, status, labels, starts_at="2026-01-01T00:00:00Z"):
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": f"{labels.get('alertname', 'Chaos')} {fingerprint}"},
        "startsAt": starts_at,
        "endsAt": "2026-01-01T01:00:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.invalid/graph",
        "fingerprint": fingerprint,
    }


def webhook(alerts, group="chaos"):
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {
        "version": "4",
        "groupKey": f"{{}}:{{alertname=\"{group}\"}}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "pagerduty-publisher",
        "groupLabels": {"alertname": group},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.invalid",
        "alerts": alerts,
    }


class Record:
    """The fake's record file (JSON lines), read incrementally."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.partial = b""
        self.lines = []
        open(path, "ab").close()

    def refresh(self):
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        self.offset += len(data)
        data = self.partial + data
        *complete, self.partial = data.split(b"\n")
        fresh = [json.loads(line) for line in complete if line]
        self.lines.extend(fresh)
        return fresh


def percentile(values, fraction):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, int(-(-fraction * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]


def table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(headers)]
    line = "  ".join(str(h).ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    for row in rows:
        out.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    return "\n".join(out)
