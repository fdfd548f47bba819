{{/* Names and the per-service settings (serviceDefaults deep-merged under each service's block). */}}
{{- define "parley.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 50 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "parley.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one service: (dict "root" $ "name" "lm") */}}
{{- define "parley.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* The effective settings of one service, as YAML: (dict "root" $ "name" "lm") */}}
{{- define "parley.svc" -}}
{{- $svc := index .root.Values.services .name -}}
{{- toYaml (mergeOverwrite (deepCopy .root.Values.serviceDefaults) (deepCopy $svc)) -}}
{{- end -}}

{{/* The image of one service: (dict "root" $ "s" $effectiveSettings); a service's own image
     block overrides the chart-wide one key by key; a digest wins over a tag. */}}
{{- define "parley.image" -}}
{{- $img := mergeOverwrite (deepCopy .root.Values.image) (deepCopy (.s.image | default dict)) -}}
{{- if $img.digest -}}
{{ $img.repository }}@{{ $img.digest }}
{{- else -}}
{{ $img.repository }}:{{ $img.tag | default .root.Chart.AppVersion }}{{ $img.tagSuffix }}
{{- end -}}
{{- end -}}

{{/* Secret names the chart generates when none is given. */}}
{{- define "parley.apiKeysSecret" -}}
{{- .Values.dialog.apiKeysSecret | default (printf "%s-api-keys" (include "parley.fullname" .)) -}}
{{- end -}}
{{- define "parley.redisSecret" -}}
{{- .Values.redis.passwordSecret | default (printf "%s-redis" (include "parley.fullname" .)) -}}
{{- end -}}
{{- define "parley.bundledRedis" -}}
{{- if and .Values.redis.enabled (eq .Values.dialog.sessionStore.type "redis") (not .Values.dialog.sessionStore.redisUrl) -}}true{{- end -}}
{{- end -}}
{{- define "parley.hasApiKeys" -}}
{{- if or .Values.dialog.apiKeysSecret .Values.dialog.generateApiKey -}}true{{- end -}}
{{- end -}}

{{/* A generated secret value, kept across upgrades (lookup finds the live Secret; offline
     rendering gets a fresh one). (dict "root" $ "name" secretName "key" key "length" n) */}}
{{- define "parley.keptRandom" -}}
{{- $old := lookup "v1" "Secret" .root.Release.Namespace .name -}}
{{- if and $old $old.data (hasKey $old.data .key) -}}
{{- index $old.data .key | b64dec -}}
{{- else -}}
{{- randAlphaNum (int .length) -}}
{{- end -}}
{{- end -}}

{{/* dns:// target of a service's headless Service (clients re-resolve it). */}}
{{- define "parley.target" -}}
{{- $svc := index .root.Values.services .name -}}
dns://{{ include "parley.fullname" .root }}-{{ .name }}-zmq.{{ .root.Release.Namespace }}.svc.cluster.local:{{ $svc.zmqPort }}
{{- end -}}

{{/* The bundled Redis's URL refers to $(REDIS_PASSWORD), which the pod gets from the Secret. */}}
{{- define "parley.redisUrl" -}}
{{- if .Values.dialog.sessionStore.redisUrl -}}{{ .Values.dialog.sessionStore.redisUrl }}{{- else -}}redis://:$(REDIS_PASSWORD)@{{ include "parley.fullname" . }}-redis:6379{{- end -}}
{{- end -}}

{{/* ConfigMap key of a bot file path (keys may not hold '/'): hotel/kb/faq.md -> hotel__kb__faq.md */}}
{{- define "parley.botKey" -}}
{{- . | replace "/" "__" -}}
{{- end -}}
