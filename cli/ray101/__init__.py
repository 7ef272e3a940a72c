"""ray101: run the Ray 101 workloads on one node and on many, and compare."""

__version__ = "0.1.0"

# These pins must agree with each other: the client's Ray, the local clusters' Ray and the
# KubeRay image (helm/ray101/values.yaml `rayVersion`).
# tests/test_chart_raycluster.py::test_should_pin_rayVersion_to_cli_and_image_when_defaults
# checks RAY_VERSION against the chart.
RAY_VERSION = "2.60.0"
KUBERAY_VERSION = "1.6.0"
