{{/* The objects of one service. Every template takes dict root, name, svc and is
     rendered once per enabled entry of .Values.services (services.yaml). */}}

{{- define "exos.configmap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "exos.componentName" . }}
  labels:
    {{- include "exos.labels" . | nindent 4 }}
{{- $data := include "exos.configData" (default (dict) .svc.config) }}
{{- if $data }}
data:
  {{- $data | indent 2 }}
{{- else }}
data: {}
{{- end }}
{{- end -}}

{{- define "exos.deployment" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $svc := .svc -}}
{{- $values := $root.Values -}}
{{- $portVar := printf "EXOS_%s_PORT" ($name | upper | replace "-" "_") -}}
{{- $kedaOn := and $svc.keda $svc.keda.enabled -}}
{{- $workload := include "exos.workload" $svc -}}
apiVersion: apps/v1
kind: {{ $workload }}
metadata:
  name: {{ include "exos.componentName" . }}
  labels:
    {{- include "exos.labels" . | nindent 4 }}
spec:
  {{- if not (or $svc.autoscaling.enabled $kedaOn) }}
  replicas: {{ $svc.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "exos.selectorLabels" . | nindent 6 }}
  {{- if eq $workload "StatefulSet" }}
  # Stable pod names (<release>-<service>-0, -1, ...) across restarts: enrich names its
  # Kafka transactional id after the pod (EXOS_INSTANCE_ID), so a restarted replica
  # fences the transactions of the one it replaces. No volumes: the state is in Kafka.
  serviceName: {{ include "exos.componentName" . }}
  podManagementPolicy: Parallel
  updateStrategy:
    type: RollingUpdate
  {{- else }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  {{- end }}
  template:
    metadata:
      labels:
        {{- include "exos.selectorLabels" . | nindent 8 }}
        app.kubernetes.io/part-of: exos
        {{- if $values.serviceAccount.workloadIdentity.enabled }}
        azure.workload.identity/use: "true"
        {{- end }}
        {{- with merge (dict) (default (dict) $svc.podLabels) $values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include "exos.configChecksum" . }}
        {{- if $values.metrics.podAnnotations }}
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ $svc.port | quote }}
        prometheus.io/path: /metrics
        {{- end }}
        {{- with merge (dict) (default (dict) $svc.podAnnotations) $values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "exos.serviceAccountName" $root }}
      automountServiceAccountToken: {{ $values.serviceAccount.automountToken }}
      {{- with $values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $values.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: {{ $svc.terminationGracePeriodSeconds }}
      containers:
        - name: {{ $name }}
          image: {{ include "exos.image" $root }}
          imagePullPolicy: {{ $values.image.pullPolicy }}
          args: ["serve", {{ $name | quote }}]
          ports:
            - name: http
              containerPort: {{ $svc.port }}
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ include "exos.fullname" $root }}-config
            - configMapRef:
                name: {{ include "exos.componentName" . }}
          env:
            - name: EXOS_HTTP_HOST
              value: "0.0.0.0"
            - name: {{ $portVar }}
              value: {{ $svc.port | quote }}
            # The pod name: stable per replica for its lifetime (names enrich's Kafka
            # transactional id).
            - name: EXOS_INSTANCE_ID
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: EXOS_CACHE_DIR
              value: /tmp/exos-cache
            {{- range $var, $target := $svc.upstreams }}
            {{- $upstream := index $values.services $target }}
            - name: {{ $var }}
              value: {{ printf "http://%s:%v" (include "exos.componentName" (dict "root" $root "name" $target)) $upstream.port | quote }}
            {{- end }}
            {{- include "exos.secretEnv" (dict "root" $root "name" $name) | indent 12 }}
            {{- with $svc.env }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          startupProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 5
            failureThreshold: 60
          livenessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            httpGet: {path: /readyz, port: http}
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 3
          resources:
            {{- toYaml $svc.resources | nindent 12 }}
          securityContext:
            {{- toYaml $values.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- with $svc.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $values.tmpVolume.sizeLimit }}
        {{- with $svc.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with (default $values.nodeSelector $svc.nodeSelector) }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with (default $values.tolerations $svc.tolerations) }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with (default $values.affinity $svc.affinity) }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if $values.topologySpread.enabled }}
      topologySpreadConstraints:
        {{- range $key := list "kubernetes.io/hostname" "topology.kubernetes.io/zone" }}
        - maxSkew: {{ $values.topologySpread.maxSkew }}
          topologyKey: {{ $key }}
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "exos.selectorLabels" $ | nindent 14 }}
        {{- end }}
      {{- end }}
{{- end -}}

{{- define "exos.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "exos.componentName" . }}
  labels:
    {{- include "exos.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "exos.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .svc.port }}
      targetPort: http
      protocol: TCP
{{- end -}}

{{- define "exos.hpa" -}}
{{- $svc := .svc -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "exos.componentName" . }}
  labels:
    {{- include "exos.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: {{ include "exos.workload" $svc }}
    name: {{ include "exos.componentName" . }}
  minReplicas: {{ $svc.autoscaling.minReplicas }}
  maxReplicas: {{ $svc.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $svc.autoscaling.targetCPUUtilizationPercentage }}
  behavior:
    # Scaling a consumer group rebalances it: scale down slowly.
    scaleDown:
      stabilizationWindowSeconds: 300
      policies:
        - type: Pods
          value: 1
          periodSeconds: 120
{{- end -}}

{{- define "exos.scaledobject" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
{{- $groupVar := printf "EXOS_%s_GROUP" (.name | upper | replace "-" "_") -}}
{{- $group := index (default (dict) $svc.config) $groupVar -}}
{{- if not $group -}}
{{- fail (printf "services.%s.keda: the consumer group %s must be set in services.%s.config" .name $groupVar .name) -}}
{{- end -}}
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ include "exos.componentName" . }}
  labels:
    {{- include "exos.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: {{ include "exos.workload" $svc }}
    name: {{ include "exos.componentName" . }}
  minReplicaCount: {{ $svc.keda.minReplicas }}
  maxReplicaCount: {{ $svc.keda.maxReplicas }}
  pollingInterval: {{ $svc.keda.pollingInterval }}
  cooldownPeriod: {{ $svc.keda.cooldownPeriod }}
  triggers:
    # Lag summed over the partitions of every topic the group reads.
    - type: kafka
      metadata:
        bootstrapServers: {{ $root.Values.config.EXOS_KAFKA_BOOTSTRAP | quote }}
        consumerGroup: {{ $group | quote }}
        lagThreshold: {{ $svc.keda.lagThreshold | quote }}
        offsetResetPolicy: earliest
        allowIdleConsumers: "false"
      {{- with $svc.keda.authenticationRef }}
      authenticationRef:
        name: {{ . }}
      {{- end }}
{{- end -}}

{{- define "exos.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "exos.componentName" . }}
  labels:
    {{- include "exos.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .svc.pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "exos.selectorLabels" . | nindent 6 }}
{{- end -}}

{{- define "exos.ingress" -}}
{{- $ctx := . -}}
{{- $ingress := .svc.ingress -}}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ include "exos.componentName" . }}
  labels:
    {{- include "exos.labels" . | nindent 4 }}
  {{- with $ingress.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- with $ingress.className }}
  ingressClassName: {{ . }}
  {{- end }}
  {{- with $ingress.tls }}
  tls:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  rules:
    {{- range $ingress.hosts }}
    - host: {{ .host | quote }}
      http:
        paths:
          {{- range .paths }}
          - path: {{ .path }}
            pathType: {{ .pathType }}
            backend:
              service:
                name: {{ include "exos.componentName" $ctx }}
                port:
                  name: http
          {{- end }}
    {{- end }}
{{- end -}}

{{- define "exos.networkpolicy" -}}
{{- $root := .root -}}
{{- $clients := default (list) .svc.clients -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "exos.componentName" . }}
  labels:
    {{- include "exos.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "exos.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress]
  ingress:
    {{- if has "*" $clients }}
    - ports:
        - {port: http, protocol: TCP}
    {{- else }}
    # Its clients, and the `helm test` pod that asks every service's /readyz.
    - from:
        {{- range (append (without $clients "ingress") "test") }}
        - podSelector:
            matchLabels:
              {{- include "exos.selectorLabels" (dict "root" $root "name" .) | nindent 14 }}
        {{- end }}
      ports:
        - {port: http, protocol: TCP}
    {{- if has "ingress" $clients }}
    # The ingress controller's pods (networkPolicy.ingressFrom).
    - from:
        {{- required "networkPolicy.ingressFrom must name the ingress controller's pods" $root.Values.networkPolicy.ingressFrom | toYaml | nindent 8 }}
      ports:
        - {port: http, protocol: TCP}
    {{- end }}
    {{- end }}
    {{- with $root.Values.networkPolicy.metricsFrom }}
    - from:
        {{- toYaml . | nindent 8 }}
      ports:
        - {port: http, protocol: TCP}
    {{- end }}
{{- end -}}
