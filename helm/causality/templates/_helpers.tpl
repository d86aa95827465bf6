{{/* Names and labels. */}}
{{- define "causality.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "causality.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "causality.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "causality.secretName" -}}
{{- .Values.causality.existingSecret | default (printf "%s-credentials" (include "causality.fullname" .)) -}}
{{- end -}}

{{/* A value kept across upgrades: the one in the live Secret, else a new random one. */}}
{{- define "causality.keep" -}}
{{- $secret := lookup "v1" "Secret" .root.Release.Namespace .name -}}
{{- if and $secret (index ($secret.data | default dict) .key) -}}
{{- index $secret.data .key | b64dec -}}
{{- else -}}
{{- randAlphaNum 32 -}}
{{- end -}}
{{- end -}}

{{/* Settings that only ever come from the Secret (never plain values). */}}
{{- define "causality.secretSettings" -}}
postgres_dsn: postgres-dsn
nats_url: nats-url
s3_access_key_id: s3-access-key-id
s3_secret_access_key: s3-secret-access-key
trino_password: trino-password
llm_api_key: llm-api-key
{{- end -}}

{{/* Plain settings: what the toggles imply, then causality.settings over them. */}}
{{- define "causality.settings" -}}
{{- $name := include "causality.fullname" . -}}
{{- $out := dict -}}
{{- if .Values.minio.enabled -}}
{{- $_ := set $out "s3_endpoint_url" (printf "http://%s-minio:9000" $name) -}}
{{- else if .Values.causality.secret.s3EndpointUrl -}}
{{- $_ := set $out "s3_endpoint_url" .Values.causality.secret.s3EndpointUrl -}}
{{- end -}}
{{- if .Values.trino.enabled -}}
{{- $_ := set $out "query_engine" "trino" -}}
{{- $_ := set $out "trino_url" (printf "http://%s-trino:8080" $name) -}}
{{- $_ := set $out "trino_catalog" .Values.trino.catalog -}}
{{- $_ := set $out "trino_schema" .Values.trino.schema -}}
{{- end -}}
{{- if .Values.ray.gpuWorkers.enabled -}}
{{- $_ := set $out "llm_provider" "vllm" -}}
{{- $_ := set $out "llm_vllm_route_prefix" .Values.serve.llm.routePrefix -}}
{{- with .Values.serve.llm.args.llm_vllm_model_id }}{{ $_ := set $out "llm_vllm_model_id" . }}{{ end -}}
{{- end -}}
{{- $secretOnly := include "causality.secretSettings" . | fromYaml -}}
{{- range $key, $value := .Values.causality.settings -}}
{{- if hasKey $secretOnly $key -}}
{{- fail (printf "causality.settings.%s is a credential: put it in the Secret (causality.secret or causality.existingSecret)" $key) -}}
{{- end -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The env of every Ray container: Ray's own switches, the settings, the credentials. */}}
{{- define "causality.env" -}}
{{- range $key, $value := .Values.ray.env }}
- name: {{ $key }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- range $key, $value := (include "causality.settings" . | fromYaml) }}
- name: {{ printf "CAUSALITY_%s" (upper $key) }}
  value: {{ if kindIs "slice" $value }}{{ join "," $value | quote }}{{ else }}{{ $value | toString | quote }}{{ end }}
{{- end }}
{{- $secret := include "causality.secretName" . }}
{{- range $key, $secretKey := (include "causality.secretSettings" . | fromYaml) }}
- name: {{ printf "CAUSALITY_%s" (upper $key) }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $secretKey }}
      {{- if has $key (list "trino_password" "llm_api_key") }}
      optional: true
      {{- end }}
{{- end }}
{{- end -}}

{{/* termination grace: the sinks' drain timeout plus a margin for Serve around it. */}}
{{- define "causality.terminationGrace" -}}
{{- $drain := .Values.causality.settings.sink_drain_timeout_s | default 30 -}}
{{- add (ceil $drain | int) (.Values.ray.terminationGraceMarginSeconds | int) -}}
{{- end -}}

{{/* Probes on the gateway: /health (alive, no dependencies) and /ready (NATS, PostgreSQL). */}}
{{- define "causality.gatewayProbes" -}}
startupProbe:
  httpGet: {path: /health, port: {{ .Values.ray.servePort }}}
  periodSeconds: {{ .Values.ray.probes.periodSeconds }}
  failureThreshold: {{ .Values.ray.probes.startupFailureThreshold }}
livenessProbe:
  httpGet: {path: /health, port: {{ .Values.ray.servePort }}}
  periodSeconds: {{ .Values.ray.probes.periodSeconds }}
  timeoutSeconds: 5
  failureThreshold: 6
readinessProbe:
  httpGet: {path: /ready, port: {{ .Values.ray.servePort }}}
  periodSeconds: 5
  timeoutSeconds: 5
  failureThreshold: 3
{{- end -}}

{{- define "causality.containerSecurity" -}}
securityContext:
  runAsNonRoot: true
  allowPrivilegeEscalation: false
  capabilities: {drop: [ALL]}
{{- end -}}

{{/* The Serve config (serveConfigV2): the causality application and, with GPUs, the model. */}}
{{- define "causality.serveConfig" -}}
{{- $gw := .Values.serve.gateway -}}
{{- $gateway := dict "name" "Gateway" "max_ongoing_requests" ($gw.maxOngoingRequests | int) "ray_actor_options" (dict "num_cpus" $gw.numCpus) -}}
{{- if $gw.autoscaling -}}
{{- $_ := set $gateway "num_replicas" "auto" -}}
{{- $_ := set $gateway "autoscaling_config" (dict "min_replicas" ($gw.minReplicas | int) "max_replicas" ($gw.maxReplicas | int) "target_ongoing_requests" $gw.targetOngoingRequests) -}}
{{- else -}}
{{- $_ := set $gateway "num_replicas" ($gw.replicas | int) -}}
{{- end -}}
{{- $pipeline := dict "name" "Pipeline" "num_replicas" 1 "graceful_shutdown_timeout_s" .Values.serve.pipeline.gracefulShutdownTimeoutS "ray_actor_options" (dict "num_cpus" 0 "resources" (dict "causality_pipeline" 1)) -}}
{{- $apps := list (dict "name" "causality" "import_path" "serve_app:app" "route_prefix" "/" "deployments" (list $gateway $pipeline)) -}}
{{- if .Values.ray.gpuWorkers.enabled -}}
{{- $apps = append $apps (dict "name" "llm" "import_path" "serve_app:llm_app" "route_prefix" .Values.serve.llm.routePrefix "args" .Values.serve.llm.args) -}}
{{- end -}}
{{- toYaml (dict "proxy_location" "EveryNode" "http_options" (dict "host" "0.0.0.0" "port" (.Values.ray.servePort | int)) "applications" $apps) -}}
{{- end -}}
