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

{{- define "parley.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* dns:// target of a service's headless Service (clients re-resolve it). */}}
{{- define "parley.target" -}}
{{- $svc := index .root.Values.services .name -}}
dns://{{ include "parley.fullname" .root }}-{{ .name }}-zmq.{{ .root.Release.Namespace }}.svc.cluster.local:{{ $svc.zmqPort }}
{{- end -}}

{{- define "parley.redisUrl" -}}
{{- if .Values.dialog.sessionStore.redisUrl -}}{{ .Values.dialog.sessionStore.redisUrl }}{{- else -}}redis://{{ include "parley.fullname" . }}-redis:6379{{- end -}}
{{- end -}}
