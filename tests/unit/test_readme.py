"""The README's generated parts (CLI reference from --help, table of --json shapes) match the CLI."""

import subprocess
import sys

from bench.harness import REPO


def test_readme_cli_reference_is_up_to_date():
    proc = subprocess.run([sys.executable, "-m", "cogapp", "--check", "README.md"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (
        "README.md is out of date with the CLI: run `make readme` and commit it\n"
        + proc.stdout + proc.stderr)
