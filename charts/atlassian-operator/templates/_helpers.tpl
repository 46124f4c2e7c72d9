{{/* The app.kubernetes.io/name label: the chart's name unless nameOverride. */}}
{{- define "atlassian-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object names: the release name if it contains the chart's name (install it as
atlassian-operator to get manifests/'s names), else <release>-<name>; or fullnameOverride. */}}
{{- define "atlassian-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Selector labels: the base's (app.kubernetes.io/name only). Selectors are immutable, so a
Deployment installed with `kubectl apply -k manifests` can be adopted by a release. */}}
{{- define "atlassian-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "atlassian-operator.name" . }}
{{- end }}

{{/* Helm's standard labels, added to every object's and the pod's labels. */}}
{{- define "atlassian-operator.helmLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/* The labels of every templated object: the base's (name, and part-of from its
kustomization) and Helm's. */}}
{{- define "atlassian-operator.labels" -}}
{{ include "atlassian-operator.selectorLabels" . }}
app.kubernetes.io/part-of: atlassian-operator
{{ include "atlassian-operator.helmLabels" . }}
{{- end }}

{{/* true when the operator watches every namespace (watchNamespaces empty). */}}
{{- define "atlassian-operator.clusterWide" -}}
{{- if not .Values.watchNamespaces }}true{{ end }}
{{- end }}

{{/* The operator's rules: manifests/base/clusterrole.yaml (crds true, secrets false; the Secret
rule is in secret-access.yaml), and with the Secret rule but without the CRD rule
manifests/overlays/namespaced/role.yaml. Pass (dict "crds" true|false "secrets" true|false). */}}
{{- define "atlassian-operator.rules" -}}
{{- if .crds }}
# kopf: watches the CRDs to notice when a version of ours is added or removed.
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [list, watch]
{{- end }}
# kopf: the on.event handlers of both kinds are fed by a list + watch stream.
- apiGroups: [atlassian.operators.dev]
  resources: [atlassianorgs, atlassianaccounts]
  verbs: [list, watch]
# Account discovery: an observe-only AtlassianAccount for every org user that has none.
- apiGroups: [atlassian.operators.dev]
  resources: [atlassianaccounts]
  verbs: [create]
# Status of orgs and accounts (merge patch of the status subresource only: never spec).
- apiGroups: [atlassian.operators.dev]
  resources: [atlassianorgs/status, atlassianaccounts/status]
  verbs: [patch]
{{- if .secrets }}
{{ include "atlassian-operator.secretRule" . }}
{{- end }}
# Events: Suspended, Reactivated, ProtectedAccount, SuspensionBudgetExceeded, ...
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end }}

{{/* The one rule on Secrets: manifests/base/secret-access.yaml. */}}
{{- define "atlassian-operator.secretRule" -}}
# The org API key: one Secret read by name (spec.apiKeySecretRef). No list, no watch.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
# The org's call ledger (core/ledger.py): one ConfigMap per Atlassian org, named
# atlassian-calls-<digest of the orgId>, read and written (never deleted) so that calls count
# against maxPerSync and pauseAbove after the AtlassianOrg and its accounts are deleted.
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, create, patch]
{{- end }}

{{/* The namespaces whose Secrets the operator may get (cluster-wide install, not clusterWide):
secretAccess.namespaces, or the release namespace when that is empty. */}}
{{- define "atlassian-operator.secretNamespaces" -}}
{{- toJson (.Values.secretAccess.namespaces | default (list .Release.Namespace)) }}
{{- end }}

{{/* The image reference: repository@digest when image.digest is set (the tag is then ignored: the
digest alone decides what runs, and a tag beside it would only suggest otherwise), else
repository:tag (the chart's appVersion unless image.tag). */}}
{{- define "atlassian-operator.image" -}}
{{- if .Values.image.digest }}
{{- .Values.image.repository }}@{{ .Values.image.digest }}
{{- else }}
{{- .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}
{{- end }}
