"""The soak's verdict: each claim checked and printed, the figures in summary.json, the plot in
soak.png."""

from __future__ import annotations

import itertools
import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from bench.soak.faults import Fault
from bench.soak.observe import Seen
from bench.soak.run import MEASUREMENT_FIELD, Outcome, Skewed

RULES = ("aed-cabinet-open", "aed-in-use")
STEP_OF_RULE = {"aed-cabinet-open": "opened", "aed-in-use": "in_use"}
MEMORY_GROWTH_LIMIT = 0.10
FAULT_MARGIN_S = 5.0  # a kill or restart counts as "during a fault" for a few seconds after


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def in_force(at: float, faults: list[Fault]) -> list[str]:
    """The faults whose window (and the few seconds after) holds `at`."""
    return [
        f.name
        for f in faults
        if f.started is not None and f.started <= at <= (f.ended or f.started) + FAULT_MARGIN_S
    ]


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"n": len(values), "p50": statistics.median(ordered), "p99": p99, "max": ordered[-1]}


def key(seen: Seen) -> tuple[str, str]:
    return seen.building, seen.device


def incident_latencies(steps: list[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """Sensor-to-alert and sensor-to-handset, in ms, split by whether the step fell in a fault."""
    out: dict[str, dict[str, list[float]]] = {
        "sensor_to_alert": {"during": [], "outside": []},
        "sensor_to_handset": {"during": [], "outside": []},
    }
    for row in steps:
        when = "during" if row["faults"] else "outside"
        for name, column in (("sensor_to_alert", "alert_ms"), ("sensor_to_handset", "handset_ms")):
            if row[column] is not None:
                out[name][when].append(row[column])
    return out


def step_latencies(outcome: Outcome) -> list[dict[str, Any]]:
    """Every alerting step on its own: when it was sent, its two latencies and the faults in force,
    so that a slow one can be traced to what was happening."""
    out: list[dict[str, object]] = []
    for incident in outcome.incidents:
        device = (incident.device.building, incident.device.device)
        for rule, step in STEP_OF_RULE.items():
            sent = incident.steps.get(step)
            if sent is None:
                continue
            row: dict[str, Any] = {
                "at_s": round(sent - outcome.started, 1),
                "device": f"{device[1]}@{device[0]}",
                "step": step,
                "faults": in_force(sent, outcome.faults),
            }
            for name, source in (("alert_ms", "alert"), ("handset_ms", "handset")):
                times = [
                    s.at
                    for s in outcome.seen
                    if s.source == source and key(s) == device and s.rule == rule and s.event == "raised"
                ]
                row[name] = round((min(times) - sent) * 1000, 1) if times else None
            out.append(row)
    return sorted(out, key=lambda r: float(r["at_s"]))


def memory_growth(outcome: Outcome) -> dict[str, float | None]:
    """Per part, the growth of RSS from just after warm-up to the end, within the process that
    ran last (a killed or restarted part is measured from its restart on)."""
    growth: dict[str, float | None] = {}
    # Warm-up: a fifth of the soak, and at least one and a half walks through every device, since
    # the latest-state tables fill during the first walk. A restarted process fills them again
    # while the others' backlogs of its outage still load the machine: two walks after its start
    # (measured: the restarted API reached its predecessor's footprint after 1.9 walks).
    cycle_s = outcome.devices / outcome.rate
    warm = outcome.started + max(outcome.duration_s * 0.2, 1.5 * cycle_s)
    for part, series in outcome.samples.rss.items():
        last_pid = series[-1][2]
        mine = [(t, mb) for t, mb, pid in series if pid == last_pid]
        restarted = any(pid != last_pid for _, _, pid in series)
        start_t = max(warm, mine[0][0] + (2.0 if restarted else 1.5) * cycle_s)
        after = [mb for t, mb in mine if t >= start_t]
        if len(after) < 10:
            growth[part] = None
            continue
        tenth = max(3, len(after) // 10)
        baseline = statistics.median(after[:tenth])
        final = statistics.median(after[-tenth:])
        growth[part] = final / baseline - 1
    return growth


def span_s(values: list[float]) -> str:
    return f"{min(values):.1f} to {max(values):.1f} s" if values else "n/a"


def skew_check(skewed: Skewed) -> Check:
    """Each reading of the gateway whose clock was ahead refused or stored, never both, never
    lost; refused ones kept as dead letters; none stored while it was still more than the
    contract's five minutes ahead. One that reached the collector later than that was no longer
    ahead, and is rightly stored: a soak whose own load generator falls behind has some."""
    made = set(skewed.made)
    lost = made - skewed.stored - set(skewed.refused)
    both = skewed.stored & set(skewed.refused)
    refused_after = [received / 1000 - skewed.made[k] for k, received in skewed.refused.items()]
    stored_acked = [skewed.acked_after_s[k] for k in skewed.stored if k in skewed.acked_after_s]
    return Check(
        "readings with the gateway's clock 10 min ahead refused while ahead, each refused or stored once",
        bool(skewed.refused) and not lost and not both and skewed.ahead_when_set_right == 0,
        f"{len(made):,} made: {len(skewed.refused):,} refused and kept as dead letters (the collector got"
        f" them {span_s(refused_after)} after they were made); {len(skewed.stored):,} stored"
        + (
            f", no longer ahead when they came (the broker acknowledged them {span_s(stored_acked)}"
            " after they were made)"
            if skewed.stored
            else ""
        )
        + f"; lost: {len(lost)}; both stored and refused: {len(both)}; points more than 5 min ahead"
        f" in InfluxDB as the clock was set right: {skewed.ahead_when_set_right}",
    )


def checks(outcome: Outcome) -> tuple[list[Check], dict[str, object]]:
    result: list[Check] = []
    # The skewed readings that came late enough to be stored count on top of the valid ones.
    late = outcome.skewed_readings.stored_by_measurement()
    missing = {
        m: outcome.load_counts.get(m, 0) + late[m] - outcome.stored.get(m, 0) for m in MEASUREMENT_FIELD
    }
    result.append(
        Check(
            "every valid reading stored exactly once",
            all(v == 0 for v in missing.values()) and outcome.unacknowledged == 0,
            f"sent and acknowledged {sum(outcome.load_counts.values()):,}, and {sum(late.values()):,} of"
            f" the skewed gateway's stored (below); stored {sum(outcome.stored.values()):,} (by"
            f" measurement, expected minus stored: {missing}); unacknowledged at the end:"
            f" {outcome.unacknowledged}",
        )
    )
    result.append(skew_check(outcome.skewed_readings))
    alerts = [s for s in outcome.seen if s.source == "alert"]
    unexpected = sorted({s.rule for s in alerts if s.event == "raised" and s.rule not in RULES})
    unresolved, missing_receivers, duplicates = [], [], 0
    for incident in outcome.incidents:
        device = (incident.device.building, incident.device.device)
        for rule in RULES:
            events = {s.event for s in alerts if key(s) == device and s.rule == rule}
            if not {"raised", "resolved"} <= events:
                unresolved.append(f"{device[1]}@{device[0]} {rule}: {sorted(events)}")
            for source in ("handset", "webhook"):
                got = [s for s in outcome.seen if s.source == source and key(s) == device and s.rule == rule]
                ids = [s.delivery_id for s in got]
                duplicates += len(ids) - len(set(ids))
                if {s.event for s in got} != {"raised", "resolved"}:
                    missing_receivers.append(
                        f"{device[1]} {rule} at {source}: {sorted({s.event for s in got})}"
                    )
    result.append(
        Check(
            "every scripted incident raised and resolved",
            not unresolved,
            f"{len(outcome.incidents)} incidents x 2 alerts; not raised and resolved: {unresolved or 'none'}",
        )
    )
    result.append(
        Check(
            "each incident's events delivered to each receiver exactly once (by delivery id)",
            not missing_receivers,
            f"patrol handset and webhook; missing: {missing_receivers or 'none'}; "
            f"the same delivery id received again (retries after a crash, dropped by receivers): {duplicates}; "
            f"webhook answered 503 {outcome.webhook_refused} times",
        )
    )
    result.append(
        Check("no other alert raised", not unexpected, f"other rules raised: {unexpected or 'none'}")
    )
    growth = memory_growth(outcome)
    too_much = {p: g for p, g in growth.items() if g is not None and g > MEMORY_GROWTH_LIMIT}
    result.append(
        Check(
            "no process's memory grows more than 10 % after warm-up",
            not too_much,
            ", ".join(f"{p} {'n/a' if g is None else f'{g:+.1%}'}" for p, g in sorted(growth.items())),
        )
    )
    louyu_queues = {c: n for c, n in (outcome.session_queues or {}).items() if not c.startswith("soak-")}
    own_queues = {c: n for c, n in (outcome.session_queues or {}).items() if c.startswith("soak-")}
    result.append(
        Check(
            "the broker's queues back to zero",
            outcome.session_queues is not None and not louyu_queues,
            (
                f"could not read the broker's saved sessions: {outcome.session_queues_error}"
                if outcome.session_queues is None
                else f"messages queued for louyu's sessions when the broker stopped: {louyu_queues or 'none'}"
            )
            + f" (the soak's own clients, which left first: {own_queues or 'none'}); $SYS stored beyond"
            f" retained at the end: {outcome.queued_at_end}, after stopping each part in turn:"
            f" {outcome.queued_after_stop}",
        )
    )
    # Faults run one after the other: a restart that takes long delays the next, and one still
    # waiting when the soak ends never strikes. Each must have struck, and a window must have
    # closed; how late each one started is in the list of faults printed above.
    unstruck = [f.name for f in outcome.faults if f.started is None or (f.nominal_s and f.ended is None)]
    result.append(
        Check(
            "every fault struck as scheduled",
            not outcome.fault_errors and not unstruck,
            "; ".join(outcome.fault_errors + [f"{name}: did not strike before the end" for name in unstruck])
            or "all",
        )
    )
    steps = step_latencies(outcome)
    latencies = incident_latencies(steps)
    figures: dict[str, object] = {
        "duration_s": outcome.duration_s,
        "rate_per_s": outcome.rate,
        "devices": outcome.devices,
        "readings_sent": outcome.load_counts,
        "readings_stored": outcome.stored,
        "drained_in_s": round(outcome.drained_in_s, 1),
        # How far the load generator itself fell behind: per second, the oldest reading the
        # broker acknowledged, in seconds since it was made.
        "load_ack_lag_s": percentiles([lag for _, lag in outcome.ack_lag]),
        "skewed_readings": {
            "made": len(outcome.skewed_readings.made),
            "refused": len(outcome.skewed_readings.refused),
            "stored": len(outcome.skewed_readings.stored),
        },
        "latency_ms": {
            name: {when: percentiles(values) for when, values in split.items()}
            for name, split in latencies.items()
        },
        "steps": steps,
        "memory_growth": growth,
        "peak_rss_mb": {p: max(mb for _, mb, _ in s) for p, s in outcome.samples.rss.items()},
        "faults": [
            {
                "name": f.name,
                "started_s": None if f.started is None else round(f.started - outcome.started, 1),
                "planned_s": round(f.at * outcome.duration_s, 1),
                "length_s": None if f.started is None or f.ended is None else round(f.ended - f.started, 1),
                "note": f.note,
            }
            for f in outcome.faults
        ],
    }
    return result, figures


def write(outcome: Outcome, out: Path) -> bool:
    result, figures = checks(outcome)
    lines = [
        f"soak: {outcome.duration_s / 60:g} min, {outcome.rate:g} readings/s, {outcome.devices:,} devices"
    ]
    for fault in figures["faults"]:  # type: ignore[attr-defined]
        note = f" ({fault['note']})" if fault["note"] else ""
        lines.append(
            f"  fault at {fault['started_s']} s (planned {fault['planned_s']} s): {fault['name']}{note}"
        )
    for name, split in figures["latency_ms"].items():  # type: ignore[attr-defined]
        for when, p in split.items():
            if p["n"]:
                lines.append(
                    f"  {name} {when} faults: n={p['n']} p50={p['p50']:.1f} ms p99={p['p99']:.1f} ms max={p['max']:.1f} ms"
                )
    steps = cast(list[dict[str, Any]], figures["steps"])
    slowest = sorted(steps, key=lambda r: -(r["handset_ms"] or 1e12))[:8]
    for row in slowest:
        lines.append(
            f"  slow step at {row['at_s']} s {row['step']} {row['device']}: alert {row['alert_ms']} ms,"
            f" handset {row['handset_ms']} ms; faults: {', '.join(row['faults']) or 'none'}"
        )
    lines.append(f"  peak RSS MB: {figures['peak_rss_mb']}")
    lag = cast(dict[str, Any], figures["load_ack_lag_s"])
    if lag["n"]:
        lines.append(
            f"  load generator behind (per second, the oldest reading acknowledged by the broker):"
            f" p50 {lag['p50']:.1f} s, max {lag['max']:.1f} s"
        )
    for check in result:
        lines.append(f"{'PASS' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    text = "\n".join(lines)
    print(text, flush=True)
    (out / "summary.txt").write_text(text + "\n")
    summary = {"checks": [check.__dict__ for check in result], **figures}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    plot(outcome, figures, out / "soak.png")
    return all(check.ok for check in result)


def plot(outcome: Outcome, figures: dict[str, object], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = outcome.started
    fig, (rates, lat, mem) = plt.subplots(3, 1, figsize=(12, 10), sharex=True)
    sent = [(t - t0, n) for t, n in outcome.per_second]
    rates.plot([t for t, _ in sent], [n for _, n in sent], lw=0.7, label="readings sent /s")
    written = outcome.samples.written
    rate_w = [
        (b[0] - t0, max(0.0, (b[1] - a[1]) / (b[0] - a[0])))
        for a, b in itertools.pairwise(written)
        if b[0] > a[0] and b[1] >= a[1]
    ]
    rates.plot([t for t, _ in rate_w], [r for _, r in rate_w], lw=0.7, label="points written /s (collector)")
    evaluated = outcome.samples.evaluated
    rate_e = [
        (b[0] - t0, max(0.0, (b[1] - a[1]) / (b[0] - a[0])))
        for a, b in itertools.pairwise(evaluated)
        if b[0] > a[0] and b[1] >= a[1]  # a restarted engine counts from zero: no rate across it
    ]
    rates.plot([t for t, _ in rate_e], [r for _, r in rate_e], lw=0.7, label="messages evaluated /s (rules)")
    if outcome.samples.lanes:
        rates.plot(
            [t - t0 for t, _, _ in outcome.samples.lanes],
            [u + b for _, u, b in outcome.samples.lanes],
            lw=0.7,
            ls=":",
            label="waiting in the rules engine's lanes",
        )
    spool = outcome.samples.spool
    if spool:
        ax2 = rates.twinx()
        ax2.plot(
            [t - t0 for t, _ in spool],
            [n for _, n in spool],
            color="grey",
            lw=0.7,
            ls="--",
            label="spool points",
        )
        ax2.set_ylabel("spool points")
    rates.set_ylabel("per second")
    rates.legend(loc="upper left")
    for incident in outcome.incidents:
        for rule, step in (("aed-cabinet-open", "opened"), ("aed-in-use", "in_use")):
            sent_at = incident.steps.get(step)
            if sent_at is None:
                continue
            for source, marker in (("alert", "o"), ("handset", "x")):
                times = [
                    s.at
                    for s in outcome.seen
                    if s.source == source
                    and s.device == incident.device.device
                    and s.building == incident.device.building
                    and s.rule == rule
                    and s.event == "raised"
                ]
                if times:
                    lat.scatter(
                        [sent_at - t0],
                        [(min(times) - sent_at) * 1000],
                        marker=marker,
                        s=18,
                        color="C3" if source == "alert" else "C0",
                    )
    if outcome.ack_lag:
        lat.plot(
            [t - t0 for t, _ in outcome.ack_lag],
            [max(1.0, lag * 1000) for _, lag in outcome.ack_lag],
            lw=0.6,
            color="grey",
            label="load generator behind, ms",
        )
        lat.legend(loc="upper right", fontsize=8)
    lat.set_yscale("log")
    lat.set_ylabel("sensor to alert (o) / handset (x), ms")
    for part, series in sorted(outcome.samples.rss.items()):
        mem.plot([t - t0 for t, _, _ in series], [mb for _, mb, _ in series], lw=0.8, label=part)
    mem.set_ylabel("RSS, MB")
    mem.set_xlabel("seconds since the start")
    mem.legend(loc="upper left")
    for fault in outcome.faults:
        if fault.started is None:
            continue
        end = (fault.ended or fault.started) + 1
        for ax in (rates, lat, mem):
            ax.axvspan(fault.started - t0, end - t0, color="orange", alpha=0.15)
        rates.annotate(
            fault.name.split(" (")[0],
            (fault.started - t0, 0),
            rotation=90,
            fontsize=6,
            va="bottom",
            xytext=(2, 2),
            textcoords="offset points",
        )
    fig.suptitle(f"louyu soak: {outcome.duration_s / 60:g} min at {outcome.rate:g} readings/s, faults shaded")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
