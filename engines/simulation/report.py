"""The demo's report: what Outreach learned against the planted truth, and what learning changed.

Read from the database after the loop: the active patterns of each demo
client, and per cohort the share of leads that booked a meeting within the
same number of days after their import. Rendered for the terminal and as one
HTML page whose charts are the admin's own server-drawn SVG (no script, no
network).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import timezone

from engines.json_types import JSONObject
from engines.rules.proportions import wilson_interval
from engines.rules.sending_window import sending_window
from engines.services.deliverability.mailboxes import MailboxSends, sends_per_mailbox
from engines.services.patterns import get_active_pattern
from engines.services.scoring.lead_score import DEFAULT_WEIGHTS, resolve_weights
from engines.simulation import journey_figures, responses
from engines.simulation.journey_figures import JourneyFigures
from engines.simulation.loop import Cohort, LoopResult
from engines.simulation.responses import DemoTruth
from outreach.admin.charts import Bar, bar_chart
from outreach.models import Activity, ActivityAction, Client, Mailbox, MailboxState
from outreach.models.choices import SENT_ACTIONS

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Rate:
    """Booked leads over leads, with a 95% Wilson interval."""

    booked: int
    leads: int

    @property
    def value(self) -> float:
        return self.booked / self.leads if self.leads else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.booked, self.leads)

    def text(self) -> str:
        low, high = self.interval
        return f"{self.value:.1%} ({self.booked}/{self.leads}; 95% {low:.1%}-{high:.1%})"


@dataclass
class Finding:
    what: str
    planted: str
    found: str
    matches: bool


@dataclass
class ClientReport:
    client: Client
    weights: dict[str, float] | None
    weights_source: str
    findings: list[Finding] = field(default_factory=list)
    emails_outside_window: int = 0
    emails_sent: int = 0
    mailboxes: list[tuple[Mailbox, MailboxSends]] = field(default_factory=list)

    @property
    def weight_rows(self) -> list[tuple[str, float, float | None]]:
        """(component, default weight, learned weight or None) for every scoring component."""
        learned = self.weights or {}
        return [(name, default, learned.get(name)) for name, default in DEFAULT_WEIGHTS.items()]


@dataclass
class DemoReport:
    loop: LoopResult
    horizon_days: int
    rates: dict[str, Rate]
    clients: list[ClientReport]
    sends_by_channel: dict[str, int]
    journey: JourneyFigures

    @property
    def lift(self) -> float | None:
        before, after = self.rates.get("before learning"), self.rates.get("after learning")
        return after.value / before.value if before and after and before.value else None


def cohort_rate(cohort: Cohort, horizon: timedelta) -> Rate:
    """The cohort's leads that booked a meeting within `horizon` of their import."""
    booked = (
        Activity.objects.filter(
            lead_id__in=cohort.lead_ids,
            action=ActivityAction.MEETING_BOOKED,
            created_at__lte=cohort.imported_at + horizon,
        )
        .values("lead_id")
        .distinct()
        .count()
    )
    return Rate(booked, len(cohort.lead_ids))


def _days(pattern: JSONObject, key: str, field_name: str) -> list[int]:
    return [int(entry[field_name]) for entry in pattern.get(key) or []]


def truth_rows(truth: DemoTruth) -> list[tuple[str, str]]:
    """The response model the demo answered with (engines.simulation.responses), as (part, what it says)."""
    hours = ", ".join(f"{hour}:00 x{lift:g}" for hour, lift in sorted(truth.hour_lift.items()))
    return [
        ("reply chance of a touch", "base of its channel x day x hour x first channel x CTA x ICP fit"),
        ("base by channel", ", ".join(f"{channel} {p:.1%}" for channel, p in truth.reply_base.items())),
        ("lead's local day", ", ".join(f"{DAY_NAMES[d]} x{lift:g}" for d, lift in enumerate(truth.day_lift))),
        ("lead's local hour", f"{hours}, any other x{responses.OTHER_HOUR_LIFT:g}"),
        ("sequence's first channel", ", ".join(f"{c} x{lift:g}" for c, lift in truth.first_channel_lift.items())),
        ("call to action", ", ".join(f'"{cta}" x{lift:g}' for cta, lift in truth.cta_lift.items()) + ", other x1"),
        ("ICP fit f (0-1)", f"x exp({truth.fit_coefficient:g} (f - 0.5))"),
        ("booking", f"{truth.book_after_reply:.0%} of replies book, 1-2.5 days later (through Cal.com)"),
        (
            "provider events",
            f"email: {responses.EMAIL_HARD_BOUNCE:.0%} hard bounce, {responses.EMAIL_SOFT_BOUNCE:.0%} soft bounce, "
            f"{responses.EMAIL_OPEN:.0%} opened, {responses.EMAIL_AUTO_REPLY:.0%} out-of-office, "
            f"{responses.EMAIL_UNSUBSCRIBE:.1%} unsubscribe; SMS: {responses.SMS_UNDELIVERED:.0%} undelivered, "
            f"{responses.SMS_STOP:.0%} STOP",
        ),
        ("answers", "one per lead: after a reply, STOP or unsubscribe nothing more is drawn for that lead"),
    ]


WEIGHT_SOURCES = {
    "pattern": "learned (the WHO pattern in use)",
    "client": "learned (the last WHO pattern put to use; the newest is stored but not used)",
    "default": "the defaults (no WHO pattern was put to use)",
}


def client_findings(client: Client, truth: DemoTruth, *, now: datetime) -> ClientReport:
    """The client's patterns active at `now` (the end of the simulated weeks) next to the planted truth."""
    when, how, what = (get_active_pattern(client, kind, now=now) for kind in ("when", "how", "what"))
    client.refresh_from_db(fields=["als_learned_weights"])
    in_use, source = resolve_weights(client, now=now)
    report = ClientReport(client, None if source == "default" else in_use, WEIGHT_SOURCES[source])
    fit = in_use["company_fit"]
    when_data, how_data, what_data = (p.patterns if p else {} for p in (when, how, what))
    days = _days(when_data, "best_days", "day_index")
    hours = _days(when_data, "best_hours", "hour")
    first = how_data.get("best_first_channel")
    winners = [" > ".join(w["sequence"]) for w in how_data.get("winning_sequences") or []]
    ctas = list(((what_data.get("ctas") or {}).get("effective")) or [])
    report.findings = [
        Finding(
            "best days",
            ", ".join(DAY_NAMES[d] for d in truth.best_days),
            ", ".join(DAY_NAMES[d] for d in days[:3]) or "no preference",
            bool(days) and days[0] in truth.best_days,
        ),
        Finding(
            "best hour",
            f"{truth.best_hour}:00",
            ", ".join(f"{h}:00" for h in hours[:3]) or "no preference",
            bool(hours) and hours[0] == truth.best_hour,
        ),  # fmt: skip
        Finding("first channel", truth.best_first_channel, first or "no preference", first == truth.best_first_channel),
        Finding(
            "winning sequence",
            f"opens on {truth.best_first_channel}",
            winners[0] if winners else "no preference",
            bool(winners) and winners[0].startswith(truth.best_first_channel),
        ),
        Finding("effective CTA", truth.best_cta, ", ".join(ctas) or "none found", truth.best_cta in ctas),
        Finding(
            "WHO direction",
            "company fit weighs more",
            f"company fit {fit:.2f} (default {DEFAULT_WEIGHTS['company_fit']:.2f})",
            fit > DEFAULT_WEIGHTS["company_fit"],
        ),
    ]
    report.emails_sent, report.emails_outside_window = emails_outside_window(client)
    report.mailboxes = sends_per_mailbox(client, since=datetime.min.replace(tzinfo=UTC))
    return report


def emails_outside_window(client: Client) -> tuple[int, int]:
    """(emails the client sent, those whose lead-local day and hour its sending window does not allow)."""
    window = sending_window(client)
    times = Activity.objects.filter(client=client, action=ActivityAction.EMAIL_SENT).values_list(
        "content_snapshot__day_index", "content_snapshot__hour_of_day"
    )
    sent = outside = 0
    for day, hour in times:
        sent += 1
        outside += day not in window.days or not window.allows_hour(hour)
    return sent, outside


def build_report(loop: LoopResult, horizon_days: int) -> DemoReport:
    horizon = timedelta(days=horizon_days)
    sends = {}
    for channel in ("email", "sms", "linkedin", "voice"):
        sends[channel] = Activity.objects.filter(
            client__in=loop.clients, action__in=SENT_ACTIONS, channel=channel
        ).count()
    return DemoReport(
        loop=loop,
        horizon_days=horizon_days,
        rates={cohort.name: cohort_rate(cohort, horizon) for cohort in loop.cohorts},
        clients=[client_findings(client, loop.truth, now=loop.end) for client in loop.clients],
        sends_by_channel=sends,
        journey=journey_figures.measure(loop.clients),
    )


def terminal_lines(report: DemoReport) -> list[str]:
    loop = report.loop
    lines = [
        f"Simulated {loop.start:%d %b} - {loop.end:%d %b %Y} ({(loop.end - loop.start).days} days, {loop.nights} "
        f"nightly learning runs): {sum(report.sends_by_channel.values()):,} touches sent "
        f"({', '.join(f'{c} {n:,}' for c, n in report.sends_by_channel.items())}), {loop.tasks_closed:,} manual "
        f"tasks closed, {sum(loop.events.values()):,} provider callbacks "
        f"({', '.join(f'{k} {v:,}' for k, v in sorted(loop.events.items()))}).",
        "",
        f"Booking rate within {report.horizon_days} days of import (same lead mix):",
    ]
    if loop.cpu_seconds:
        parts = sorted(loop.cpu_seconds.items(), key=lambda item: -item[1])
        lines[1:1] = ["CPU time by part: " + ", ".join(f"{part} {seconds:.0f} s" for part, seconds in parts) + "."]
    lines += [f"  {name:16} {rate.text()}" for name, rate in report.rates.items()]
    if report.lift is not None:
        lines.append(f"  after / before: {report.lift:.2f}x")
    lines += ["", "What the prospects got:", *report.journey.lines()]
    truth = loop.truth
    days = ", ".join(DAY_NAMES[d] for d in truth.best_days)
    lines += [
        "",
        f"Planted truth (engines/simulation/responses.py): replies favour {days}"
        f" at {truth.best_hour}:00 (lead's local time), sequences opening on {truth.best_first_channel}, the "
        f'"{truth.best_cta}" CTA and leads that fit the ICP; {truth.book_after_reply:.0%} of replies book.',
    ]
    for item in report.clients:
        lines += ["", f"{item.client.name}: weights {item.weights_source}"]
        if item.weights:
            lines.append(
                "  " + ", ".join(f"{k} {item.weights[k]:.2f} (default {v:.2f})" for k, v in DEFAULT_WEIGHTS.items())
            )
        lines += [
            f"  {'ok ' if f.matches else '-- '} {f.what:17} planted: {f.planted:22} found: {f.found}"
            for f in item.findings
        ]
        lines.append(
            f"  emails sent outside the sending window ({sending_window(item.client).describe()}): "
            f"{item.emails_outside_window} of {item.emails_sent:,} (should be 0)"
        )
        lines += [f"  mailbox {mailbox_line(mailbox, sends)}" for mailbox, sends in item.mailboxes]
    return lines


def mailbox_line(mailbox: Mailbox, sends: MailboxSends) -> str:
    """A mailbox's sends in the demo, their hard bounces and complaints, and its state at the end (and why)."""
    state = mailbox.get_state_display().lower()
    if mailbox.state == MailboxState.PAUSED:
        state += f": {mailbox.get_state_reason_display().lower()}"
    return (
        f"{mailbox.address}: {sends.sends:,} emails, {sends.hard_bounces} hard bounces, "
        f"{sends.complaints} complaints; {state}"
    )


# The admin's light theme (django.contrib.admin's base.css), for the CSS variables admin.css uses: the report is
# not an admin page, so without these its markers, axes and hairlines would draw in no colour at all.
ADMIN_THEME = {
    "--body-fg": "#333",
    "--body-bg": "#fff",
    "--body-quiet-color": "#666",
    "--body-medium-color": "#444",
    "--body-loud-color": "#000",
    "--hairline-color": "#e8e8e8",
    "--border-color": "#ccc",
    "--darkened-bg": "#f8f8f8",
    "--selected-bg": "#e4e4e4",
    "--selected-row": "#ffc",
    "--primary": "#79aec8",
    "--secondary": "#417690",
    "--accent": "#f5dd5d",
    "--primary-fg": "#fff",
    "--link-fg": "#417893",
    "--error-fg": "#ba2121",
    "--message-success-bg": "#dfd",
    "--message-warning-bg": "#ffc",
    "--message-error-bg": "#ffefef",
}
_VARIABLE = re.compile(r"var\(\s*(--[\w-]+)")


def _theme_variables(css: str) -> str:
    """A :root block defining every CSS variable `css` uses (and those their values use), as the admin's light
    theme has them: Django's own admin/css/base.css when it is found, else ADMIN_THEME."""
    theme = dict(ADMIN_THEME)
    base = finders.find("admin/css/base.css")
    if isinstance(base, str):
        block = re.search(r":root\s*\{([^}]*)\}", Path(base).read_text(encoding="utf-8"))
        declarations = re.sub(r"/\*.*?\*/", "", block.group(1), flags=re.S) if block else ""
        for name, value in re.findall(r"(--[\w-]+)\s*:\s*([^;]+);", declarations):
            theme[name] = " ".join(value.split())
    wanted, todo = set[str](), _VARIABLE.findall(css)
    while todo:
        name = todo.pop()
        if name not in wanted and name in theme:
            wanted.add(name)
            todo += _VARIABLE.findall(theme[name])
    return ":root {\n" + "".join(f"  {name}: {theme[name]};\n" for name in sorted(wanted)) + "}\n"


def _chart_styles() -> str:
    """The admin's chart styles, inlined so the report is one file, after the admin variables they use."""
    found = finders.find("outreach/admin.css")
    css = Path(found).read_text(encoding="utf-8") if isinstance(found, str) else ""
    return _theme_variables(css) + css


def truth_charts(truth: DemoTruth) -> list[str]:
    """The planted lifts of the lead's local day and hour: what the WHEN pattern should find."""
    days = [Bar(DAY_NAMES[d], lift, f"x{lift:g}") for d, lift in enumerate(truth.day_lift)]
    hours = [
        Bar(f"{hour}:00", lift, f"x{lift:g}")
        for hour in range(7, 20)
        for lift in [truth.hour_lift.get(hour, responses.OTHER_HOUR_LIFT)]
    ]
    return [
        bar_chart(
            "Planted truth: reply lift by the lead's local day", days, columns=("Day", "Lift"), chart_id="truth-days"
        ),
        bar_chart(
            "Planted truth: reply lift by the lead's local hour",
            hours,
            columns=("Hour", "Lift"),
            chart_id="truth-hours",
        ),
    ]


def write_html(report: DemoReport, path: Path) -> Path:
    """One self-contained page: the figures above with the admin's SVG charts, each with its table."""
    rate_chart = bar_chart(
        f"Booking rate within {report.horizon_days} days of import",
        [Bar(name, round(rate.value * 100, 2), f"{rate.value:.1%}") for name, rate in report.rates.items()],
        columns=("Cohort", "Booked %"),
        chart_id="booking-rate",
    )
    weight_charts = [
        bar_chart(
            f"{item.client.name}: learned weights (marker: default)",
            [
                Bar(key, round(item.weights.get(key, 0.0), 3), f"{item.weights.get(key, 0.0):.2f}", secondary=default)
                for key, default in DEFAULT_WEIGHTS.items()
            ],
            columns=("Component", "Weight"),
            chart_id=f"weights-{item.client.pk}",
        )
        for item in report.clients
        if item.weights
    ]
    html = render_to_string(
        "outreach/demo_report.html",
        {
            "report": report,
            "summary": terminal_lines(report)[0],
            "rate_chart": rate_chart,
            "truth": truth_rows(report.loop.truth),
            "truth_charts": truth_charts(report.loop.truth),
            "weight_charts": weight_charts,
            "generated": timezone.now(),
            "chart_styles": _chart_styles(),
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
