"""The generated docs match their sources: docs/cli.md (the CLI reference from --help and the
table of --json shapes, by cog), README.md's comparison (from docs/performance.json, by cog) and
helm/ray101/README.md (from values.yaml's `# --` comments). `make readme` regenerates them."""

import subprocess
import sys

import pytest

from bench.harness import REPO


@pytest.mark.parametrize("page, source", [
    ("docs/cli.md", "the CLI"),
    ("README.md", "docs/performance.json (the last make bench)"),
])
def test_the_cog_generated_parts_are_up_to_date(page, source):
    proc = subprocess.run([sys.executable, "-m", "cogapp", "--check", page], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (
        f"{page} is out of date with {source}: run `make readme` and commit it\n"
        + proc.stdout + proc.stderr)


def test_the_chart_readme_is_up_to_date():
    proc = subprocess.run([sys.executable, "scripts/chart_readme.py", "--check"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_chart_readme_check_can_fail(tmp_path, monkeypatch):
    """--check notices a value whose comment changed (so the test above can fail)."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import chart_readme
    finally:
        sys.path.remove(str(REPO / "scripts"))
    text = (REPO / "helm" / "ray101" / "values.yaml").read_text()
    keys = dict(chart_readme.documented_keys(text))
    assert keys["image.tag"].startswith("Ray image tag.")
    assert "rayVersion" in keys and "nameOverride" in keys
    changed = text.replace("# -- Ray image tag.", "# -- The Ray image tag.", 1)
    assert dict(chart_readme.documented_keys(changed))["image.tag"].startswith("The Ray image tag.")
    chart = tmp_path / "helm" / "ray101"
    chart.mkdir(parents=True)
    (chart / "values.yaml").write_text(changed)
    (chart / "Chart.yaml").write_text((REPO / "helm" / "ray101" / "Chart.yaml").read_text())
    (chart / "README.md").write_text((REPO / "helm" / "ray101" / "README.md").read_text())
    monkeypatch.setattr(chart_readme, "CHART", chart)
    monkeypatch.setattr(chart_readme, "REPO", tmp_path)
    assert chart_readme.main(["--check"]) == 1
    assert chart_readme.main([]) == 0
    assert chart_readme.main(["--check"]) == 0


def test_the_readme_stays_short_and_points_onwards():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 200, "the README is for a newcomer's first five minutes"
    for link in ("docs/cli.md", "docs/architecture.md", "docs/kubernetes.md", "make demo",
                 "make test", "docs/img/compare.png"):
        assert link in text, link
