"""``python -m services``: the command line (its commands live in ``services.cli``)."""

from __future__ import annotations

import sys

from services.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8")
    sys.exit(main())
