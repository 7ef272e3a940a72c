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
A generated secret value that survives `helm upgrade`: reuse the value stored in the live Secret
(Helm's lookup) and only generate a new random one when there is none (first install, or
`helm template` / --dry-run, where lookup returns nothing). Returns the plain value.
Usage: include "ray101.stableRandom" (dict "ctx" $ "secret" "name" "key" "k" "length" 32)
*/}}
{{- define "ray101.stableRandom" -}}
{{- $live := lookup "v1" "Secret" .ctx.Release.Namespace .secret }}
{{- $data := dig "data" (dict) ($live | default (dict)) }}
{{- if hasKey $data .key }}
{{- index $data .key | b64dec }}
{{- else }}
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
