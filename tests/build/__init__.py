"""Checks of the build itself (see README.md).

Run from the repository root:
    /usr/bin/python3 -m unittest discover -s tests/build -t .
"""
