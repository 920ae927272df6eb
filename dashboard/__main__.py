"""`python -m dashboard [--port 8050] [--host 127.0.0.1] [--debug]`: serve the dashboard for development.

Production uses gunicorn (`Procfile`, dashboard/wsgi.py). Debug mode (reloader, dev tools) is off unless asked for.
"""

from __future__ import annotations

import argparse
import logging
import os


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dashboard", description=__doc__)
    parser.add_argument("--port", type=int, default=8050)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--debug", action="store_true", help="Dash debug mode (dev tools, reloader); never in production")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Debug mode's version check would call out to the internet.
    os.environ.setdefault("DASH_DISABLE_VERSION_CHECK", "true")
    from dashboard.app import app

    app.run(host=args.host, port=args.port, debug=args.debug)


if __name__ == "__main__":
    main()
