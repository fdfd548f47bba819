"""Start real Parley processes from Python tests: parley-dialog on the model-free engines
(parley-fake-engines), with API keys, on free ports; stopped (and their logs kept) at the end.

Why: the Python tests (the OpenAPI contract, `parley bot test`, the Python client) check the
real server over HTTP, like tests/support/service.h does for the C++ ones. Standard library only.
Binaries come from $PARLEY_BUILD_DIR (set by ctest), else <source>/build.
"""

import ctypes
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

SOURCE_DIR = os.environ.get("PARLEY_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.environ.get("PARLEY_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")

# Keys of the test server: SCOPES:TENANT:SECRET (SECURITY.md).
ADMIN_KEY = "k-admin-0123456789abcdef0123456789abcdef"
CLIENT_KEY = "k-client-0123456789abcdef0123456789abcdef"
BOTH_KEY = "k-both-0123456789abcdef0123456789abcdef01"
KEYS = [f"admin:acme:{ADMIN_KEY}", f"client:acme:{CLIENT_KEY}", f"admin+client:acme:{BOTH_KEY}"]


def binary(name):
    for sub in ("services/dialog", "tools/parley", "services/nlu"):
        path = os.path.join(BUILD_DIR, sub, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{name} is not built under {BUILD_DIR} (cmake --build build --target {name})")


def _die_with_parent():
    """Child side of Popen: SIGTERM when the test process dies (a ctest timeout kills it)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, key=None, headers=None, timeout=10):
    """(status, headers, body bytes) of one request; HTTP errors are answers, not exceptions."""
    data = body if isinstance(body, (bytes, type(None))) else (body if isinstance(body, str) else json.dumps(body)).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if key:
        req.add_header("Authorization", "Bearer " + key)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Platform:
    """parley-fake-engines + parley-dialog with KEYS. Use as a context manager."""

    def __init__(self, extra_flags=(), keys=True, speech=False, real_nlu=False):
        self.extra_flags = list(extra_flags)
        self.keys = keys
        self.speech = speech  # parley-fake-speech as ASR and TTS (voice sessions)
        self.real_nlu = real_nlu  # parley-nlu with its encoder (all-MiniLM-L6-v2) instead of the keyword NLU
        self.dir = tempfile.mkdtemp(prefix="parley-py-")
        self.procs = []

    def _start(self, argv, name):
        log = open(os.path.join(self.dir, name + ".log"), "wb")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             preexec_fn=_die_with_parent)
        self.procs.append((p, log, name))
        return p

    def log(self, name):
        with open(os.path.join(self.dir, name + ".log"), "rb") as f:
            return f.read().decode(errors="replace")

    def __enter__(self):
        ports = {k: free_port() for k in ("nlu", "qa", "lm")}
        fake = {k: f"tcp://127.0.0.1:{v}" for k, v in ports.items()}
        if self.real_nlu:
            fake["nlu"] = "none"
            self._start([binary("parley-nlu"), f"--transport.bind=tcp://127.0.0.1:{ports['nlu']}",
                         f"--http.port={free_port()}", "--nlu.device=cpu"], "nlu")
        self._start([binary("parley-fake-engines")] + [a for k, v in fake.items() for a in (f"--{k}", v)], "engines")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [binary("parley-dialog"), f"--api.port={self.port}", f"--http.port={free_port()}",
                f"--transport.bind=tcp://127.0.0.1:{free_port()}",
                f"--dialog.nlu_targets=tcp://127.0.0.1:{ports['nlu']}",
                f"--dialog.qa_targets=tcp://127.0.0.1:{ports['qa']}",
                f"--dialog.lm_targets=tcp://127.0.0.1:{ports['lm']}",
                "--dialog.sync_interval=200ms"]
        if self.speech:
            speech = f"tcp://127.0.0.1:{free_port()}"
            self._start([binary("parley-fake-speech"), "--bind", speech, "--text", "what time is breakfast"], "speech")
            argv += [f"--dialog.asr_targets={speech}", f"--dialog.tts_targets={speech}"]
        else:
            argv += ["--dialog.asr_targets=", "--dialog.tts_targets="]
        if self.keys:
            argv.append("--api.keys=" + ",".join(KEYS))
        self._start(argv + self.extra_flags, "dialog")
        self.wait_ready()
        return self

    def wait_ready(self, timeout=90):
        """Until the demo bot is trained (NLU) and ingested (QA)."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            for p, _, name in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited with {p.returncode}:\n{self.log(name)[-3000:]}")
            try:
                status, _, body = http("GET", self.url + "/v1/bots/demo", key=ADMIN_KEY if self.keys else None, timeout=2)
                last = (status, body[:200])
                if status == 200:
                    bot = json.loads(body)
                    if bot.get("nluTrained") and bot.get("kbIngested"):
                        return
            except OSError as e:
                last = e
            time.sleep(0.1)
        raise RuntimeError(f"parley-dialog not ready after {timeout} s (last: {last}):\n{self.log('dialog')[-3000:]}")

    def __exit__(self, *exc):
        for p, log, _ in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            log.close()
        return False
