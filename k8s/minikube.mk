# minikube settings for `make cluster PROVIDER=minikube` (included by the Makefile; override any
# of them on the command line, e.g. `make cluster PROVIDER=minikube MINIKUBE_MEMORY=3000mb`).
#
# Unlike kind, minikube caps each node: 3 nodes x (2 CPUs, 2400 MB) holds the chart's defaults
# (see docs/kubernetes.md) within a 4-CPU / 8-GiB Docker VM. Calico enforces NetworkPolicy;
# minikube's default CNI for multi-node clusters (kindnet) may not.
MINIKUBE_PROFILE ?= ray101
MINIKUBE_NODES ?= 3
MINIKUBE_CPUS ?= 2
MINIKUBE_MEMORY ?= 2400mb
MINIKUBE_CNI ?= calico
MINIKUBE_DRIVER ?= docker
MINIKUBE_KUBERNETES_VERSION ?= v1.35.0
