"""One Ray version and one KubeRay operator version across the project, read from the files
themselves (no import, no rendering): a pin moved in one place fails here until it moves in all."""

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def text(path: str) -> str:
    return (REPO / path).read_text()


def one(pattern: str, path: str) -> str:
    found = re.findall(pattern, text(path), re.M)
    assert found, f"{pattern!r} not found in {path}"
    assert len(set(found)) == 1, f"{path} has several: {sorted(set(found))}"
    return found[0]


def cli_pin(name: str) -> str:
    return one(rf'^{name}\s*=\s*"([^"]+)"', "cli/ray101/__init__.py")


RAY = cli_pin("RAY_VERSION")
KUBERAY = cli_pin("KUBERAY_VERSION")


def test_ray_is_pinned_to_one_version_everywhere():
    values = yaml.safe_load(text("helm/ray101/values.yaml"))
    pins = {
        "pyproject.toml": one(r'"ray\[[a-z,]+\]==([0-9.]+)"', "pyproject.toml"),
        "helm values rayVersion": values["rayVersion"],
        "helm values image.tag": values["image"]["tag"].split("-")[0],
        "Makefile IMAGE_TAG": one(r"^IMAGE_TAG \?= ([0-9.]+)-", "Makefile"),
        "Makefile venv help": one(r"\(Ray ([0-9.]+) pinned\)", "Makefile"),
        "k8s/Dockerfile RAY_IMAGE": one(r"^ARG RAY_IMAGE=rayproject/ray:([0-9.]+)-", "k8s/Dockerfile"),
        "k8s/Dockerfile comments": one(r"ray(?:101-ray|project/ray):([0-9.]+)-py", "k8s/Dockerfile"),
    }
    assert {k: v for k, v in pins.items() if v != RAY} == {}, f"cli/ray101 says {RAY}"


def test_the_kuberay_operator_is_pinned_to_one_version_everywhere():
    pins = {
        "Makefile KUBERAY_VERSION": one(r"^KUBERAY_VERSION \?= ([0-9.]+)$", "Makefile"),
        "CRD source (scripts/fetch-kuberay.sh)": one(r'^VERSION="v([0-9.]+)"$',
                                                     "scripts/fetch-kuberay.sh"),
        "tests/chartlib.py": one(r'^KUBERAY_VERSION = "([0-9.]+)"$', "tests/chartlib.py"),
        "Chart.yaml annotation": yaml.safe_load(text("helm/ray101/Chart.yaml"))["annotations"][
            "ray101.io/kuberay-version"],
    }
    assert {k: v for k, v in pins.items() if v != KUBERAY} == {}, f"cli/ray101 says {KUBERAY}"


# Prose that names an operator version: "KubeRay 1.6.0", "KubeRay v1.6.0 CRDs", "operator 1.6.0",
# "operator chart 1.6.0", "kuberay/operator:v1.6.0", "--version 1.6.0".
MENTION = re.compile(r"(?:KubeRay|operator(?: chart)?|kuberay/operator:|--version)\s*v?(\d+\.\d+\.\d+)")
DOCS = ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md")),
        "helm/ray101/Chart.yaml", "helm/ray101/values.yaml", "helm/ray101/README.md",
        *sorted(str(p.relative_to(REPO)) for p in (REPO / "k8s").glob("*.yaml"))]


@pytest.mark.parametrize("path", [p for p in DOCS if (REPO / p).is_file()])
def test_docs_name_the_pinned_operator(path):
    wrong = sorted({v for v in MENTION.findall(text(path)) if v != KUBERAY})
    assert not wrong, f"{path} names KubeRay {wrong}, the pin is {KUBERAY}"


def test_the_docs_name_the_operator_at_all():
    assert sum(len(MENTION.findall(text(p))) for p in DOCS if (REPO / p).is_file()) >= 3
