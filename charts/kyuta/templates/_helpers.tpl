{{- define "kyuta.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kyuta.operatorName" -}}
{{- printf "%s-operator" (include "kyuta.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kyuta.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kyuta.operatorName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kyuta.selectorLabels" -}}
app.kubernetes.io/name: kyuta-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kyuta.labels" -}}
{{ include "kyuta.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
