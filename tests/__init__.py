"""The relay's tests. A package so that every Python suite imports the
shared helpers as `tests.lib` when run from the repository root (see
README.md)."""
