"""ray101's benchmark harness: `make bench` (python -m bench) writes docs/performance.md.

Not an installed package: run it from the repository root with the project's venv.
"""
