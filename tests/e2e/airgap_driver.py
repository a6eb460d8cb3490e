"""Runs inside the air gap (``unshare -rn``: a network namespace with only loopback): brings
loopback up, serves STORE offline, builds APP with the go command through it.

Usage: python -m tests.e2e.airgap_driver STORE APP < go-environment-as-JSON
The environment's GOPROXY is replaced by the offline proxy's URL. Exit status: go's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.e2e.fixtures import go, start_server


def main() -> int:
    store, app = Path(sys.argv[1]), Path(sys.argv[2])
    env = json.loads(sys.stdin.read())
    if shutil.which("ip"):
        subprocess.run(["ip", "link", "set", "lo", "up"], check=False, capture_output=True)
    srv = start_server(store, "off", env={"GOSUMDB": os.environ.get("GOSUMDB", "off")})
    try:
        out = go({**env, "GOPROXY": srv.url}, "build", "-o", os.devnull, ".", cwd=app)
        sys.stdout.write(out.stdout)
        sys.stderr.write(out.stderr)
        return out.returncode
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(main())
