"""The HTTP side: moto's own WSGI dispatcher, the inspection route, reset, start/stop.

moto's DomainDispatcherApplication picks a backend app from the request (signature scope,
Host, /moto-api prefix); an unsigned GET /_lifecycle/actions would land in its S3 app. So
the route is answered by a thin WSGI wrapper in front of the dispatcher, and everything
else goes to moto untouched. POST /moto-api/reset (moto's) also clears lifecycle actions.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import signal
import socket
import sys
import threading
from typing import Any

from moto.moto_api._internal.models import MotoAPIBackend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from . import actions
from .common import LOCK

INSPECT_PATH = "/_lifecycle/actions"
_orig_reset = MotoAPIBackend.reset


def _reset(self: MotoAPIBackend) -> None:
    with LOCK:
        actions.reset()
        _orig_reset(self)


class InspectionApp:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == INSPECT_PATH:
            if environ.get("REQUEST_METHOD") != "GET":
                start_response("405 Method Not Allowed", [("Allow", "GET"), ("Content-Length", "0")])
                return [b""]
            body = json.dumps({"actions": actions.snapshot()}).encode()
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        return self.inner(environ, start_response)


def loopback(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def serve(host: str, port: int, verbose: bool = False) -> None:
    """Serve until SIGTERM/SIGINT (then exit 0); print READY once listening."""
    if not verbose:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server(host, port, InspectionApp(DomainDispatcherApplication(create_backend_app)),
                         threaded=True)
    expiry = actions.ExpiryThread()
    expiry.start()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                     name="moto-http", daemon=True).start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    bound_host, bound_port = server.server_address[:2]
    os.environ.setdefault("MOTO_PORT", str(bound_port))  # moto's calls to itself (as moto_server sets it)
    shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
    print(f"READY http://{shown}:{bound_port}", flush=True)

    while not stop.wait(1.0):
        pass
    # never hang on shutdown: open long polls (SQS WaitTimeSeconds) run on daemon threads
    watchdog = threading.Timer(1.5, os._exit, args=(0,))
    watchdog.daemon = True
    watchdog.start()
    expiry.stop()
    server.shutdown()
    server.server_close()
    # skip interpreter teardown: freeing moto's state (IAM policies per partition...) costs ~1 s
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def install() -> None:
    MotoAPIBackend.reset = _reset
