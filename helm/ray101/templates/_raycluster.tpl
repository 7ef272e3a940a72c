{{/*
Pod spec pieces shared by the head and worker groups of every RayCluster.
Usage: include "ray101.ray.podSpec" (dict "ctx" $ "key" $key)
*/}}
{{- define "ray101.ray.podSpec" -}}
{{- $defaults := .ctx.Values.clusterDefaults -}}
automountServiceAccountToken: false
securityContext:
  {{- toYaml $defaults.podSecurityContext | nindent 2 }}
{{- with .ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $defaults.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $defaults.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if $defaults.spreadOverNodes }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              app.kubernetes.io/instance: {{ .ctx.Release.Name }}
              ray101.io/cluster: {{ .key }}
{{- end }}
{{- end }}

{{/*
Env, resources and security context of a Ray container.
Usage: include "ray101.ray.containerCommon" (dict "ctx" $ "mongoSecret" $name "resources" $res)
*/}}
{{- define "ray101.ray.containerCommon" -}}
{{- $defaults := .ctx.Values.clusterDefaults -}}
env:
  - name: RAY101_SERVE_PORT
    value: {{ $defaults.headPorts.serve | quote }}
  # Raylets share free resources every 10 ms instead of 100 ms, so tasks spilled to other
  # nodes start at once (docs/performance.md).
  - name: RAY_raylet_report_resources_period_milliseconds
    value: "10"
  # The log monitor looks for new log files every 0.5 s instead of every 0.1 s (idle CPU).
  - name: RAY_LOG_MONITOR_MANY_FILES_THRESHOLD
    value: "0"
  {{- if .mongoSecret }}
  # The URI carries a password: it comes from the Secret, never from values.
  - name: RAY101_MONGO_URI
    valueFrom:
      secretKeyRef:
        name: {{ .mongoSecret }}
        key: {{ .ctx.Values.mongodb.auth.secretKeys.uri }}
  {{- end }}
  {{- with $defaults.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
resources:
  {{- toYaml .resources | nindent 2 }}
securityContext:
  {{- toYaml $defaults.securityContext | nindent 2 }}
{{- end }}

{{/*
`ray start` parameters the chart derives from values, for a head: param -> {value, from}. The
ports follow clusterDefaults.headPorts, so the container ports (which KubeRay copies to the head
Service), Ray's listeners and KubeRay's probes agree. Usage:
include "ray101.ray.headStartParams" (dict "ctx" $ "key" $key "head" $head) | fromYaml
*/}}
{{- define "ray101.ray.headStartParams" -}}
{{- $ports := .ctx.Values.clusterDefaults.headPorts -}}
num-cpus: {value: {{ .head.numCpus | quote }}, from: {{ printf "clusterDefaults.head.numCpus or clusters.%s.head.numCpus" .key | quote }}}
{{- $byPort := dict "gcs-server" "port" "dashboard" "dashboard-port" "client" "ray-client-server-port" "metrics" "metrics-export-port" }}
{{- range $name, $param := $byPort }}
{{- if hasKey $ports $name }}
{{ $param }}: {value: {{ index $ports $name | quote }}, from: {{ printf "clusterDefaults.headPorts.%s" $name | quote }}}
{{- end }}
{{- end }}
{{- end }}

{{/*
One rayStartParams map: the chart's own parameters plus the user's extra ones, each key once.
A user entry for a parameter the chart derives fails the render, naming the value to set.
dashboard-host 0.0.0.0 (on heads) may be overridden. Values are strings, as KubeRay wants.
Usage: include "ray101.ray.startParams"
  (dict "where" "the head of cluster x" "head" true "params" $extra "chart" $derived)
*/}}
{{- define "ray101.ray.startParams" -}}
{{- $out := dict }}
{{- range $param, $spec := .chart }}
{{- $_ := set $out $param (toString $spec.value) }}
{{- end }}
{{- if .head }}
{{- $_ := set $out "dashboard-host" "0.0.0.0" }}
{{- end }}
{{- range $param, $value := .params }}
{{- if hasKey $.chart $param }}
{{- fail (printf "rayStartParams.%s of %s: the chart sets %s from %s; set that instead" $param $.where $param (index $.chart $param).from) }}
{{- end }}
{{- $_ := set $out $param (toString $value) }}
{{- end }}
{{- range $param, $value := $out }}
{{ $param }}: {{ $value | quote }}
{{- end }}
{{- end }}
