# ray101: the front door. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
RAY101 ?= $(VENV)/bin/ray101
PYTEST_ARGS ?=
# Where the results of `make demo` go.
RESULTS ?= results
# Where `ray101 mongo install` builds FerretDB: the checkout's .tools (ray101's own default,
# outside a checkout, is ~/.cache/ray101/tools).
export RAY101_TOOLS ?= $(CURDIR)/.tools

.PHONY: help venv mongo-server demo down test-fast test lint bench readme clean

help: ## Show the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	@echo "Installing ray101 and its dependencies into $(VENV) (Ray is large: a minute or two)"
	$(VENV)/bin/pip install --progress-bar on -e ".[test]"
	touch $@

venv: $(VENV)/.installed ## Create .venv with ray101 (Ray 2.60.0 pinned) and the test tools

# True when the go on PATH can build FerretDB (Go >= 1.24); else scripts/fetch-go.sh brings one.
GO_OK = command -v go >/dev/null 2>&1 && \
	[ "$$(go env GOVERSION 2>/dev/null | sed 's/^go//' | awk -F. '{ print ($$1 > 1 || ($$1 == 1 && $$2 + 0 >= 24)) ? "ok" : "old" }')" = ok ]

mongo-server: venv ## Build FerretDB v1.24.2 into .tools (skipped with mongod on PATH or RAY101_MONGO_URI)
	@if [ -n "$$RAY101_MONGO_URI" ] || command -v mongod >/dev/null; then \
		echo "MongoDB: using $${RAY101_MONGO_URI:+RAY101_MONGO_URI}$${RAY101_MONGO_URI:-mongod on PATH}"; \
	else \
		if ! { $(GO_OK); }; then \
			echo "Go >= 1.24 not on PATH: fetching a verified toolchain (scripts/fetch-go.sh)"; \
			gobin="$$(scripts/fetch-go.sh)" && PATH="$$gobin:$$PATH"; \
		fi; \
		$(RAY101) mongo install; \
	fi

demo: venv mongo-server ## Start MongoDB and the local clusters, then compare every workload on both
	@t0=$$(date +%s); $(RAY101) local up && t1=$$(date +%s) && \
	$(RAY101) compare --clusters local-single,local-multi --out $(RESULTS) && t2=$$(date +%s) && \
	echo && echo "Time per stage: local up $$((t1 - t0)) s, compare (every workload on both clusters, 3 repetitions) $$((t2 - t1)) s"
	@echo
	@echo "Results: $(RESULTS)/compare.html (open it in a browser), compare.md, compare.json, compare.png"
	@echo "The clusters are still up: ray101 dashboard --cluster local-multi"
	@echo "Stop them with: make down   (or: $(RAY101) local down)"

down: ## Stop the local clusters and the MongoDB server that `make demo` started
	$(RAY101) local down

test-fast: venv ## Fast tier: pure logic and CLI input checks (tests/unit), no cluster, MongoDB or network
	$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

test: test-fast tools kuberay-crds mongo-server ## Both tiers: test-fast, then real Ray, Jobs API, MongoDB wire protocol, helm
	$(VENV)/bin/pytest --ignore=tests/unit $(PYTEST_ARGS)

lint: venv ## ruff (style, imports, bugbear) and mypy (types; None misuse in cli/), both configured in pyproject.toml
	$(VENV)/bin/ruff check cli jobs tests bench scripts
	$(VENV)/bin/mypy

bench: venv mongo-server ## Run the benchmarks (and on the deployed k8s clusters, after `make deploy`) and write docs/performance.md
	$(VENV)/bin/python -m bench

readme: venv ## Regenerate docs/cli.md (CLI reference, --json table), README.md's comparison (the last make bench) and helm/ray101/README.md (values)
	$(VENV)/bin/cog -r docs/cli.md README.md
	$(VENV)/bin/python scripts/chart_readme.py

clean: ## Remove the virtualenv, installed tools and results (run `make down` first)
	rm -rf $(VENV) .tools $(RESULTS)

# >>> kubernetes targets
# Kubernetes side of ray101: a local cluster (kind, minikube, or `host`: Kubernetes built from
# source and run straight on this Linux host as root, see k8s/host/), the KubeRay operator, the
# helm/ray101 chart. Every tool and version is overridable: `make deploy PROVIDER=minikube`.
PROVIDER ?= kind
KIND ?= kind
KIND_CLUSTER_NAME ?= ray101
KIND_CONFIG ?= k8s/kind-config.yaml
# kind's node image: empty for the published kindest/node pinned in $(KIND_CONFIG) (Docker with a
# registry: laptops), or another image to pull; `local` for one made on this machine without a
# registry (k8s/kind/: a private Docker Engine, kind built from the Go module proxy, the host
# provider's Kubernetes build and images; Linux, root). Never picked by itself: the test tier and
# CI set it.
KIND_NODE_IMAGE ?=
KIND_LOCAL = $(and $(filter kind,$(PROVIDER)),$(filter local,$(KIND_NODE_IMAGE)))
MINIKUBE ?= minikube
-include k8s/minikube.mk
NAMESPACE ?= ray101
RELEASE ?= ray101
CHART ?= helm/ray101
KUBERAY_VERSION ?= 1.6.0
# helm and kubectl: on PATH, else the pinned ones scripts/install-tools.sh puts into $(TOOLS_DIR)/bin,
# installed by the first target that needs them (where it cannot, it stops at once saying what to
# install).
HELM ?= $(shell command -v helm || echo $(TOOLS_DIR)/bin/helm)
KUBECTL ?= $(shell command -v kubectl || echo $(TOOLS_DIR)/bin/kubectl)
DOCKER ?= docker
# Extra arguments for `helm upgrade --install` of the chart, e.g. HELM_ARGS="-f my-values.yaml".
HELM_ARGS ?=
DEPLOY_TIMEOUT ?= 15m
# Cluster the Makefile seeds MongoDB through after deploying.
SEED_CLUSTER ?= k8s-multi
# rayproject/ray tags without a suffix are amd64-only; arm64 machines (Apple silicon, and so their
# Docker VM and kind nodes) need the -aarch64 tag. MACHINE: the architecture the nodes run.
MACHINE ?= $(shell uname -m)
RAY_TAG_SUFFIX ?= $(if $(filter arm64 aarch64,$(MACHINE)),-aarch64)
# `make image`: the Ray image with pymongo and ray101_jobs baked in.
IMAGE_REPOSITORY ?= ray101-ray
IMAGE_TAG ?= 2.60.0-py311$(RAY_TAG_SUFFIX)
RAY_BASE_IMAGE ?= rayproject/ray:$(IMAGE_TAG)
TOOLS_DIR ?= $(or $(RAY101_TOOLS),.tools)
# The operator image `make operator` runs, and chart values per provider: the host provider runs
# the images k8s/host/images.sh builds (k8s/host/values.yaml); kind and minikube pull public ones.
ifeq ($(PROVIDER),host)
OPERATOR_IMAGE ?= localhost/ray101/kuberay-operator:v$(KUBERAY_VERSION)
PROVIDER_VALUES ?= -f k8s/host/values.yaml
else ifneq ($(KIND_LOCAL),)
OPERATOR_IMAGE ?= localhost/ray101/kuberay-operator:v$(KUBERAY_VERSION)
PROVIDER_VALUES ?= -f k8s/host/values.yaml -f k8s/kind/values.yaml
else
OPERATOR_IMAGE ?= quay.io/kuberay/operator:v$(KUBERAY_VERSION)
PROVIDER_VALUES ?= $(if $(filter minikube,$(PROVIDER)),$(MINIKUBE_VALUES)) \
	$(if $(RAY_TAG_SUFFIX),--set image.tag=2.60.0-py311$(RAY_TAG_SUFFIX))
endif

.PHONY: tools kuberay-crds cluster namespace operator deploy dashboard compare-k8s undeploy \
	clean-cluster image test-k8s

tools: ## Install pinned helm (v4) and kubectl into .tools/bin (used by the chart tests)
	TOOLS_DIR=$(TOOLS_DIR) scripts/install-tools.sh

$(TOOLS_DIR)/bin/helm $(TOOLS_DIR)/bin/kubectl:
	TOOLS_DIR=$(TOOLS_DIR) scripts/install-tools.sh

kuberay-crds: ## Fetch the KubeRay operator's Go module (its CRDs feed the chart tests) into the cache
	scripts/fetch-kuberay.sh >/dev/null

cluster: $(KUBECTL) ## Create the local cluster (kind; PROVIDER=minikube|host), skipped if it already exists
	@case "$(PROVIDER)" in \
	kind) \
		if [ -n "$(KIND_LOCAL)" ]; then \
			KIND_CLUSTER_NAME=$(KIND_CLUSTER_NAME) k8s/kind/up.sh || exit 1; \
		elif $(KIND) get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER_NAME)'; then \
			echo "kind cluster $(KIND_CLUSTER_NAME) exists"; \
		else \
			$(KIND) create cluster --name $(KIND_CLUSTER_NAME) --config $(KIND_CONFIG) --wait 5m \
				$(if $(KIND_NODE_IMAGE),--image $(KIND_NODE_IMAGE)); \
		fi; \
		$(KUBECTL) config use-context kind-$(KIND_CLUSTER_NAME) ;; \
	minikube) \
		if $(MINIKUBE) status -p $(MINIKUBE_PROFILE) >/dev/null 2>&1; then \
			echo "minikube profile $(MINIKUBE_PROFILE) is running"; \
		else \
			$(MINIKUBE) start -p $(MINIKUBE_PROFILE) --driver $(MINIKUBE_DRIVER) \
				--nodes $(MINIKUBE_NODES) --cpus $(MINIKUBE_CPUS) --memory $(MINIKUBE_MEMORY) \
				--cni $(MINIKUBE_CNI) --kubernetes-version $(MINIKUBE_KUBERNETES_VERSION); \
		fi; \
		$(KUBECTL) config use-context $(MINIKUBE_PROFILE) ;; \
	host) k8s/host/up.sh ;; \
	*) echo "PROVIDER must be kind, minikube or host, not '$(PROVIDER)'" >&2; exit 2 ;; \
	esac

namespace: $(KUBECTL) ## Create the namespace with Pod Security "restricted" enforced
	sed 's/^  name: ray101$$/  name: $(NAMESPACE)/' k8s/namespace.yaml | $(KUBECTL) apply -f -

operator: namespace $(KUBECTL) ## Install the KubeRay operator ($(KUBERAY_VERSION)) watching the namespace
	KUBECTL=$(KUBECTL) KUBERAY_VERSION=$(KUBERAY_VERSION) k8s/kuberay-operator/install.sh $(NAMESPACE) $(OPERATOR_IMAGE)

deploy: venv $(HELM) $(KUBECTL) ## Cluster + operator + chart, wait for the RayClusters, seed MongoDB
	@$(MAKE) --no-print-directory cluster
	@$(MAKE) --no-print-directory operator
	@# --force-conflicts: KubeRay's autoscaler writes k8s-auto's worker replicas, and the CRD's
	@# workerGroupSpecs is an atomic list, so it owns the whole list; the chart takes it back on
	@# upgrade (the autoscaler sets the replicas again at its next pass).
	$(HELM) upgrade --install $(RELEASE) $(CHART) --namespace $(NAMESPACE) --force-conflicts \
		--wait --timeout $(DEPLOY_TIMEOUT) $(PROVIDER_VALUES) $(HELM_ARGS)
	$(KUBECTL) wait raycluster --namespace $(NAMESPACE) \
		--selector app.kubernetes.io/instance=$(RELEASE),app.kubernetes.io/part-of=ray101 \
		--for=jsonpath='{.status.state}'=ready --timeout $(DEPLOY_TIMEOUT)
	$(RAY101) mongo seed --cluster $(SEED_CLUSTER)
	@echo
	@echo "Deployed. Next:"
	@echo "  $(KUBECTL) -n $(NAMESPACE) get rayclusters,pods"
	@echo "  $(RAY101) clusters                    # lists k8s-single and k8s-multi"
	@echo "  make dashboard                        # Ray dashboard of k8s-multi via a port-forward"
	@echo "  make compare-k8s                      # every workload on both, report in results/k8s"
	@echo "  make undeploy                         # remove the release and its data"

dashboard: venv $(KUBECTL) ## Open the Ray dashboard of k8s-multi through a port-forward
	$(RAY101) dashboard --cluster k8s-multi

compare-k8s: venv ## Run the workloads on k8s-single and k8s-multi and compare (results/k8s)
	$(RAY101) compare --clusters k8s-single,k8s-multi --out results/k8s

undeploy: $(HELM) $(KUBECTL) ## Uninstall the chart and delete its MongoDB volume and kept Secret (operator stays)
	-$(HELM) uninstall $(RELEASE) --namespace $(NAMESPACE) --wait
	$(KUBECTL) delete pvc,secret --namespace $(NAMESPACE) --ignore-not-found \
		--selector app.kubernetes.io/instance=$(RELEASE),app.kubernetes.io/component=mongodb

clean-cluster: ## Delete the local cluster (everything in it is lost)
	@case "$(PROVIDER)" in \
	kind) if [ -n "$(KIND_LOCAL)" ]; then KIND_CLUSTER_NAME=$(KIND_CLUSTER_NAME) k8s/kind/down.sh; \
		else $(KIND) delete cluster --name $(KIND_CLUSTER_NAME); fi ;; \
	minikube) $(MINIKUBE) delete -p $(MINIKUBE_PROFILE) ;; \
	host) k8s/host/down.sh ;; \
	*) echo "PROVIDER must be kind, minikube or host, not '$(PROVIDER)'" >&2; exit 2 ;; \
	esac

image: ## Build the Ray image with pymongo and ray101_jobs and load it into the cluster
	@if [ "$(PROVIDER)" = host ]; then k8s/host/images.sh; exit 0; fi; \
	if [ -n "$(KIND_LOCAL)" ]; then \
		k8s/host/images.sh --build-only && KIND_CLUSTER_NAME=$(KIND_CLUSTER_NAME) k8s/kind/images.sh load ray && \
		echo "Use it: make deploy PROVIDER=kind KIND_NODE_IMAGE=local HELM_ARGS='--set image.tag=$$(k8s/kind/images.sh ref ray | sed 's/.*://') --set image.jobsBaked=true'"; \
		exit; \
	fi; \
	$(DOCKER) build -f k8s/Dockerfile --build-arg RAY_IMAGE=$(RAY_BASE_IMAGE) \
		-t $(IMAGE_REPOSITORY):$(IMAGE_TAG) . && \
	case "$(PROVIDER)" in \
	kind) $(KIND) load docker-image $(IMAGE_REPOSITORY):$(IMAGE_TAG) --name $(KIND_CLUSTER_NAME) ;; \
	minikube) $(MINIKUBE) image load -p $(MINIKUBE_PROFILE) $(IMAGE_REPOSITORY):$(IMAGE_TAG) ;; \
	esac && \
	echo "Use it: make deploy HELM_ARGS='--set image.repository=$(IMAGE_REPOSITORY) --set image.tag=$(IMAGE_TAG) --set image.jobsBaked=true'"

test-k8s: venv tools ## The whole Kubernetes path for real on this host (root): up, deploy, compare, down (PROVIDER=kind: 3 kind nodes, no registry)
	@if [ "$(origin PROVIDER)" = file ] || [ "$(PROVIDER)" = host ]; then \
		RAY101_TEST_K8S=1 PROVIDER=host $(VENV)/bin/pytest tests/k8s/test_real_cluster.py -p no:cacheprovider -o addopts="" -q -s $(PYTEST_ARGS); \
	elif [ "$(PROVIDER)" = kind ]; then \
		RAY101_TEST_K8S=1 PROVIDER=kind KIND_NODE_IMAGE=local $(VENV)/bin/pytest tests/k8s/test_kind_cluster.py \
			-p no:cacheprovider -o addopts="" -q -s $(PYTEST_ARGS); \
	else echo "test-k8s: PROVIDER must be host (the default) or kind, not '$(PROVIDER)'" >&2; exit 2; fi
# <<< kubernetes targets
