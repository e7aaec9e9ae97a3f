{{/* Names and labels shared by every object of the chart. */}}

{{- define "geofn.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "geofn.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "geofn.labels" -}}
{{ include "geofn.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The CloudNativePG Cluster's name; its Services and Secret derive from it. */}}
{{- define "geofn.cnpgCluster" -}}
{{- printf "%s-db" (include "geofn.fullname" .) | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{/* Where the database is, as the host's environment, for the chosen mode. */}}
{{- define "geofn.databaseEnv" -}}
{{- $db := .Values.database -}}
{{- if eq $db.mode "bundled" }}
- name: DB_HOST
  value: {{ $db.host | quote }}
- name: DB_PORT
  value: {{ $db.port | quote }}
- name: DB_NAME
  value: {{ $db.name | quote }}
- name: DB_USER
  value: {{ $db.user | quote }}
- name: DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $db.passwordSecret.name }}
      key: {{ $db.passwordSecret.key }}
{{- with $db.readHost }}
- name: DB_READ_HOST
  value: {{ . | quote }}
{{- end }}
{{- else if eq $db.mode "cloudnativepg" }}
{{- $cluster := include "geofn.cnpgCluster" . }}
- name: DB_HOST
  value: {{ printf "%s-rw" $cluster | quote }}
- name: DB_READ_HOST
  value: {{ printf "%s-ro" $cluster | quote }}
- name: DB_PORT
  value: "5432"
- name: DB_NAME
  value: {{ $db.cloudnativepg.database | quote }}
- name: DB_USER
  valueFrom:
    secretKeyRef:
      name: {{ printf "%s-app" $cluster }}
      key: username
- name: DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ printf "%s-app" $cluster }}
      key: password
{{- else if eq $db.mode "external" }}
{{- if not $db.external.urlSecret.name }}
{{- fail "database.mode=external needs database.external.urlSecret.name" }}
{{- end }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $db.external.urlSecret.name }}
      key: {{ $db.external.urlSecret.key }}
{{- with $db.external.readUrlSecret }}
{{- if .name }}
- name: DATABASE_READ_URL
  valueFrom:
    secretKeyRef:
      name: {{ .name }}
      key: {{ .key }}
{{- end }}
{{- end }}
{{- else }}
{{- fail (printf "database.mode must be bundled, cloudnativepg or external, not %q" $db.mode) }}
{{- end }}
- name: DB_SSLMODE
  value: {{ $db.sslmode | quote }}
- name: GEOFN_READ_MAX_LAG_MS
  value: {{ $db.readMaxLagMs | quote }}
{{- end -}}
