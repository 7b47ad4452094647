"""Hostile clients against the real relay on loopback (see README.md).

Run from the repository root:
    REFLECTOR=build/reflector /usr/bin/python3 -m unittest discover -s tests/hostile -t .
"""
