"""ray101: run the Ray 101 workloads on one node and on many, and compare."""

__version__ = "0.1.0"

# These pins must agree with each other: the client's Ray, the local clusters' Ray and the
# KubeRay image (helm/ray101/values.yaml `rayVersion`).
# tests/unit/test_versions.py checks every pin across the project against these two.
RAY_VERSION = "2.60.0"
KUBERAY_VERSION = "1.6.0"
