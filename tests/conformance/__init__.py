"""RFC 6455 conformance tests against the real relay binary (see README.md).

Run from the repository root:
    REFLECTOR=build/reflector /usr/bin/python3 -m unittest discover -s tests/conformance -t .
Importing this package puts tests/lib on sys.path, so `import relayproc` and
`import wsraw` work.
"""
import os
import sys

_LIB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib")
if _LIB not in sys.path:
    sys.path.insert(0, _LIB)
