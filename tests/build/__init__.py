"""Checks of the build itself (see README.md).

Run from the repository root:
    /usr/bin/python3 -m unittest discover -s tests/build -t .
Importing this package puts tests/lib on sys.path, so `import relayproc` works.
"""
import os
import sys

_LIB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib")
if _LIB not in sys.path:
    sys.path.insert(0, _LIB)
