{{/* Names, labels and the pod parts every QuantFlow service shares. */}}

{{- define "quantflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "quantflow.fullname" -}}
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

{{/* The ports each service listens on: the code's defaults (services/common/settings.py). */}}
{{- define "quantflow.ports" -}}
ingest: {grpc: 7102, metrics: 9102}
storage: {grpc: 7101, metrics: 9101}
backtest: {grpc: 7104, metrics: 9104}
alerts: {grpc: 7105, metrics: 9105}
graph: {grpc: 7103, metrics: 8000, http: 8000}
{{- end -}}

{{- define "quantflow.port" -}}
{{- $ports := include "quantflow.ports" . | fromYaml -}}
{{- index (index $ports .component) .kind -}}
{{- end -}}

{{- define "quantflow.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "quantflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: quantflow
{{- end -}}

{{/* Labels of one component: call with (dict "root" $ "component" "storage"). */}}
{{- define "quantflow.componentLabels" -}}
{{ include "quantflow.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "quantflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "quantflow.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "quantflow.componentName" -}}
{{- printf "%s-%s" (include "quantflow.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "quantflow.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Secret whose keys are QUANTFLOW_* variables, mounted as files. */}}
{{- define "quantflow.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else if .Values.postgresql.enabled -}}
{{- printf "%s-secrets" (include "quantflow.fullname" .) -}}
{{- else -}}
{{- fail "secrets.existingSecret: name a Secret holding QUANTFLOW_DATABASE_URL and QUANTFLOW_SERVICE_TOKEN (or set postgresql.enabled=true for a trial database)" -}}
{{- end -}}
{{- end -}}

{{- define "quantflow.secretsDir" -}}/var/run/secrets/quantflow{{- end -}}

{{/*
The keys of that Secret each service reads, as files in its QUANTFLOW_SECRETS_DIR: a required
key missing from the Secret keeps the pod from starting (the kubelet refuses the volume);
optional ones are projected when present. Every service checks and sends the service token.
*/}}
{{- define "quantflow.secretKeys" -}}
ingest: {required: [QUANTFLOW_SERVICE_TOKEN], optional: []}
storage: {required: [QUANTFLOW_DATABASE_URL, QUANTFLOW_SERVICE_TOKEN], optional: []}
backtest: {required: [QUANTFLOW_DATABASE_URL, QUANTFLOW_SERVICE_TOKEN], optional: []}
alerts: {required: [QUANTFLOW_DATABASE_URL, QUANTFLOW_SERVICE_TOKEN], optional: [QUANTFLOW_SMTP_USERNAME, QUANTFLOW_SMTP_PASSWORD]}
graph: {required: [QUANTFLOW_DATABASE_URL, QUANTFLOW_SERVICE_TOKEN], optional: []}
{{- end -}}

{{/* The Secret of the graph's JWT signing keys (<kid>.pem, Ed25519 PKCS#8). */}}
{{- define "quantflow.keysSecretName" -}}
{{- if .Values.auth.keys.existingSecret -}}
{{- .Values.auth.keys.existingSecret -}}
{{- else if .Values.postgresql.enabled -}}
{{- printf "%s-jwt-keys" (include "quantflow.fullname" .) -}}
{{- else -}}
{{- fail "auth.keys.existingSecret: name a Secret holding the graph's Ed25519 signing key as <kid>.pem, made with `openssl genpkey -algorithm ed25519 -out KID.pem` and `kubectl create secret generic quantflow-jwt-keys --from-file=KID.pem` (README \"Deploy on Kubernetes\"; or set postgresql.enabled=true for a trial)" -}}
{{- end -}}
{{- end -}}

{{- define "quantflow.keysDir" -}}/var/run/secrets/quantflow-jwt-keys{{- end -}}

{{/* The restricted Pod Security profile. */}}
{{- define "quantflow.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "quantflow.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
The pod template of a QuantFlow service: (dict "root" $ "component" NAME "values" VALUES
"extraEnv" LIST). gRPC health (grpc.health.v1) probes on the service's gRPC port, HTTP
/healthz for the graph.
*/}}
{{- define "quantflow.podTemplate" -}}
{{- $root := .root -}}
{{- $component := .component -}}
{{- $values := .values -}}
{{- $grpc := include "quantflow.port" (dict "component" $component "kind" "grpc") | int -}}
{{- $metrics := include "quantflow.port" (dict "component" $component "kind" "metrics") | int -}}
metadata:
  labels:
    {{- include "quantflow.componentLabels" (dict "root" $root "component" $component) | nindent 4 }}
  annotations:
    checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
    {{- with $values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: {{ $values.terminationGracePeriodSeconds }}
  securityContext:
    {{- include "quantflow.podSecurityContext" $root | nindent 4 }}
  containers:
    - name: {{ $component }}
      image: {{ include "quantflow.image" $root | quote }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args: [{{ $component | quote }}]
      envFrom:
        - configMapRef:
            name: {{ include "quantflow.fullname" $root }}-config
      env:
        {{- with .extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        - name: QUANTFLOW_SECRETS_DIR
          value: {{ include "quantflow.secretsDir" $root | quote }}
        {{- if eq $component "graph" }}
        - name: QUANTFLOW_AUTH_KEYS_DIR
          value: {{ include "quantflow.keysDir" $root | quote }}
        {{- end }}
      ports:
        - name: grpc
          containerPort: {{ $grpc }}
          protocol: TCP
        {{- if eq $component "graph" }}
        - name: http
          containerPort: {{ $metrics }}
          protocol: TCP
        {{- else }}
        - name: metrics
          containerPort: {{ $metrics }}
          protocol: TCP
        {{- end }}
      {{- if eq $component "graph" }}
      startupProbe:
        httpGet: {path: /healthz, port: http}
        periodSeconds: 2
        failureThreshold: 60
      readinessProbe:
        httpGet: {path: /healthz, port: http}
        periodSeconds: 5
        failureThreshold: 2
      livenessProbe:
        grpc: {port: {{ $grpc }}}
        periodSeconds: 10
        failureThreshold: 3
      {{- else }}
      # Ingest and storage start serving gRPC after resuming their series: allow 5 minutes.
      startupProbe:
        grpc: {port: {{ $grpc }}}
        periodSeconds: 5
        failureThreshold: 60
      readinessProbe:
        grpc: {port: {{ $grpc }}}
        periodSeconds: 5
        failureThreshold: 2
      livenessProbe:
        grpc: {port: {{ $grpc }}}
        periodSeconds: 10
        failureThreshold: 3
      {{- end }}
      resources:
        {{- toYaml $values.resources | nindent 8 }}
      securityContext:
        {{- include "quantflow.containerSecurityContext" $root | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        - name: secrets
          mountPath: {{ include "quantflow.secretsDir" $root }}
          readOnly: true
        {{- if eq $component "graph" }}
        - name: jwt-keys
          mountPath: {{ include "quantflow.keysDir" $root }}
          readOnly: true
        {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: 256Mi
    # Only the keys of the Secret this service reads (quantflow.secretKeys).
    {{- $keys := index (include "quantflow.secretKeys" $root | fromYaml) $component }}
    - name: secrets
      projected:
        defaultMode: 0440
        sources:
          - secret:
              name: {{ include "quantflow.secretName" $root }}
              items:
                {{- range $key := $keys.required }}
                - {key: {{ $key }}, path: {{ $key }}}
                {{- end }}
          {{- with $keys.optional }}
          - secret:
              name: {{ include "quantflow.secretName" $root }}
              optional: true
              items:
                {{- range $key := . }}
                - {key: {{ $key }}, path: {{ $key }}}
                {{- end }}
          {{- end }}
    {{- if eq $component "graph" }}
    # Every graph replica signs and verifies with the same keys: the newest <kid>.pem signs.
    - name: jwt-keys
      secret:
        secretName: {{ include "quantflow.keysSecretName" $root }}
        defaultMode: 0440
    {{- end }}
  {{- with $values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
