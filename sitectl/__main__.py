"""`python -m sitectl demo`: migrate, seed and run alpha and beta side by side until Ctrl-C.

`python -m sitectl demo-connected` does the same and connects them first (ALPHA mapped with BETA,
Active on both), through `manage.py qa_connect` on alpha with beta's admin API token.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from sitectl import ROOT, Site, directory_setting, make_site, prepare_all, stop_all

MODES = ("demo", "demo-connected")


def connect(alpha: Site, beta: Site) -> bool:
    """alpha invites beta, beta accepts through its admin API, ALPHA is mapped with BETA; a pair made
    by an earlier run is kept (--reuse)."""
    token = beta.manage("admin_token").stdout.strip()
    result = subprocess.run(
        [alpha.env["PYTHON"], str(ROOT / "manage.py"), "qa_connect", "--partner", beta.address,
         "--mapping", "ALPHA=BETA", "--name", "Demo: alpha and beta", "--reuse"],
        env={**alpha.env, "PARTNER_API_TOKEN": token}, cwd=ROOT, capture_output=True, text=True,
    )
    print(result.stdout.rstrip(), flush=True)
    if result.stderr:
        print(result.stderr.rstrip(), flush=True)
    return result.returncode == 0


def demo(*, connected: bool = False) -> int:
    parent = os.getppid()
    # Overridable so a test can run the real demo on free ports in a temporary directory.
    ports = {"alpha": int(os.getenv("DEMO_ALPHA_PORT", "8001")), "beta": int(os.getenv("DEMO_BETA_PORT", "8002"))}
    var_dir = Path(os.getenv("DEMO_VAR_DIR", str(ROOT / "var"))).resolve()
    directory = directory_setting(ports)
    sites = [make_site(name, port, directory=directory, log_dir=var_dir / name / "logs", VAR_DIR=str(var_dir / name))
             for name, port in ports.items()]
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    # SIGHUP too: a closed terminal stops the sites like Ctrl-C (its default would end this process only).
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    try:
        print(f"Preparing {' and '.join(site.address for site in sites)} (migrate, seed)...", flush=True)
        prepare_all(sites)
        if stopping:  # asked to stop while preparing: start nothing
            return 0
        for site in sites:
            site.start()
        for site in sites:
            site.wait_healthy(timeout=120)
        if connected:
            print("Connecting alpha and beta (qa_connect)...", flush=True)
            if not connect(*sites):
                print("The sites could not be connected; see above and the logs.", flush=True)
                return 1
        print("\nIssueSync demo is running:\n")
        for site in sites:
            print(f"  {site.address:32} {site.url}/   (logs: {site.log_dir})")
        print("\n  Log in as admin / admin (Jira administrator) or member / member (not an administrator).")
        print("  Press Ctrl-C to stop both sites.\n", flush=True)
        while not stopping:
            # `make demo` does not pass SIGTERM on to its recipe: when make is gone, stop as if signalled.
            if os.getppid() != parent:
                print("The parent process is gone.", flush=True)
                break
            for site in sites:
                for role, proc in site.processes.items():
                    if proc.poll() is not None:
                        print(f"{site.name} {role} exited ({proc.returncode}); see {site.log_dir}", flush=True)
                        return 1
            time.sleep(0.5)
        return 0
    finally:
        print("Stopping both sites...", flush=True)
        stop_all(sites, timeout=10)
        print("Stopped.", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in MODES:
        print("usage: python -m sitectl demo|demo-connected", file=sys.stderr)
        sys.exit(2)
    sys.exit(demo(connected=sys.argv[1] == "demo-connected"))
