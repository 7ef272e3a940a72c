"""helm/ray101 values.yaml and values.schema.json: lint, documentation, and bad values rejected
by helm itself (the schema runs at install time, before anything reaches the cluster)."""

import json
import re

import jsonschema
import pytest
import yaml

from chartlib import CHART, VALUES_DIR, VALUES_FILES, chart_values, render_fails, run_helm

SCHEMA = json.loads((CHART / "values.schema.json").read_text())


def test_should_lint_strictly_when_defaults():
    proc = run_helm("lint", "--strict", str(CHART))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("values", VALUES_FILES)
def test_should_lint_strictly_when_values_file_is_used(values):
    proc = run_helm("lint", "--strict", str(CHART), "-f", str(VALUES_DIR / values))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_should_be_a_valid_draft7_schema_that_accepts_the_defaults():
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.validate(chart_values(), SCHEMA)


@pytest.mark.parametrize(
    "bad, message",
    [
        ("clusters.multi.workerReplicas=-1", "workerReplicas"),
        ("clusters.single.head.numCpus=-2", "numCpus"),
        ("replicas=3", "replicas"),
        ("clusters.multi.replica=2", "replica"),
        ("mongodb.persistence.sise=2Gi", "sise"),
        ("clusterDefaults.head.serviceType=Ingress", "serviceType"),
        ("clusters.Multi_Node.workerReplicas=1", "Multi_Node"),
        ("mongodb.persistence.size=lots", "size"),
        ("rayVersion=latest", "rayVersion"),
        ("image.pullPolicy=Sometimes", "pullPolicy"),
        ("image.jobsBaked=maybe", "jobsBaked"),
    ],
)
def test_should_reject_bad_values_when_set(bad, message):
    error = render_fails(None, bad)
    assert "schema" in error.lower() or "values don't meet" in error.lower() or "at '" in error
    assert message in error, error


def test_should_reject_unknown_keys_in_every_object_of_the_schema():
    # Every object we define (not Kubernetes pass-through objects) closes its keys.
    open_objects = []

    def walk(node, path):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node and node.get("additionalProperties") is not False:
                open_objects.append(path)
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}/{i}")

    walk(SCHEMA, "")
    assert open_objects == []


@pytest.mark.parametrize("values", VALUES_FILES)
def test_should_accept_the_test_values_files_when_validated_with_jsonschema(values):
    # The files are partial overrides (helm merges them over values.yaml), so drop "required".
    def without_required(node):
        if isinstance(node, dict):
            return {k: without_required(v) for k, v in node.items() if k != "required"}
        if isinstance(node, list):
            return [without_required(v) for v in node]
        return node

    data = yaml.safe_load((VALUES_DIR / values).read_text()) or {}
    jsonschema.validate(data, without_required(SCHEMA))


def test_should_document_every_value_with_a_dash_dash_comment():
    """helm-docs style: every leaf value, or an ancestor map, has a `# --` comment above it."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    stack = []  # (indent, documented) of the enclosing keys
    comment_block = []
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("#"):
            comment_block.append(stripped)
            continue
        if not stripped:
            comment_block = []
            continue
        match = re.match(r"^(\s*)(- )?([A-Za-z0-9_.-]+):(.*)$", line)
        if not match or match.group(2):
            comment_block = []
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        documented = any(c.startswith("# --") for c in comment_block) or any(d for _, d in stack)
        rest = match.group(4).split("#")[0].strip()
        is_leaf = rest != ""
        if is_leaf and not documented:
            undocumented.append(f"line {number}: {stripped}")
        if not is_leaf:
            stack.append((indent, documented))
        comment_block = []
    assert undocumented == []


def test_should_start_values_with_the_schema_modeline():
    first = (CHART / "values.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=values.schema.json"


def test_should_keep_chart_appVersion_equal_to_rayVersion():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == chart_values()["rayVersion"]


def test_should_put_one_kind_in_each_template_file_named_after_it():
    for path in sorted((CHART / "templates").glob("*.yaml")):
        kinds = set(re.findall(r"^kind: (\w+)", path.read_text(), re.M))
        assert len(kinds) == 1, f"{path.name}: {kinds}"
        (kind,) = kinds
        assert path.stem.split("-")[0] == kind.lower(), f"{path.name} holds {kind}"
