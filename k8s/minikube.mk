# minikube settings for `make cluster PROVIDER=minikube` (included by the Makefile; override any
# of them on the command line, e.g. `make cluster PROVIDER=minikube MINIKUBE_MEMORY=3000mb`).
#
# 3 nodes x (2 CPUs, 2400 MB) within a 4-CPU / 8-GiB Docker VM. With the docker driver those are
# cgroup limits on each node's container, but every kubelet reports the whole VM as its capacity:
# the scheduler does not see the cap, so pods placed beyond it are OOM-killed instead of staying
# Pending (see docs/kubernetes.md). Calico enforces NetworkPolicy; minikube's default CNI for
# multi-node clusters (kindnet) may not.
MINIKUBE_PROFILE ?= ray101
MINIKUBE_NODES ?= 3
MINIKUBE_CPUS ?= 2
MINIKUBE_MEMORY ?= 2400mb
MINIKUBE_CNI ?= calico
MINIKUBE_DRIVER ?= docker
MINIKUBE_KUBERNETES_VERSION ?= v1.35.0
# Chart values for minikube, added by `make deploy PROVIDER=minikube`: MongoDB on the primary node,
# where minikube's hostPath provisioner puts its volume (see the file).
MINIKUBE_VALUES ?= -f k8s/minikube-values.yaml
