-- Rows in every table, as louyu of 1d5146f wrote them (UTC times, JSON as text, booleans), loaded
-- into a snapshot schema before an upgrade. Ids are left to the database (1, 2, ... in this order),
-- so that PostgreSQL's sequences stand where the application left them. Plain SQL for both backends;
-- PostgreSQL's session time zone is set to UTC first, as SQLite times are UTC without offset.

INSERT INTO alerts (rule, severity, state, building, kind, device, summary, value, started_at,
    acknowledged_at, acknowledged_by, resolved_at, resolved_by, resolution, escalated_at,
    escalation_level, flapping, silenced, labels, updated_at) VALUES
  ('aed-cabinet-open', 'critical', 'firing', 'darong-a', 'aed', 'aed-a-1f-lobby',
   'AED cabinet opened at Tower A lobby', 'true', '2026-11-27 02:00:00.000000',
   NULL, NULL, NULL, NULL, NULL, '2026-11-27 02:02:00.000000', 1, false, false,
   '{"floor": "1F", "zone": "lobby"}', '2026-11-27 02:02:00.000000'),
  ('parking-full', 'warning', 'acknowledged', 'darong-a', 'parking_lot', 'garage',
   'Garage full', '0', '2026-11-27 02:10:00.000000',
   '2026-11-27 02:11:30.250000', 'operator-1', NULL, NULL, NULL, NULL, 0, false, false,
   '{}', '2026-11-27 02:11:30.250000'),
  ('canteen-crowded', 'minor', 'resolved', 'darong-b', 'canteen', 'main-hall',
   'Canteen at 95 %', '0.95', '2026-11-27 04:00:00.000000',
   NULL, NULL, '2026-11-27 04:30:00.000000', 'operator-2', 'manual', NULL, 0, true, false,
   '{}', '2026-11-27 04:30:00.000000'),
  ('custom-page', 'page', 'firing', 'darong-b', 'aed', 'aed-b-1f-lobby',
   'A severity no default rule uses', NULL, '2026-11-27 05:00:00.000000',
   NULL, NULL, NULL, NULL, NULL, NULL, 0, false, true,
   '{}', '2026-11-27 05:00:00.000000');

INSERT INTO alert_events (alert_id, event, at, by, note, alert) VALUES
  (1, 'raised', '2026-11-27 02:00:00.000000', NULL, NULL,
   '{"id": 1, "rule": "aed-cabinet-open", "severity": "critical", "state": "firing", "building": "darong-a", "kind": "aed", "device": "aed-a-1f-lobby", "summary": "AED cabinet opened at Tower A lobby", "value": true, "started_at": "2026-11-27T02:00:00.000000+00:00", "updated_at": "2026-11-27T02:00:00.000000+00:00", "escalation_level": 0, "labels": {"floor": "1F", "zone": "lobby"}}'),
  (1, 'escalated', '2026-11-27 02:02:00.000000', NULL, 'level 1',
   '{"id": 1, "rule": "aed-cabinet-open", "severity": "critical", "state": "firing", "building": "darong-a", "kind": "aed", "device": "aed-a-1f-lobby", "summary": "AED cabinet opened at Tower A lobby", "value": true, "started_at": "2026-11-27T02:00:00.000000+00:00", "updated_at": "2026-11-27T02:02:00.000000+00:00", "escalated_at": "2026-11-27T02:02:00.000000+00:00", "escalation_level": 1, "labels": {"floor": "1F", "zone": "lobby"}}'),
  (2, 'acknowledged', '2026-11-27 02:11:30.250000', 'operator-1', 'on my way',
   '{"id": 2, "rule": "parking-full", "severity": "warning", "state": "acknowledged", "building": "darong-a", "kind": "parking_lot", "device": "garage", "summary": "Garage full", "value": 0, "started_at": "2026-11-27T02:10:00.000000+00:00", "updated_at": "2026-11-27T02:11:30.250000+00:00", "acknowledged_at": "2026-11-27T02:11:30.250000+00:00", "acknowledged_by": "operator-1", "labels": {}}');

INSERT INTO silences (building, kind, device, rule, starts_at, ends_at, reason, created_by,
    created_at, ended_by, closed_at) VALUES
  ('darong-b', 'aed', 'aed-b-1f-lobby', NULL, '2026-11-27 04:50:00.000000', '2026-11-27 06:50:00.000000',
   'service visit', 'operator-2', '2026-11-27 04:50:00.000000', NULL, NULL),
  (NULL, NULL, NULL, 'canteen-crowded', '2026-11-26 10:00:00.000000', '2026-11-26 11:00:00.000000',
   'fire drill', 'admin', '2026-11-26 09:55:00.000000', 'admin', '2026-11-26 10:40:00.000000');

INSERT INTO rule_pending (rule, building, kind, device, since, value) VALUES
  ('parking-full', 'darong-b', 'parking_lot', 'gw-a-peer', '2026-11-27 05:01:00.000000', '2');

INSERT INTO api_tokens (name, role, token_hash, prefix, created_at, expires_at, revoked_at) VALUES
  ('wang', 'patrol', '218137d05240036c564349482f33f5391aa4f99cadb132d55bf037ed931b301d', 'louyu_ssssss',
   '2026-11-20 08:00:00.000000', NULL, NULL),
  ('old-kiosk', 'viewer', 'aee645534db73bf0f2a2d14d783c182c42fa37080570bf5c2ab9559bd5d6045a', 'louyu_rrrrrr',
   '2026-11-01 08:00:00.000000', '2027-11-01 08:00:00.000000', '2026-11-02 08:00:00.000000');

INSERT INTO notify_cursor (name, last_event_id, updated_at) VALUES
  ('events', 3, '2026-11-27 02:11:31.000000');

INSERT INTO notify_deliveries (id, created_at, event_id, alert_id, event, reason, level, route,
    severity, rule, building, receiver, channel, title, payload, status, attempts,
    next_attempt_at, deadline, delivered_at, finished_at, last_error) VALUES
  ('evt-1-patrol-a', '2026-11-27 02:00:00.010000', 1, 1, 'raised', 'event', 0, 'aed',
   'critical', 'aed-cabinet-open', 'darong-a', 'patrol-a', 'mqtt', 'AED cabinet opened',
   '{"delivery_id": "evt-1-patrol-a"}', 'delivered', 1,
   '2026-11-27 02:00:00.010000', '2026-11-28 02:00:00.000000', '2026-11-27 02:00:00.040000',
   '2026-11-27 02:00:00.040000', NULL),
  ('evt-3-city', '2026-11-27 02:11:31.000000', 3, 2, 'acknowledged', 'event', 0, 'city',
   'warning', 'parking-full', 'darong-a', 'city', 'webhook', 'Garage full',
   '{"delivery_id": "evt-3-city"}', 'pending', 2,
   '2026-11-27 02:12:31.000000', '2026-11-28 02:11:31.000000', NULL, NULL, 'HTTP 503');

INSERT INTO notify_attempts (delivery_id, number, at, duration_ms, ok, retryable, status_code, error) VALUES
  ('evt-1-patrol-a', 1, '2026-11-27 02:00:00.020000', 20, true, false, NULL, NULL),
  ('evt-3-city', 1, '2026-11-27 02:11:31.100000', 120, false, true, 503, 'HTTP 503'),
  ('evt-3-city', 2, '2026-11-27 02:11:33.100000', 118, false, true, 503, 'HTTP 503');

INSERT INTO notify_tracks (alert_id, route, event_id, started_at, level, last_notified_at, reminders,
    active, next_due_at, stopped_at, stopped_reason) VALUES
  (1, 'aed', 1, '2026-11-27 02:00:00.000000', 1, '2026-11-27 02:02:00.000000', 0, true,
   '2026-11-27 02:04:00.000000', NULL, NULL);
