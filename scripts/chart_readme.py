"""Generate helm/ray101/README.md from the `# --` comments of helm/ray101/values.yaml (the
helm-docs convention: a `# -- text` comment, continued by plain `#` lines, documents the key
right below it). `make readme` writes it; `--check` exits 1 when the file is out of date
(tests/unit/test_generated_docs.py runs it).

    python scripts/chart_readme.py          # write helm/ray101/README.md
    python scripts/chart_readme.py --check  # exit 1 if it would change
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "helm" / "ray101"
KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):(?P<rest>.*)$")


def documented_keys(text: str) -> list[tuple[str, str]]:
    """(dotted key, description) for every key with a `# --` comment, in file order."""
    found: list[tuple[str, str]] = []
    path: list[tuple[int, str]] = []  # (indent, key) of the keys enclosing the current line
    doc: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            doc = [stripped[4:].strip()]
            continue
        if stripped.startswith("#"):
            if doc is not None:
                doc.append(stripped[1:].strip())
            continue
        match = KEY.match(line)
        if not match or stripped.startswith("-"):
            doc = None if not stripped else doc
            continue
        indent = len(match["indent"])
        while path and path[-1][0] >= indent:
            path.pop()
        path.append((indent, match["key"]))
        if doc is not None:
            found.append((".".join(k for _, k in path), " ".join(doc).strip()))
            doc = None
    return found


def value_at(values: dict, dotted: str) -> object:
    node: object = values
    for part in dotted.split("."):
        node = node[part] if isinstance(node, dict) else None
    return node


def cell(value: object) -> str:
    return escape(f"`{json.dumps(value, separators=(', ', ': '))}`")


def escape(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    text = (CHART / "values.yaml").read_text()
    values = yaml.safe_load(text)
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    rows = [f"| `{key}` | {cell(value_at(values, key))} | {escape(doc)} |"
            for key, doc in documented_keys(text)]
    return "\n".join([
        f"# {chart['name']}",
        "",
        f"{chart.get('description', '').strip()}",
        "",
        f"Chart version {chart.get('version')}, app version {chart.get('appVersion')}. Install the "
        "KubeRay operator first (`make operator`), then `make deploy` (or `helm upgrade --install "
        "ray101 helm/ray101 -n ray101 --create-namespace --wait`). The repository's README and "
        "docs/kubernetes.md say how to reach the clusters with the `ray101` CLI.",
        "",
        "This file is generated from the `# --` comments in values.yaml by "
        "`scripts/chart_readme.py` (`make readme`); a test fails when the two disagree.",
        "",
        "## Values",
        "",
        "| key | default | description |",
        "|---|---|---|",
        *rows,
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the README is out of date")
    args = parser.parse_args(argv)
    out = CHART / "README.md"
    new = render()
    if args.check:
        if not out.exists() or out.read_text() != new:
            print(f"{out.relative_to(REPO)} is out of date: run `make readme`", file=sys.stderr)
            return 1
        return 0
    out.write_text(new)
    print(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
