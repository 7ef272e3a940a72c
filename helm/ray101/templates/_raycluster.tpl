{{/*
Name of the RayCluster of one entry of .Values.clusters; KubeRay names its head Service
"<name>-head-svc". Usage: include "ray101.ray.clusterName" (dict "ctx" $ "key" $key)
*/}}
{{- define "ray101.ray.clusterName" -}}
{{- printf "%s-%s" (include "ray101.fullname" .ctx) .key | trunc 50 | trimSuffix "-" }}
{{- end }}

{{/*
Pod spec pieces shared by the head and worker groups of every RayCluster. `store` is the group's
"ray101.ray.objectStore". `apiToken`: the head of an autoscaling cluster, whose autoscaler
container (and only it) mounts a Kubernetes API token ("ray101.ray.autoscalerOptions").
Usage: include "ray101.ray.podSpec" (dict "ctx" $ "key" $key "store" $store "apiToken" false)
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
# Ray's object store lives in /dev/shm: memory-backed, the store's size plus 64Mi (KubeRay would
# otherwise mount one as large as the whole memory limit).
volumes:
  - name: object-store
    emptyDir:
      medium: Memory
      sizeLimit: {{ .store.shmSizeLimit }}
  {{- if .apiToken }}
  # The service account token KubeRay's autoscaler needs (RBAC: the Role KubeRay makes for the
  # cluster), projected as Kubernetes would automount it but mounted in the autoscaler container
  # only: code running in Ray (any job) gets no API credentials.
  - name: kube-api-access
    projected:
      defaultMode: 0444
      sources:
        - serviceAccountToken:
            path: token
            expirationSeconds: 3607
        - configMap:
            name: kube-root-ca.crt
            items:
              - key: ca.crt
                path: ca.crt
        - downwardAPI:
            items:
              - path: namespace
                fieldRef:
                  fieldPath: metadata.namespace
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
  # Each raylet starts one worker process per CPU that belongs to no job yet, so the first job's
  # first tasks find them started (ray101_jobs.warm keeps them there for the next job).
  - name: RAY_enable_worker_prestart
    value: "1"
  # Each worker imports, as it starts, what Ray's serializer imports when a job's first task
  # reaches it (pydantic, starlette, pyarrow's hooks): 0.5-1 s per worker at a job's start
  # otherwise, inside the first repetition (ray101_jobs.warm.PRELOAD_MODULES, the same list).
  - name: RAY_preload_python_modules
    value: "ray._common.pydantic_compat,pydantic.v1,ray._private.arrow_serialization,starlette.datastructures"
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
volumeMounts:
  - name: object-store
    mountPath: /dev/shm
securityContext:
  {{- toYaml $defaults.securityContext | nindent 2 }}
{{- end }}

{{/*
The object store of one node group, from its objectStoreMemory: `bytes` for `ray start
--object-store-memory`, `from` (the values that set it) and `shmSizeLimit`, the size of /dev/shm:
the store plus 64Mi, so a full store leaves room for Ray's other users of shared memory. Both come
out of the container's memory limit: a store under Ray's minimum (75Mi) or one that leaves no
memory for Ray's processes fails the render.
Usage: include "ray101.ray.objectStore" (dict "key" $key "role" "head" "spec" $head) | fromYaml
*/}}
{{- define "ray101.ray.objectStore" -}}
{{- $from := printf "clusterDefaults.%s.objectStoreMemory or clusters.%s.%s.objectStoreMemory" .role .key .role }}
{{- $bytes := include "ray101.bytes" (dict "value" .spec.objectStoreMemory "what" $from) | int64 }}
{{- $limitValue := dig "limits" "memory" "" .spec.resources }}
{{- $limit := include "ray101.bytes" (dict "value" $limitValue "what" (printf "resources.limits.memory of the %s of cluster %s" .role .key)) | int64 }}
{{- $shmMi := add (div (add $bytes 1048575) 1048576) 64 }}
{{- if lt $bytes 78643200 }}
{{- fail (printf "%s %s is under Ray's minimum object store of 75Mi" $from (toString .spec.objectStoreMemory)) }}
{{- end }}
{{- if ge (mul $shmMi 2 1048576) $limit }}
{{- fail (printf "%s %s with 64Mi of /dev/shm headroom is half or more of the %s's memory limit %s: Ray's processes need the rest" $from (toString .spec.objectStoreMemory) .role (toString $limitValue)) }}
{{- end }}
bytes: {{ $bytes | quote }}
from: {{ $from | quote }}
shmSizeLimit: {{ printf "%dMi" $shmMi }}
{{- end }}

{{/*
`ray start` parameters the chart derives from values, for a head: param -> {value, from}. The
ports follow clusterDefaults.headPorts, so the container ports (which KubeRay copies to the head
Service), Ray's listeners and KubeRay's probes agree. Usage:
include "ray101.ray.headStartParams" (dict "ctx" $ "key" $key "head" $head "store" $store) | fromYaml
*/}}
{{- define "ray101.ray.headStartParams" -}}
{{- $ports := .ctx.Values.clusterDefaults.headPorts -}}
num-cpus: {value: {{ .head.numCpus | quote }}, from: {{ printf "clusterDefaults.head.numCpus or clusters.%s.head.numCpus" .key | quote }}}
object-store-memory: {value: {{ .store.bytes | quote }}, from: {{ .store.from | quote }}}
{{- $byPort := dict "gcs-server" "port" "dashboard" "dashboard-port" "client" "ray-client-server-port" "metrics" "metrics-export-port" }}
{{- range $name, $param := $byPort }}
{{- if hasKey $ports $name }}
{{ $param }}: {value: {{ index $ports $name | quote }}, from: {{ printf "clusterDefaults.headPorts.%s" $name | quote }}}
{{- end }}
{{- end }}
{{- end }}

{{/*
`ray start` parameters the chart derives from values, for workers (as above).
Usage: include "ray101.ray.workerStartParams" (dict "key" $key "worker" $worker "store" $store) | fromYaml
*/}}
{{- define "ray101.ray.workerStartParams" -}}
num-cpus: {value: {{ .worker.numCpus | quote }}, from: {{ printf "clusterDefaults.worker.numCpus or clusters.%s.worker.numCpus" .key | quote }}}
object-store-memory: {value: {{ .store.bytes | quote }}, from: {{ .store.from | quote }}}
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

{{/*
KubeRay's in-tree autoscaler (spec.autoscalerOptions) for a cluster with `autoscaling.enabled`:
Ray's autoscaler v1 in a sidecar of the head pod (KubeRay injects it, with the head's image, and
makes its ServiceAccount, Role and RoleBinding: pods and rayclusters in this namespace). It asks
for workers when tasks wait for CPUs and removes a worker idle for idleTimeoutSeconds. Its
container meets Pod Security "restricted" with the Ray containers' securityContext.
Usage: include "ray101.ray.autoscalerOptions" (dict "ctx" $ "autoscaling" $autoscaling)
*/}}
{{- define "ray101.ray.autoscalerOptions" -}}
{{- $defaults := .ctx.Values.clusterDefaults -}}
version: v1
upscalingMode: {{ $defaults.autoscaler.upscalingMode }}
idleTimeoutSeconds: {{ .autoscaling.idleTimeoutSeconds }}
imagePullPolicy: {{ .ctx.Values.image.pullPolicy }}
resources:
  {{- toYaml $defaults.autoscaler.resources | nindent 2 }}
securityContext:
  {{- toYaml $defaults.securityContext | nindent 2 }}
volumeMounts:
  - name: kube-api-access
    mountPath: /var/run/secrets/kubernetes.io/serviceaccount
    readOnly: true
{{- end }}
