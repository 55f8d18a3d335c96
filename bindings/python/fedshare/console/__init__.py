"""`fedshare console`: the consortium in a browser, for members and the regulator.

A web application (Starlette, served by uvicorn) that reads the ledger through
the client API — members and nodes, data sets and their policies with the
quorum signatures of each version, access decisions, tasks round by round, the
audit trace with each inclusion proof checked, the chain check — and lets a
member whose key is unlocked in the server process request access and sign
policy updates (the same signed acts as the CLI). Guide:
docs/guides/console.md. Needs the ``console`` extra (``pip install
'fedshare[console]'``).
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Dict

DEFAULT_PORT = 8600


def _pair(what: str):
    def parse(text: str):
        k, sep, v = text.partition("=")
        if not sep or not k or not v:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return k, v
    parse.__name__ = what
    return parse


def add_parser(sub) -> None:
    from .._cli.args import input_file, integer

    p = sub.add_parser("console", help="the web console: the consortium in a browser",
                       description="Serve the console (docs/guides/console.md) until "
                                   "SIGINT/SIGTERM; prints 'console http://HOST:PORT/' once "
                                   "serving.")
    p.add_argument("--config", required=True, type=input_file,
                   help="consortium configuration file")
    p.add_argument("--bind", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; any other needs --tokens)")
    p.add_argument("--port", type=integer(0, 65535), default=DEFAULT_PORT,
                   help=f"TCP port, 0 … 65535 (default {DEFAULT_PORT}; 0: any free port)")
    p.add_argument("--tokens", type=input_file, default=None,
                   help="token file: 'TOKEN regulator' or 'TOKEN member NAME' a line")
    p.add_argument("--key", action="append", default=[], type=_pair("NAME=KEYFILE"),
                   metavar="NAME=KEYFILE",
                   help="unlock a member's key (its 64-hex seed file) so the console can act "
                        "as that member; repeatable")
    p.add_argument("--metrics", action="append", default=[], type=_pair("ID=PORT"),
                   metavar="ID=PORT", help="a replica's metrics port on 127.0.0.1; repeatable")
    p.add_argument("--store", action="append", default=[], type=_pair("NAME=DIR"),
                   metavar="NAME=DIR",
                   help="a node's data directory for the chain check; repeatable")
    p.add_argument("--policy-schema", type=input_file, default=None, metavar="FILE",
                   help="a Cedar schema (JSON or the human syntax): the policy page's diff of "
                        "an update considers only the requests it allows, and says so (the "
                        "ledger stores no schema)")
    p.set_defaults(func=run)


def settings(args) -> Dict:
    """Check the arguments (UsageError for a bad one) and load what they name."""
    from .._cli.args import UsageError, read_hex_secret
    from .chain import load_members
    from .auth import TokenFileError, is_loopback, load_tokens

    members = [m.name for m in load_members(args.config)]
    seeds = {}
    for name, path in args.key:
        if name not in members:
            raise UsageError(f"--key: {name} is not a member of the consortium")
        seeds[name] = read_hex_secret(path, "--key")
    metrics = {}
    for ident, port in args.metrics:
        try:
            i, p = int(ident), int(port)
        except ValueError:
            raise UsageError(f"--metrics: {ident}={port}: expected ID=PORT") from None
        if not 0 <= i < 64 or not 1 <= p <= 65535:
            raise UsageError(f"--metrics: {ident}={port}: ID 0 … 63, PORT 1 … 65535")
        metrics[i] = p
    stores = {}
    for name, path in args.store:
        if not os.path.isdir(path):
            raise UsageError(f"--store: {path}: not a directory")
        stores[name] = path
    tokens = None
    if args.tokens:
        try:
            tokens = load_tokens(args.tokens, members)
        except TokenFileError as e:
            raise UsageError(f"--tokens: {e}") from None
    elif not is_loopback(args.bind):
        raise UsageError(f"--bind {args.bind}: a non-loopback address needs --tokens "
                         "(docs/guides/console.md §Access)")
    policy_schema = None
    if getattr(args, "policy_schema", None):
        try:
            with open(args.policy_schema, encoding="utf-8") as f:
                policy_schema = (args.policy_schema, f.read())
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"--policy-schema: {e}") from None
    return {"seeds": seeds, "metrics": metrics, "stores": stores, "tokens": tokens,
            "policy_schema": policy_schema}


def _server(config, bind, port, seeds, metrics, stores, tokens, policy_schema=None):
    """(uvicorn server, its listening socket, the console's URL, the app)."""
    import socket

    import uvicorn

    from .chain import LedgerView
    from .web import create_app

    view = LedgerView(config, metrics=metrics, stores=stores)
    app = create_app(view, tokens=tokens, seeds=seeds, bind_host=bind,
                     policy_schema=policy_schema)
    fam = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = socket.socket(fam, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((bind, port))
    sock.listen(128)  # connections wait in the backlog until the server loop takes them
    host = f"[{bind}]" if ":" in bind else bind
    url = f"http://{host}:{sock.getsockname()[1]}/"
    cfg = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    return uvicorn.Server(cfg), sock, url, app


def serve(config, *, bind: str = "127.0.0.1", port: int = DEFAULT_PORT, seeds=None,
          metrics=None, stores=None, tokens=None, announce=print, policy_schema=None) -> None:
    """Serve until SIGINT/SIGTERM. ``announce`` gets the line 'console http://…/';
    ``policy_schema`` (name, text): the schema the policy page's diffs are under."""
    server, sock, url, app = _server(config, bind, port, seeds, metrics, stores, tokens,
                                     policy_schema)
    announce(f"console {url}")
    try:
        server.run(sockets=[sock])
    finally:
        app.state.console.close()
        sock.close()


def start_background(config, *, port: int = DEFAULT_PORT, metrics=None, stores=None):
    """Serve a read-only console on 127.0.0.1 from a thread of this process
    (``fedshare node --console``); returns (URL, stop function)."""
    import threading

    server, sock, url, app = _server(config, "127.0.0.1", port, None, metrics, stores, None)
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="console",
                         daemon=True)
    t.start()

    def stop() -> None:
        server.should_exit = True
        t.join(timeout=10)
        app.state.console.close()
        sock.close()
    return url, stop


def run(args) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
        import jinja2  # noqa: F401
    except ImportError as e:
        print(f"fedshare console: needs the console extra ({e.name} is missing): "
              "pip install 'fedshare[console]'", file=sys.stderr)
        return 2
    s = settings(args)
    serve(args.config, bind=args.bind, port=args.port,
          announce=lambda line: print(line, flush=True), **s)
    return 0


__all__ = ["add_parser", "run", "serve", "start_background", "settings", "DEFAULT_PORT"]
