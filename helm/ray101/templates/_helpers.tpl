{{/*
Chart name, truncated to 63 characters (the DNS label limit).
*/}}
{{- define "ray101.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified name prefix: the release name, plus the chart name when the release name does
not already contain it. RayClusters are "<fullname>-<key>", so keep it short.
*/}}
{{- define "ray101.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "ray101.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels for every object: the selector labels plus the descriptive ones. Never use these in a
selector: they change with the chart version.
*/}}
{{- define "ray101.labels" -}}
helm.sh/chart: {{ include "ray101.chart" . }}
{{ include "ray101.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ray101
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels: stable for the life of a release (name and instance only).
*/}}
{{- define "ray101.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ray101.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
MongoDB: object name and selector labels (the chart's selector labels plus the component).
*/}}
{{- define "ray101.mongodb.fullname" -}}
{{- printf "%s-mongodb" (include "ray101.fullname" .) }}
{{- end }}

{{- define "ray101.mongodb.selectorLabels" -}}
{{ include "ray101.selectorLabels" . }}
app.kubernetes.io/component: mongodb
{{- end }}

{{/*
The Secret holding MongoDB's root credentials and the URI for the Ray pods.
*/}}
{{- define "ray101.mongodb.secretName" -}}
{{- default (include "ray101.mongodb.fullname" .) .Values.mongodb.auth.existingSecret }}
{{- end }}

{{/*
The Secret holding the Ray auth token (key auth_token).
*/}}
{{- define "ray101.ray.authSecretName" -}}
{{- default (printf "%s-ray-auth" (include "ray101.fullname" .)) .Values.auth.existingSecret }}
{{- end }}

{{/*
A generated secret value that survives `helm upgrade`: the value stored in the live Secret (Helm's
lookup). A new random one only on install, never on an upgrade: the running servers and the data
volume still expect the old one, and `helm template` or a client-side --dry-run (no lookup) would
otherwise hand out a different password without a word. On install, `volume` (a
PersistentVolumeClaim name, optional) kept from an earlier install means the data expects a value
this Secret no longer has: that fails too. `fix` (optional) ends the upgrade's error: what to do.
Returns the plain value.
Usage: include "ray101.stableRandom"
  (dict "ctx" $ "secret" "name" "key" "k" "length" 32 "fix" "restore it" "volume" "claim")
*/}}
{{- define "ray101.stableRandom" -}}
{{- $ns := .ctx.Release.Namespace }}
{{- $live := lookup "v1" "Secret" $ns .secret }}
{{- $data := dig "data" (dict) ($live | default (dict)) }}
{{- $where := printf "Secret %s/%s" $ns .secret }}
{{- $missing := ternary (printf "%s has no key %s" $where .key) (printf "%s was not found" $where) (not (empty $live)) }}
{{- if hasKey $data .key }}
{{- index $data .key | b64dec }}
{{- else if .ctx.Release.IsUpgrade }}
{{- fail (printf "helm upgrade: %s (helm template and a client-side --dry-run cannot read the cluster: use --dry-run=server), and a new random %s would not match the one in use; %s" $missing .key (.fix | default "restore the Secret, or uninstall and install again")) }}
{{- else }}
{{- if .volume }}
{{- if lookup "v1" "PersistentVolumeClaim" $ns .volume }}
{{- fail (printf "helm install: PersistentVolumeClaim %s/%s holds data from an earlier install, but %s: a new %s would not match the one the data expects; restore the Secret, or delete the claim and its data (make undeploy deletes both)" $ns .volume $missing .key) }}
{{- end }}
{{- end }}
{{- randAlphaNum (int .length) }}
{{- end }}
{{- end }}

{{/*
A memory quantity (Ki/Mi/Gi/Ti, k/M/G/T or plain bytes) as a whole number of bytes; `what` names
the value in the error. Usage: include "ray101.bytes" (dict "value" "1536Mi" "what" "x.y")
*/}}
{{- define "ray101.bytes" -}}
{{- $value := toString .value }}
{{- $number := regexFind "^[0-9.]+" $value }}
{{- $suffix := trimPrefix $number $value }}
{{- $factors := dict "" 1.0 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 }}
{{- if or (not $number) (not (hasKey $factors $suffix)) }}
{{- fail (printf "%s %q: use a Ki/Mi/Gi suffix" .what $value) }}
{{- end }}
{{- printf "%.0f" (mulf (float64 $number) (index $factors $suffix)) }}
{{- end }}

{{/*
WiredTiger cache size in GB: the explicit value, or derived from the memory limit the way mongod
derives it from a host's RAM: max(0.25, 0.5 * (limit - 1 GiB)).
*/}}
{{- define "ray101.mongodb.wiredTigerCacheSizeGB" -}}
{{- $explicit := toString .Values.mongodb.wiredTigerCacheSizeGB }}
{{- if $explicit }}
{{- $explicit }}
{{- else }}
{{- $limit := dig "limits" "memory" "" .Values.mongodb.resources | toString }}
{{- if not $limit }}
{{- fail "mongodb.resources.limits.memory is required (it sizes the WiredTiger cache)" }}
{{- end }}
{{- $bytes := include "ray101.bytes" (dict "value" $limit "what" "mongodb.resources.limits.memory") }}
{{- $gib := divf (float64 $bytes) 1073741824.0 }}
{{- printf "%.2f" (maxf 0.25 (mulf 0.5 (subf $gib 1.0))) }}
{{- end }}
{{- end }}

{{/*
Labels of the Ray pods of one cluster. The CLI and the NetworkPolicies rely on part-of and
ray101.io/cluster; instance keeps two releases in one namespace apart.
Usage: include "ray101.ray.podLabels" (dict "ctx" $ "key" $key)
*/}}
{{- define "ray101.ray.podLabels" -}}
app.kubernetes.io/part-of: ray101
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
ray101.io/cluster: {{ .key }}
{{- end }}

{{/*
Refuse values that open a way in (called from secret-ray-auth.yaml): with auth.enabled false,
anyone who reaches a head's dashboard or GCS port may run code on every Ray node, so no head may
be exposed outside the Kubernetes cluster (serviceType NodePort or LoadBalancer, in
clusterDefaults or a cluster entry). One line.
*/}}
{{- define "ray101.validate" -}}
{{- if not .Values.auth.enabled }}
{{- $default := .Values.clusterDefaults.head.serviceType | default "ClusterIP" }}
{{- $exposed := list }}
{{- range $key, $cluster := .Values.clusters }}
{{- if $cluster.enabled }}
{{- $type := dig "head" "serviceType" $default $cluster }}
{{- if ne $type "ClusterIP" }}
{{- $exposed = append $exposed (printf "%s (%s)" $key $type) }}
{{- end }}
{{- end }}
{{- end }}
{{- if $exposed }}
{{- fail (printf "auth.enabled=false with the Ray head of %s exposed outside the cluster: anyone reaching it could run code on the Ray nodes; keep auth.enabled=true, or use serviceType ClusterIP (the CLI reaches heads through a port-forward)" (join ", " $exposed)) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Selector of every Ray pod of this release (any cluster): the labels of "ray101.ray.podLabels".
*/}}
{{- define "ray101.ray.podSelector" -}}
matchLabels:
  app.kubernetes.io/part-of: ray101
  app.kubernetes.io/instance: {{ .Release.Name }}
matchExpressions:
  - key: ray101.io/cluster
    operator: Exists
{{- end }}

{{/*
Labels of a pod that may use the Jobs API of this release's heads (the Ray NetworkPolicy lets it
reach their dashboard port, and nothing else): the `helm test` pods.
*/}}
{{- define "ray101.ray.jobsClientLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
ray101.io/jobs-client: "true"
{{- end }}
