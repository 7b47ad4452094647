"""The relay process for the integration tests (tests/lib/relayproc.py) and
running its binary as a command."""
import subprocess

from . import _LIB  # noqa: F401  (sys.path set-up for relayproc)
from relayproc import ROOT as ROOT_DIR, Relay, binary, free_port  # noqa: F401  (re-exported)


def run_cli(*args, timeout=10.0):
    """Run the relay binary with args; returns CompletedProcess (text)."""
    return subprocess.run([binary(), *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)
