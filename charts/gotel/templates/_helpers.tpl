{{- define "gotel.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gotel.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}
{{- end -}}

{{- define "gotel.labels" -}}
app.kubernetes.io/name: {{ include "gotel.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "gotel.selector" -}}
app.kubernetes.io/name: {{ include "gotel.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gotel.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "gotel.fullname" .) .Values.serviceAccount.name }}{{- else -}}{{ required "serviceAccount.name: with serviceAccount.create=false, name the ServiceAccount to use" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{- define "gotel.image" -}}
{{- if .Values.image.digest -}}{{ printf "%s@%s" .Values.image.repository .Values.image.digest }}{{- else -}}{{ printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}{{- end -}}
{{- end -}}

{{/* Who gets the operator's rights: its ServiceAccount and rbac.extraSubjects (a peer's identity). */}}
{{- define "gotel.subjects" -}}
- kind: ServiceAccount
  name: {{ include "gotel.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- with .Values.rbac.extraSubjects }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "gotel.peerSecretName" -}}
{{- printf "%s-peer-%s" (include "gotel.fullname" .root) .peer.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The operator's rights in each namespace it watches (rbac.yaml: a ClusterRole or a Role per namespace). */}}
{{- define "gotel.watchRules" -}}
- apiGroups: [gotel.io]
  resources: [reservations]
  verbs: [get, list, watch]
- apiGroups: [gotel.io]
  resources: [reservations/status]
  verbs: [get, update, patch]
- apiGroups: [batch]
  resources: [cronjobs, jobs]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- if .Values.rbac.reservationSecrets }}
# The Secrets Reservations name: receivers' urlSecretRef / routingKeySecretRef, spec.tokenSecretRef.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
{{- end }}
{{- end -}}
