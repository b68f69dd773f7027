// The order of the alert list, the same as the API's `sort=priority` (rules/alert_query.py):
// severity, then urgency (escalated and unacknowledged firing first), then newest, ties by id.

export const SEVERITIES = ["critical", "major", "minor", "warning", "info"];

export function urgency(a) {
  if (a.state === "firing" && !a.silenced) return a.escalation_level > 0 ? 0 : 1;
  if (a.state === "acknowledged") return 2;
  return a.state === "firing" ? 3 : 4;
}

const rank = (severity) => {
  const i = SEVERITIES.indexOf(severity);
  return i < 0 ? SEVERITIES.length : i;
};

export function compareAlerts(a, b) {
  return (
    rank(a.severity) - rank(b.severity) ||
    urgency(a) - urgency(b) ||
    b.started_at.localeCompare(a.started_at) ||
    b.id - a.id
  );
}

// Whether `fresh` is a newer version of `held` (events may come twice or out of order).
export function isNewer(fresh, held) {
  if (!held) return true;
  if (held.updated_at && fresh.updated_at && held.updated_at > fresh.updated_at) return false;
  return !(held.updated_at === fresh.updated_at && held.state === fresh.state);
}
