{{/* Names, labels and the small pieces every object shares. */}}

{{- define "exos.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "exos.fullname" -}}
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

{{/* <fullname>-<component>, e.g. exos-query-api. Arguments: dict root, name. */}}
{{- define "exos.componentName" -}}
{{- printf "%s-%s" (include "exos.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "exos.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Arguments: dict root, name (the component). */}}
{{- define "exos.selectorLabels" -}}
app.kubernetes.io/name: {{ include "exos.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "exos.labels" -}}
helm.sh/chart: {{ include "exos.chart" .root }}
{{ include "exos.selectorLabels" . }}
app.kubernetes.io/part-of: exos
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{- define "exos.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "exos.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "exos.image" -}}
{{- $image := .Values.image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The Secret a secretEnv entry reads: the existing one named, the one the chart
     generates (<release>-<key>), or "" (the variable is not set). Arguments: dict root, ref. */}}
{{- define "exos.secretName" -}}
{{- if .ref.existingSecret -}}
{{- .ref.existingSecret -}}
{{- else if .ref.generate -}}
{{- printf "%s-%s" (include "exos.fullname" .root) .ref.key -}}
{{- end -}}
{{- end -}}

{{/* `EXOS_*` variables read from Secrets for one consumer (a service name or
     `migrate`). Arguments: dict root, name. */}}
{{- define "exos.secretEnv" -}}
{{- $name := .name -}}
{{- $root := .root -}}
{{- range $var, $ref := .root.Values.secretEnv }}
{{- $secret := include "exos.secretName" (dict "root" $root "ref" $ref) }}
{{- if and $secret (has $name $ref.services) }}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $ref.key }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Settings as a ConfigMap's data: strings, empty ones left out (= the service's
     default). Argument: the map. */}}
{{- define "exos.configData" -}}
{{- range $key, $value := . }}
{{- if ne (toString $value) "" }}
{{ $key }}: {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The same settings as container env entries (the migration job runs before the
     ConfigMaps exist). Argument: the map. */}}
{{- define "exos.configEnv" -}}
{{- range $key, $value := . }}
{{- if ne (toString $value) "" }}
- name: {{ $key }}
  value: {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Changes of a service's settings or secret references roll its pods. */}}
{{- define "exos.configChecksum" -}}
{{- $refs := dict -}}
{{- range $var, $ref := .root.Values.secretEnv -}}
{{- $secret := include "exos.secretName" (dict "root" $.root "ref" $ref) -}}
{{- if and $secret (has $.name $ref.services) -}}
{{- $_ := set $refs $var (printf "%s/%s" $secret $ref.key) -}}
{{- end -}}
{{- end -}}
{{- list .root.Values.config .svc.config $refs | toJson | sha256sum -}}
{{- end -}}

{{/* The most replicas a setting of this service may ask for. */}}
{{- define "exos.maxReplicas" -}}
{{- $svc := .svc -}}
{{- if and $svc.keda $svc.keda.enabled -}}
{{- $svc.keda.maxReplicas -}}
{{- else if $svc.autoscaling.enabled -}}
{{- $svc.autoscaling.maxReplicas -}}
{{- else -}}
{{- $svc.replicas -}}
{{- end -}}
{{- end -}}

{{/* Deployment, or StatefulSet where a replica needs a name that outlives restarts.
     Argument: the service's values. */}}
{{- define "exos.workload" -}}
{{- default "Deployment" .workload -}}
{{- end -}}
