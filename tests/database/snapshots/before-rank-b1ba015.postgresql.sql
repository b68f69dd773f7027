-- The schema louyu created (create_all) at commit b1ba015, before the alert list indexes and the
-- severity rank (commit d98c1f9 added them with a hand-written upgrade step).
-- Generated from that commit's models for postgresql; frozen: never regenerate it from newer code.

CREATE TABLE api_tokens (
	id SERIAL NOT NULL, 
	name VARCHAR(128) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	token_hash VARCHAR(64) NOT NULL, 
	prefix VARCHAR(16) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	expires_at TIMESTAMP WITH TIME ZONE, 
	revoked_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id), 
	UNIQUE (token_hash)
);

CREATE INDEX ix_api_tokens_name ON api_tokens (name);

CREATE TABLE notify_cursor (
	name VARCHAR(64) NOT NULL, 
	last_event_id INTEGER NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (name)
);

CREATE TABLE notify_deliveries (
	seq SERIAL NOT NULL, 
	id VARCHAR(160) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	event_id INTEGER, 
	alert_id INTEGER, 
	event VARCHAR(16), 
	reason VARCHAR(16) NOT NULL, 
	level INTEGER NOT NULL, 
	route VARCHAR(64), 
	severity VARCHAR(16), 
	rule VARCHAR(64), 
	building VARCHAR(64), 
	receiver VARCHAR(64) NOT NULL, 
	channel VARCHAR(16) NOT NULL, 
	title TEXT NOT NULL, 
	payload TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_attempt_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	deadline TIMESTAMP WITH TIME ZONE NOT NULL, 
	delivered_at TIMESTAMP WITH TIME ZONE, 
	finished_at TIMESTAMP WITH TIME ZONE, 
	last_error TEXT, 
	PRIMARY KEY (seq), 
	UNIQUE (id)
);

CREATE INDEX ix_notify_deliveries_event_id ON notify_deliveries (event_id);

CREATE INDEX ix_notify_deliveries_alert_id ON notify_deliveries (alert_id);

CREATE INDEX ix_notify_deliveries_queue ON notify_deliveries (receiver, status, seq);

CREATE INDEX ix_notify_deliveries_due ON notify_deliveries (status, next_attempt_at);

CREATE TABLE notify_tracks (
	alert_id INTEGER NOT NULL, 
	route VARCHAR(64) NOT NULL, 
	event_id INTEGER NOT NULL, 
	started_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	level INTEGER NOT NULL, 
	last_notified_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	reminders INTEGER NOT NULL, 
	active BOOLEAN NOT NULL, 
	next_due_at TIMESTAMP WITH TIME ZONE, 
	stopped_at TIMESTAMP WITH TIME ZONE, 
	stopped_reason VARCHAR(32), 
	PRIMARY KEY (alert_id, route)
);

CREATE INDEX ix_notify_tracks_due ON notify_tracks (active, next_due_at);

CREATE TABLE alerts (
	id SERIAL NOT NULL, 
	rule VARCHAR(64) NOT NULL, 
	severity VARCHAR(16) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	building VARCHAR(64) NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	device VARCHAR(64) NOT NULL, 
	summary TEXT NOT NULL, 
	value JSON, 
	started_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	acknowledged_at TIMESTAMP WITH TIME ZONE, 
	acknowledged_by VARCHAR(128), 
	resolved_at TIMESTAMP WITH TIME ZONE, 
	resolved_by VARCHAR(128), 
	resolution VARCHAR(16), 
	escalated_at TIMESTAMP WITH TIME ZONE, 
	escalation_level INTEGER NOT NULL, 
	flapping BOOLEAN NOT NULL, 
	silenced BOOLEAN NOT NULL, 
	labels JSON NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id)
);

CREATE UNIQUE INDEX uq_alerts_one_open ON alerts (rule, building, kind, device) WHERE state != 'resolved';

CREATE INDEX ix_alerts_device ON alerts (building, kind, device);

CREATE INDEX ix_alerts_state ON alerts (state, severity);

CREATE INDEX ix_alerts_started ON alerts (started_at, id);

CREATE TABLE silences (
	id SERIAL NOT NULL, 
	building VARCHAR(64), 
	kind VARCHAR(32), 
	device VARCHAR(64), 
	rule VARCHAR(64), 
	starts_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	ends_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	reason TEXT NOT NULL, 
	created_by VARCHAR(128) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	ended_by VARCHAR(128), 
	closed_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_silences_ends_at ON silences (ends_at);

CREATE TABLE rule_pending (
	rule VARCHAR(64) NOT NULL, 
	building VARCHAR(64) NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	device VARCHAR(64) NOT NULL, 
	since TIMESTAMP WITH TIME ZONE NOT NULL, 
	value JSON, 
	PRIMARY KEY (rule, building, kind, device)
);

CREATE TABLE notify_attempts (
	id SERIAL NOT NULL, 
	delivery_id VARCHAR(160) NOT NULL, 
	number INTEGER NOT NULL, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	duration_ms INTEGER NOT NULL, 
	ok BOOLEAN NOT NULL, 
	retryable BOOLEAN NOT NULL, 
	status_code INTEGER, 
	error TEXT, 
	PRIMARY KEY (id), 
	FOREIGN KEY(delivery_id) REFERENCES notify_deliveries (id) ON DELETE CASCADE
);

CREATE INDEX ix_notify_attempts_delivery_id ON notify_attempts (delivery_id);

CREATE TABLE alert_events (
	id SERIAL NOT NULL, 
	alert_id INTEGER NOT NULL, 
	event VARCHAR(16) NOT NULL, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	by VARCHAR(128), 
	note TEXT, 
	alert JSON NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(alert_id) REFERENCES alerts (id) ON DELETE CASCADE
);

CREATE INDEX ix_alert_events_alert_id ON alert_events (alert_id);
