{{/* Labels of every object: those of the kustomize base plus Helm's own. */}}
{{- define "csops.labels" -}}
app.kubernetes.io/name: csops
app.kubernetes.io/part-of: csops
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The pods of csops sync. */}}
{{- define "csops.selector" -}}
app.kubernetes.io/name: csops
app.kubernetes.io/component: sync
{{- end -}}
