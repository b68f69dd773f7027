-- What the hand-written upgrade step of commit 1d5146f (rules.tables.upgrade_alerts, run by create_all)
-- did to a before-rank-b1ba015 database on postgresql, as captured from that code; frozen.

LOCK TABLE alerts IN SHARE ROW EXCLUSIVE MODE;

ALTER TABLE alerts ADD COLUMN severity_rank INTEGER GENERATED ALWAYS AS (CASE severity WHEN 'critical' THEN 0 WHEN 'major' THEN 1 WHEN 'minor' THEN 2 WHEN 'warning' THEN 3 WHEN 'info' THEN 4 ELSE 5 END) STORED;

CREATE INDEX IF NOT EXISTS ix_alerts_state_started ON alerts (state, started_at, id);

CREATE INDEX IF NOT EXISTS ix_alerts_state_updated ON alerts (state, updated_at, id);

CREATE INDEX IF NOT EXISTS ix_alerts_building_started ON alerts (building, started_at, id);

CREATE INDEX IF NOT EXISTS ix_alerts_device_started ON alerts (device, started_at, id);

CREATE INDEX IF NOT EXISTS ix_alerts_place_started ON alerts (building, kind, device, started_at, id);

CREATE INDEX IF NOT EXISTS ix_alerts_severity_rank ON alerts (severity_rank, id);

DROP INDEX IF EXISTS ix_alerts_device;
