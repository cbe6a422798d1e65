"""What every benchmark script writes with its results: the command that made them, and
the JSON file itself."""
from __future__ import annotations

import json
import os
import sys


def command_line(script):
    """The command that ran ``script`` (its ``__file__``), as ``python <path> <args>``."""
    return "python " + " ".join([os.path.relpath(script)] + sys.argv[1:])


def write_json(path, payload):
    """Write ``payload`` to ``path`` as indented JSON, creating its folder."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=1)
