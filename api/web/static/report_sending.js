// The sending state of a kept report, one line per receiver: sent, not sent yet with the next
// try's time, or given up, each failure with its last error in words (docs/reports.md#retries).

import { el, fmtTime, plural, t } from "./common.js";

function fill(key, values) {
  return Object.entries(values).reduce((text, [name, value]) => text.replace(`{${name}}`, value), t(key));
}

export function receiverText(sent) {
  const n = sent.attempts ?? 1;
  const values = { receiver: sent.receiver, n, attempts: plural("reports.attempts", n), error: sent.error ?? "" };
  if (sent.ok) return fill("reports.sent_ok", values);
  if (sent.gave_up || !sent.next_attempt_at) return fill("reports.sent_gave_up", values);
  return fill("reports.sent_retry", { ...values, time: fmtTime(sent.next_attempt_at, true) });
}

// The list item for one kept report, or null when it was sent to nobody.
export function sendingItem(report) {
  if (!report.sent?.length) return null;
  const lines = report.sent.map((sent) =>
    el("li", { "data-receiver": sent.receiver, "data-state": sent.ok ? "sent" : sent.gave_up ? "gave-up" : "retrying" }, receiverText(sent)),
  );
  return el("li", { class: "kept-sending" }, t("reports.sending"), el("ul", {}, lines));
}
