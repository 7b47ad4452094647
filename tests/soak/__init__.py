"""The soak test (soak.py), run from the repository root as
`python3 -m tests.soak.soak` (what `make soak` does)."""
