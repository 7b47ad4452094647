"""Integration tests against the real relay binary (see README.md).

Run from the repository root:
    REFLECTOR=build/reflector /usr/bin/python3 -m unittest discover -s tests/integration -t .
"""
