"""Reports a facility manager signs: AED readiness, alert handling, parking and canteen use, data
quality. Each report is built from figures aggregated in InfluxDB (InfluxQL) and the alert store,
as a `Report` (see `model`), then rendered to HTML, PDF and CSV by the renderers."""
