#!/usr/bin/env python3
"""A stand-in Parley service for the tests of tools/lib/services.sh.

Why: the start/ready/stop logic must be testable before (and independently of) the real services.
Serves /readyz, /healthz and /metrics on --http.port; exits 0 on SIGTERM like a service that drained.
Flags: --http.port=N (required), --not-ready (readyz 503), --ignore-term (needs SIGKILL),
--exit-now=CODE (dies at once), --term-code=CODE (exit code after SIGTERM), --ready-after=SECONDS,
--record=FILE (append "started <argv>" and "term" lines). Standard library only.
"""
import http.server
import signal
import sys
import threading
import time


def main():
    opts = {}
    for arg in sys.argv[1:]:
        key, _, value = arg.lstrip("-").partition("=")
        opts[key] = value
    if "record" in opts:
        with open(opts["record"], "a") as f:
            f.write("started " + " ".join(sys.argv[1:]) + "\n")
    if "exit-now" in opts:
        print("fake service failing on purpose", flush=True)
        sys.exit(int(opts["exit-now"]))
    port = int(opts["http.port"])
    ready_at = time.monotonic() + float(opts.get("ready-after", "0") or 0)
    not_ready = "not-ready" in opts

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/readyz":
                ok = not not_ready and time.monotonic() >= ready_at
                code = 200 if ok else 503
            elif self.path in ("/healthz", "/metrics"):
                code = 200
            else:
                code = 404
            body = b"parley_fake 1\n" if code == 200 else b"no\n"
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)

    def on_term(signum, frame):
        if "record" in opts:
            with open(opts["record"], "a") as f:
                f.write("term\n")
        if "ignore-term" in opts:
            return
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, on_term)
    print(f"fake service listening on {port}", flush=True)
    server.serve_forever(poll_interval=0.05)  # a quick shutdown keeps the tests fast
    sys.exit(int(opts.get("term-code", "0") or 0))


if __name__ == "__main__":
    main()
