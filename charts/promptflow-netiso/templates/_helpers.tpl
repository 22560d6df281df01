{{/* Object names: <release>-promptflow-netiso, or the release name when it already says promptflow-netiso. */}}
{{- define "promptflow-netiso.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* app.kubernetes.io/name is always the chart name: the ServiceMonitor's jobLabel turns it into job="promptflow-netiso". */}}
{{- define "promptflow-netiso.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: promptflow-netiso
{{- end -}}

{{- define "promptflow-netiso.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "promptflow-netiso.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "promptflow-netiso.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "promptflow-netiso.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
RBAC rules, written once for both watch modes (the same rules as deploy/base/clusterrole.yaml; a test compares them).
objectRules: namespaced resources the operator reads and writes (ClusterRole, or a Role per watched namespace).
*/}}
{{- define "promptflow-netiso.objectRules" -}}
# The three kinds: watch them, write finalizers and kopf's bookkeeping (status.kopf).
- apiGroups: [netiso.promptflow.dev]
  resources: [promptflowworkspaces, outboundrules, privateendpointapprovals]
  verbs: [get, list, watch, patch, update]
- apiGroups: [netiso.promptflow.dev]
  resources: [promptflowworkspaces/status, outboundrules/status, privateendpointapprovals/status]
  verbs: [get, patch, update]
# delete only: a `<workspace>-auto` PrivateEndpointApproval left by an older version (the operator creates none).
- apiGroups: [netiso.promptflow.dev]
  resources: [privateendpointapprovals]
  verbs: [delete]
# Grants (docs/tenancy.md): read only; cluster admins write them.
- apiGroups: [netiso.promptflow.dev]
  resources: [azurescopegrants]
  verbs: [get, list, watch]
{{- with .Values.tenancy.identityServiceAccountNames }}
# A namespace's own Azure identity: tokens for these ServiceAccount names only (the ones grants may name).
- apiGroups: [""]
  resources: [serviceaccounts/token]
  verbs: [create]
  resourceNames: {{ toJson . }}
{{- end }}
# What happened, on the object itself (`kubectl describe`).
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
# Leader election among replicas (kopf peering): create the peering object if missing, renew our record in it.
- apiGroups: [kopf.dev]
  resources: [clusterkopfpeerings, kopfpeerings]
  verbs: [get, list, watch, patch, create]
{{- end -}}

{{/* scanRules: cluster-scoped, read-only; kopf resolves its resources from CRDs and scans namespaces. */}}
{{- define "promptflow-netiso.scanRules" -}}
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list, watch]
{{- end -}}

{{/* Fail early, with the value's name, on settings the operator would reject at start-up. */}}
{{- define "promptflow-netiso.validate" -}}
{{- if and (not .Values.watch.allNamespaces) (empty .Values.watch.namespaces) -}}
{{- fail "watch.namespaces must list at least one namespace when watch.allNamespaces is false" -}}
{{- end -}}
{{- if and (eq .Values.azure.cloud "Custom") (or (empty .Values.azure.armEndpoint) (empty .Values.azure.authorityHost)) -}}
{{- fail "azure.cloud=Custom needs azure.armEndpoint and azure.authorityHost" -}}
{{- end -}}
{{- if and .Values.azure.workloadIdentity.enabled (empty .Values.azure.workloadIdentity.clientId) (not (hasKey .Values.serviceAccount.annotations "azure.workload.identity/client-id")) -}}
{{- fail "azure.workloadIdentity.clientId is required: the client ID of the Azure managed identity (or app registration) with a federated credential for this ServiceAccount" -}}
{{- end -}}
{{- end -}}

{{/* A file from the repository's deploy/monitoring (symlinked as files/monitoring), parsed; fails if it is missing. */}}
{{- define "promptflow-netiso.monitoringFile" -}}
{{- $text := .root.Files.Get (printf "files/monitoring/%s" .file) -}}
{{- if not $text -}}
{{- fail (printf "files/monitoring/%s is missing from the chart: it is a symlink to deploy/monitoring/%s (package the chart with `helm package`, which copies it)" .file .file) -}}
{{- end -}}
{{- $text -}}
{{- end -}}

{{/* A file from the repository's deploy/admission (symlinked as files/admission), parsed; fails if it is missing. */}}
{{- define "promptflow-netiso.admissionFile" -}}
{{- $text := .root.Files.Get (printf "files/admission/%s" .file) -}}
{{- if not $text -}}
{{- fail (printf "files/admission/%s is missing from the chart: it is a symlink to deploy/admission/%s (package the chart with `helm package`, which copies it)" .file .file) -}}
{{- end -}}
{{- $text -}}
{{- end -}}
