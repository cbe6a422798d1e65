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


def git_commit():
    """The repository's commit (with ``+dirty`` for uncommitted changes), or None."""
    import subprocess
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, text=True, capture_output=True,
                               check=False).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def run_record(script, args, results, started, **fields):
    """What a benchmark's JSON holds: the command, its arguments, the results, mfsr's
    version and commit, the machine and the run's seconds (``started``: ``time.time()``
    at its start), plus ``fields``."""
    import platform
    import time

    import mfsr
    return {"command": command_line(script), "args": vars(args), **fields,
            "results": results, "mfsr": mfsr.__version__, "commit": git_commit(),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            "total_seconds": time.time() - started}
