{{/* A small dashboard for when the chart has no files/grafana-dashboard.json. */}}
{{- define "gotel.defaultDashboard" -}}
{
  "title": "GoTel",
  "uid": "gotel",
  "schemaVersion": 39,
  "time": { "from": "now-6h", "to": "now" },
  "templating": { "list": [ { "name": "datasource", "type": "datasource", "query": "prometheus" } ] },
  "panels": [
    { "type": "timeseries", "title": "Reservations by state", "gridPos": { "x": 0, "y": 0, "w": 12, "h": 8 },
      "datasource": { "uid": "${datasource}" },
      "targets": [ { "expr": "max by (state) (gotel_reservations)", "legendFormat": "{{ "{{" }}state{{ "}}" }}" } ] },
    { "type": "timeseries", "title": "Check-ins per second", "gridPos": { "x": 12, "y": 0, "w": 12, "h": 8 },
      "datasource": { "uid": "${datasource}" },
      "targets": [ { "expr": "sum by (signal) (rate(gotel_checkins_total[5m]))", "legendFormat": "{{ "{{" }}signal{{ "}}" }}" } ] },
    { "type": "timeseries", "title": "Alert deliveries", "gridPos": { "x": 0, "y": 8, "w": 12, "h": 8 },
      "datasource": { "uid": "${datasource}" },
      "targets": [ { "expr": "sum by (receiver, result) (rate(gotel_alerts_total[5m]))", "legendFormat": "{{ "{{" }}receiver{{ "}}" }} {{ "{{" }}result{{ "}}" }}" } ] },
    { "type": "stat", "title": "Leader", "gridPos": { "x": 12, "y": 8, "w": 12, "h": 8 },
      "datasource": { "uid": "${datasource}" },
      "targets": [ { "expr": "sum(gotel_leader)" } ] }
  ]
}
{{- end -}}
