{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "lifecycle-manager.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name of the release's objects: the release name when it already contains the chart name. */}}
{{- define "lifecycle-manager.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "lifecycle-manager.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lifecycle-manager.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "lifecycle-manager.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "lifecycle-manager.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: lifecycle-manager
{{- with .Values.additionalLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* A metadata `annotations:` block (indented for metadata) of .Values.additionalAnnotations and the object's own; nothing when both are empty. */}}
{{- define "lifecycle-manager.annotations" -}}
{{- $all := merge (deepCopy (default (dict) .own)) (deepCopy (default (dict) .root.Values.additionalAnnotations)) -}}
{{- with $all }}
  annotations:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end -}}

{{/* PromQL matchers of this release's series: prometheusRule.selector, or its namespace and its Deployment's pods. */}}
{{- define "lifecycle-manager.seriesSelector" -}}
{{- if .Values.prometheusRule.selector -}}
{{- .Values.prometheusRule.selector -}}
{{- else -}}
{{- printf "namespace=%q,pod=~%q" .Release.Namespace (printf "%s-[a-z0-9]+-[a-z0-9]+" (include "lifecycle-manager.fullname" .)) -}}
{{- end -}}
{{- end -}}

{{/* The affinity of the pods: .Values.affinity, with the podAntiAffinity option merged in. */}}
{{- define "lifecycle-manager.affinity" -}}
{{- $affinity := deepCopy (default (dict) .Values.affinity) -}}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "lifecycle-manager.selectorLabels" . | fromYaml)) -}}
{{- if eq .Values.podAntiAffinity "required" -}}
{{- $_ := set $affinity "podAntiAffinity" (dict "requiredDuringSchedulingIgnoredDuringExecution" (list $term)) -}}
{{- else if eq .Values.podAntiAffinity "preferred" -}}
{{- $_ := set $affinity "podAntiAffinity" (dict "preferredDuringSchedulingIgnoredDuringExecution" (list (dict "weight" 100 "podAffinityTerm" $term))) -}}
{{- end -}}
{{- with $affinity }}
{{- toYaml . }}
{{- end }}
{{- end -}}

{{- define "lifecycle-manager.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "lifecycle-manager.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "lifecycle-manager.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The port of flags.metrics-address ("[host]:port"), 8080 when the flag is left out. */}}
{{- define "lifecycle-manager.metricsPort" -}}
{{- $address := index .Values.flags "metrics-address" | default ":8080" | toString -}}
{{- $port := regexFind "[0-9]+$" $address -}}
{{- required (printf "flags.metrics-address must end in a port, got %q" $address) $port -}}
{{- end -}}

{{/* One flag value as the CLI takes it: lists joined with commas, whole numbers without an exponent. */}}
{{- define "lifecycle-manager.flagValue" -}}
{{- if kindIs "slice" . -}}
{{- join "," . -}}
{{- else if and (kindIs "float64" .) (eq . (float64 (int64 .))) -}}
{{- int64 . -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}

{{/* `--name=value` for every entry of .Values.flags that is neither null nor "", in name order. */}}
{{- define "lifecycle-manager.args" -}}
{{- range $name, $value := .Values.flags }}
{{- if not (or (kindIs "invalid" $value) (and (kindIs "string" $value) (eq $value ""))) }}
- {{ printf "--%s=%s" $name (include "lifecycle-manager.flagValue" $value) | quote }}
{{- end }}
{{- end }}
{{- with .Values.webhook }}
{{- if .urlSecret.name }}
{{- if or (index $.Values.flags "webhook-url") (index $.Values.flags "webhook-url-file") }}
{{- fail "webhook.urlSecret sets --webhook-url-file: leave flags.webhook-url and flags.webhook-url-file empty" }}
{{- end }}
- {{ printf "--webhook-url-file=/etc/lifecycle-manager/webhook/url/%s" .urlSecret.key | quote }}
{{- end }}
{{- if .headersSecret.name }}
{{- if index $.Values.flags "webhook-headers-file" }}
{{- fail "webhook.headersSecret sets --webhook-headers-file: leave flags.webhook-headers-file empty" }}
{{- end }}
- {{ printf "--webhook-headers-file=/etc/lifecycle-manager/webhook/headers/%s" .headersSecret.key | quote }}
{{- end }}
{{- if .template }}
{{- if index $.Values.flags "webhook-template" }}
{{- fail "webhook.template sets --webhook-template: leave flags.webhook-template empty" }}
{{- end }}
- "--webhook-template=/etc/lifecycle-manager/webhook/template/body.liquid"
{{- end }}
{{- end }}
{{- range .Values.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}
