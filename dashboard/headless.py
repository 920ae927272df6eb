"""Dash imported for a web worker, without its Jupyter integration.

When IPython can be imported, Dash wires itself to a Jupyter kernel at import: IPython, requests, comm and their
kin, about 230 modules and 10 MB of every worker (measured at boot with the 100x sample: peak RSS 286 -> 276 MB),
for a server that never runs in a notebook. IPython is there because the notebooks' tools share the environment.
Importing this module first imports Dash while Python is told IPython is absent, then lifts that at once: Dash
keeps its stand-ins, and IPython stays importable for anyone else in the process.
"""

import sys


def import_dash_without_jupyter() -> None:
    if "dash" in sys.modules:  # too late: Dash made its choice when it was first imported
        return
    hidden = "IPython" not in sys.modules
    if hidden:
        sys.modules["IPython"] = None  # type: ignore[assignment]  # None here makes `import IPython` fail
    try:
        import dash  # noqa: F401
    finally:
        if hidden:
            del sys.modules["IPython"]


import_dash_without_jupyter()
