{{- define "pasar.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pasar.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "pasar.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "pasar.secretName" -}}
{{- .Values.existingSecret | default (printf "%s-env" (include "pasar.fullname" .)) -}}
{{- end -}}

{{/* Containers read envFrom only when they start, so each pod template carries this checksum of
the rendered ConfigMap and Secret: a changed setting (PLATFORM_DOMAIN following ingress.host, a
secret) rolls the pods. An existingSecret is outside the chart: restart the pods after changing it. */}}
{{- define "pasar.settingsChecksum" -}}
{{- $config := include (print .Template.BasePath "/configmap.yaml") . -}}
{{- $secret := include (print .Template.BasePath "/secret.yaml") . -}}
{{- print $config $secret | sha256sum -}}
{{- end -}}

{{/* What every Pasar container gets: its settings, the media volume, writable scratch dirs. */}}
{{- define "pasar.envFrom" -}}
envFrom:
  - configMapRef:
      name: {{ include "pasar.fullname" . }}-env
  - secretRef:
      name: {{ include "pasar.secretName" . }}
{{- end -}}

{{- define "pasar.volumeMounts" -}}
volumeMounts:
  - name: media
    mountPath: {{ .Values.config.MEDIA_ROOT | default "/var/lib/pasar/media" }}
  - name: tmp
    mountPath: /tmp
  - name: run
    mountPath: /run/pasar
  - name: instance
    mountPath: /app/instance
{{- end -}}

{{- define "pasar.volumes" -}}
volumes:
  - name: media
{{- if .Values.media.persistence.enabled }}
    persistentVolumeClaim:
      claimName: {{ .Values.media.persistence.existingClaim | default (printf "%s-media" (include "pasar.fullname" .)) }}
{{- else }}
    emptyDir: {}
{{- end }}
  - name: tmp
    emptyDir: {}
  - name: run
    emptyDir: {}
  - name: instance
    emptyDir: {}
{{- end -}}

{{- define "pasar.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
