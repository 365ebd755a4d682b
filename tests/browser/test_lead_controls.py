"""A lead's journey controls in a real browser, clicked as a person would: the lead's page lists its enrollment
with the steps that went out and what they said; Pause, Resume, Stop, Re-enrol (choosing the sequence) and Undo
do-not-contact (with the reason) each change the page and the database, and record who did it and why; and the
same actions from the lead list (tick the lead, choose the action, Go)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from engines.services.planning.allocator import allocate_lead
from engines.services.sending.dispatcher import preview_due_touches
from outreach.admin.local_time import lead_zone
from outreach.models import Client, Enrollment, JourneyEvent, Lead, ScheduledTouch
from tests.browser.conftest import screenshot
from tests.factories import ActivityFactory, ClientFactory, LeadFactory

pytestmark = pytest.mark.integration

SENT_ACTION = {"email": "email_sent", "sms": "sms_sent", "linkedin": "linkedin_sent", "voice": "voice_completed"}
# What the two steps that went out said (their snapshots), shown on the lead's page.
SAID = [
    ("Quick question, Mia", "Hi Mia, are recalls slipping at Harbour Dental?"),
    ("Following up, Mia", "Hi Mia, a 10-minute call this week about recalls?"),
]


def enrolled_with_sent_steps(client: Client, **fields: object) -> Lead:
    """A lead with an active enrollment planned by the allocator whose first two steps went out, recorded as the
    dispatcher records them (an Activity with its snapshot on the step, the lead in sequence)."""
    lead = LeadFactory.create(client=client, **fields)
    allocate_lead(lead)
    steps = list(ScheduledTouch.objects.filter(lead=lead).order_by("touch_number"))
    now = timezone.now()
    for step, (subject, body), days_ago in zip(steps, SAID, (4, 2), strict=False):
        at = now - timedelta(days=days_ago)
        activity = ActivityFactory.create(
            lead=lead,
            channel=step.channel,
            action=SENT_ACTION[step.channel],
            touch_number=step.touch_number,
            sequence_id=step.sequence_id,
            created_at=at,
            content_snapshot={"subject": subject, "body": body},
        )
        ScheduledTouch.objects.filter(pk=step.pk).update(status="sent", activity=activity, scheduled_at=at)
    Lead.objects.filter(pk=lead.pk).update(status="in_sequence", touch_count=2, last_contacted_at=now)
    return Lead.objects.get(pk=lead.pk)


def open_enrollment(lead: Lead) -> Enrollment:
    return Enrollment.objects.filter(lead=lead).order_by("-started_at", "-pk")[0]


def statuses(enrollment: Enrollment) -> list[tuple[int, str, str]]:
    touches = ScheduledTouch.objects.filter(enrollment=enrollment).order_by("touch_number", "pk")
    return list(touches.values_list("touch_number", "status", "reason"))


def sent_steps(lead: Lead) -> list[tuple[int, UUID | None]]:
    touches = ScheduledTouch.objects.filter(lead=lead, status="sent").order_by("touch_number")
    return list(touches.values_list("touch_number", "activity_id"))


def would_go(lead: Lead) -> list[str]:
    """What a dispatcher run a year from now would do with this lead's due steps (the dry run: nothing changes)."""
    later = timezone.now() + timedelta(days=365)
    return [decision.action for decision in preview_due_touches(now=later) if decision.touch.lead_id == lead.pk]


def last_event(lead: Lead) -> JourneyEvent:
    return JourneyEvent.objects.filter(lead=lead).select_related("by").order_by("-at", "-pk")[0]


def buttons(page: Page) -> list[str]:
    return [text.strip() for text in page.locator("a.journey-action").all_text_contents()]


def click_control(page: Page, label: str) -> None:
    """Click the lead page's journey button `label`, which opens its short form."""
    page.locator("a.journey-action", has_text=label).click()
    expect(page.locator("body.journey-action-form")).to_be_visible()
    expect(page.locator(".breadcrumbs")).to_contain_text(label)


def submit(page: Page, label: str) -> None:
    page.locator(f'input[type=submit][name=apply][value="{label}"]').click()


def expect_event_row(page: Page, action: str, reason: str, who: str, note: str = "") -> None:
    """The newest row of the lead page's journey history."""
    row = page.locator("table.journey-events tr.journey-event").first
    cells = row.locator("td")
    expect(cells.nth(1)).to_have_text(action)
    expect(cells.nth(2)).to_have_text(reason)
    expect(cells.nth(3)).to_have_text(who)
    expect(cells.nth(4)).to_have_text(note)


def run_list_action(page: Page, leads: list[Lead], action: str) -> None:
    """On the lead list: tick `leads`, choose `action`, Go."""
    page.goto(reverse("admin:outreach_lead_changelist"))
    for lead in leads:
        page.locator(f'input.action-select[value="{lead.pk}"]').check()
    page.select_option("select[name=action]", action)
    page.locator("button[name=index]").click()


def test_the_lead_page_lists_the_steps_sent_and_its_controls_pause_resume_stop_reenrol_and_undo(
    admin_login, staff_user
):
    client = ClientFactory(name="Harbour Dental")
    lead = enrolled_with_sent_steps(client, first_name="Mia", last_name="Chen", company_name="Harbour Dental")
    enrollment = open_enrollment(lead)
    planned_before = [number for number, status, _ in statuses(enrollment) if status == "planned"]
    assert planned_before and min(planned_before) == 3
    assert set(would_go(lead)) <= {"send", "defer"} and len(would_go(lead)) == len(planned_before)
    user: User = staff_user("alex", client)
    page = admin_login(user)
    lead_url = reverse("admin:outreach_lead_change", args=[lead.pk])
    page.goto(lead_url)

    # The enrollment, with the two steps that went out and what each said.
    card = page.locator(f"#enrollment-{enrollment.pk}")
    expect(page.locator("section.journey-enrollment")).to_have_count(1)
    expect(card.locator("h3 .outreach-state")).to_have_text("Active")
    sent_rows = card.locator("tr.journey-step.status-sent")
    expect(sent_rows).to_have_count(2)
    for row, (subject, body) in zip(sent_rows.all(), SAID, strict=True):
        expect(row.locator(".snapshot-subject")).to_have_text(subject)
        expect(row.locator("pre.snapshot-body")).to_have_text(body)
        expect(row.locator("td.journey-sent time.lead-time")).to_be_visible()
    expect(card.locator("tr.journey-step.status-planned")).to_have_count(len(planned_before))
    expect(page.locator("table.journey-events")).to_contain_text("No changes recorded yet.")
    assert buttons(page) == ["Pause", "Stop"]
    screenshot(page, "lead_controls_journey")

    # Pause, with a time to resume by itself (typed on the lead's clock) and a note.
    click_control(page, "Pause")
    until = (timezone.now().astimezone(lead_zone(lead)) + timedelta(days=10)).replace(second=0, microsecond=0)
    page.fill("#id_until", until.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_note", "on leave until the 12th")
    submit(page, "Pause")
    expect(page).to_have_url(f"{page.url.split('/admin/')[0]}{lead_url}")
    cancelled = len(planned_before)
    expect(page.locator(".messagelist")).to_contain_text(f"Paused {lead}: {cancelled} unsent step(s) cancelled.")
    expect(card.locator("h3 .outreach-state")).to_have_text("Paused")
    expect(card).to_contain_text("Resumes at")
    expect(card.locator("tr.journey-step.status-planned")).to_have_count(0)
    expect(card.locator("tr.journey-step.status-cancelled")).to_have_count(cancelled)
    expect(card.locator("tr.journey-step.status-cancelled").first).to_contain_text("Cancelled (paused)")
    expect(card.locator("tr.journey-step.status-sent")).to_have_count(2)
    expect_event_row(page, "paused", "paused_by_person", "alex", "on leave until the 12th")
    assert buttons(page) == ["Resume", "Stop"]
    screenshot(page, "lead_controls_paused")
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.resume_at) == ("paused", until)
    assert {(status, reason) for number, status, reason in statuses(enrollment) if number > 2} == {
        ("cancelled", "paused")
    }
    assert would_go(lead) == []  # its planned touches no longer go
    sent = sent_steps(lead)
    assert [number for number, _ in sent] == [1, 2]
    event = last_event(lead)
    assert (event.action, event.reason, event.by, event.note, event.enrollment_id) == (
        "paused",
        "paused_by_person",
        user,
        "on leave until the 12th",
        enrollment.pk,
    )
    assert Lead.objects.get(pk=lead.pk).status == "in_sequence"

    # Resume by hand: active again, the remaining steps planned after the ones that went out.
    click_control(page, "Resume")
    submit(page, "Resume")
    planned = ScheduledTouch.objects.filter(enrollment=enrollment, status="planned")
    expect(page.locator(".messagelist")).to_contain_text(f"Resumed {lead}:")
    expect(page.locator(".messagelist")).to_contain_text("step(s) planned.")
    expect(card.locator("h3 .outreach-state")).to_have_text("Active")
    expect(card).not_to_contain_text("Resumes at")
    expect(card.locator("tr.journey-step.status-sent")).to_have_count(2)
    expect(card.locator("tr.journey-step.status-planned")).to_have_count(planned.count())
    expect_event_row(page, "resumed", "resumed_by_person", "alex")
    assert buttons(page) == ["Pause", "Stop"]
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.resume_at) == ("active", None)
    numbers = sorted(planned.values_list("touch_number", flat=True))
    assert numbers and min(numbers) == 3, numbers  # never a step already sent
    assert sent_steps(lead) == sent  # the steps that went out are kept, with their activities
    assert len(would_go(lead)) == len(numbers) and set(would_go(lead)) <= {"send", "defer"}
    event = last_event(lead)
    assert (event.action, event.by, event.enrollment_id) == ("resumed", user, enrollment.pk)

    # Stop: the enrollment ends and the lead is closed, without do-not-contact.
    click_control(page, "Stop")
    page.fill("#id_note", "the practice was sold")
    submit(page, "Stop")
    expect(page.locator(".messagelist")).to_contain_text(f"Stopped {lead}:")
    expect(page.locator(".messagelist")).to_contain_text("the lead is Closed.")
    expect(card.locator("h3 .outreach-state")).to_have_text("Stopped by a person")
    expect(card.locator("tr.journey-step.status-planned")).to_have_count(0)
    expect_event_row(page, "stopped", "stopped_by_person", "alex", "the practice was sold")
    assert buttons(page) == ["Re-enrol"]
    enrollment.refresh_from_db()
    assert enrollment.state == "stopped" and enrollment.ended_at is not None
    stopped = Lead.objects.get(pk=lead.pk)
    assert (stopped.status, stopped.do_not_contact) == ("closed", False)
    assert would_go(lead) == []
    assert (last_event(lead).action, last_event(lead).by) == ("stopped", user)
    screenshot(page, "lead_controls_stopped")

    # Re-enrol on a sequence chosen on the form.
    click_control(page, "Re-enrol")
    page.get_by_label("These channels, in order").check()
    page.fill("#id_channels", "email > sms")
    page.fill("#id_note", "new owner asked us to write")
    submit(page, "Re-enrol")
    expect(page.locator(".messagelist")).to_contain_text(f"Re-enrolled {lead}: 2 step(s) planned.")
    assert Enrollment.objects.filter(lead=lead).count() == 2
    new = open_enrollment(lead)
    expect(page.locator("section.journey-enrollment")).to_have_count(2)
    new_card = page.locator("section.journey-enrollment").first
    expect(new_card).to_have_id(f"enrollment-{new.pk}")
    expect(new_card.locator("h3")).to_contain_text("email>sms")
    expect(new_card.locator("h3 .outreach-state")).to_have_text("Active")
    expect(new_card.locator("tr.journey-step.status-planned")).to_have_count(2)
    expect(card.locator("h3 .outreach-state")).to_have_text("Stopped by a person")
    expect_event_row(page, "reenrolled", "chosen_sequence", "alex", "new owner asked us to write")
    assert buttons(page) == ["Pause", "Stop"]
    assert (new.state, new.planned_sequence) == ("active", "email>sms")
    assert [(n, status) for n, status, _ in statuses(new)] == [(1, "planned"), (2, "planned")]
    assert Lead.objects.get(pk=lead.pk).status in ("new", "in_sequence")
    event = last_event(lead)
    assert (event.action, event.reason, event.by, event.enrollment_id) == (
        "reenrolled",
        "chosen_sequence",
        user,
        new.pk,
    )
    screenshot(page, "lead_controls_reenrolled")

    # Do-not-contact, marked from the list; then undone on the lead's page, with the reason.
    run_list_action(page, [lead], "mark_do_not_contact")
    expect(page.locator(".messagelist")).to_contain_text("Marked 1 lead(s) do-not-contact; cancelled 2 planned")
    assert Lead.objects.get(pk=lead.pk).do_not_contact
    assert open_enrollment(lead).state == "opted_out"
    page.goto(lead_url)
    assert buttons(page) == ["Re-enrol", "Undo do-not-contact"]
    click_control(page, "Undo do-not-contact")
    # The reason is required: the browser will not submit without one, and the server refuses blanks.
    submit(page, "Undo do-not-contact")
    expect(page.locator("body.journey-action-form")).to_be_visible()
    assert page.locator("#id_reason").evaluate("field => field.validity.valueMissing")
    page.fill("#id_reason", "   ")
    submit(page, "Undo do-not-contact")
    expect(page.locator(".errorlist")).to_contain_text("This field is required.")
    assert Lead.objects.get(pk=lead.pk).do_not_contact
    assert not JourneyEvent.objects.filter(lead=lead, action="do_not_contact_undone").exists()
    page.fill("#id_reason", "asked to hear from us by email")
    submit(page, "Undo do-not-contact")
    expect(page.locator(".messagelist")).to_contain_text(f"{lead} may be contacted again. It was not re-enrolled")
    expect_event_row(page, "do_not_contact_undone", "asked to hear from us by email", "alex")
    assert buttons(page) == ["Re-enrol"]
    undone = Lead.objects.get(pk=lead.pk)
    assert not undone.do_not_contact
    assert not Enrollment.objects.filter(lead=lead, state__in=("active", "paused")).exists()  # not re-enrolled
    assert would_go(lead) == []
    event = last_event(lead)
    assert (event.action, event.reason, event.by) == ("do_not_contact_undone", "asked to hear from us by email", user)
    assert list(JourneyEvent.objects.filter(lead=lead).order_by("at", "pk").values_list("action", "by__username")) == [
        ("paused", "alex"),
        ("resumed", "alex"),
        ("stopped", "alex"),
        ("reenrolled", "alex"),
        ("do_not_contact_set", "alex"),
        ("do_not_contact_undone", "alex"),
    ]
    screenshot(page, "lead_controls_undo_do_not_contact")


def test_pause_resume_and_reenrol_from_the_lead_list(admin_login, staff_user):
    client = ClientFactory(name="Harbour Dental")
    mia = enrolled_with_sent_steps(client, first_name="Mia", last_name="Chen")
    never = LeadFactory.create(client=client, first_name="Noah", last_name="Brown")  # never enrolled
    user: User = staff_user("alex", client)
    page = admin_login(user)
    enrollment = open_enrollment(mia)
    unsent = len([1 for _, status, _ in statuses(enrollment) if status == "planned"])

    # Pause both: each lead is reported, done or why not.
    run_list_action(page, [mia, never], "journey_pause")
    messages = page.locator(".messagelist")
    expect(messages).to_contain_text(f"Paused {mia}: {unsent} unsent step(s) cancelled.")
    expect(messages).to_contain_text(f"Pause: not done for {never}")
    expect(messages.locator("li.error")).to_contain_text("re-enrol it to start one")
    row = page.locator("#result_list tbody tr", has=page.locator(f'input.action-select[value="{mia.pk}"]'))
    expect(row.locator("td.field-next_touch")).to_have_text("-")  # nothing planned any more
    screenshot(page, "lead_list_paused")
    enrollment.refresh_from_db()
    assert enrollment.state == "paused"
    assert would_go(mia) == []
    assert [number for number, _ in sent_steps(mia)] == [1, 2]
    event = last_event(mia)
    assert (event.action, event.reason, event.by, event.enrollment_id) == (
        "paused",
        "paused_by_person",
        user,
        enrollment.pk,
    )
    assert not JourneyEvent.objects.filter(lead=never).exists()
    assert not Enrollment.objects.filter(lead=never).exists()

    # Resume from the list: planned again after the steps that went out.
    run_list_action(page, [mia], "journey_resume")
    expect(page.locator(".messagelist")).to_contain_text(f"Resumed {mia}:")
    expect(row.locator("td.field-next_touch time.lead-time")).to_be_visible()
    enrollment.refresh_from_db()
    assert enrollment.state == "active"
    numbers = list(
        ScheduledTouch.objects.filter(enrollment=enrollment, status="planned").values_list("touch_number", flat=True)
    )
    assert numbers and min(numbers) == 3
    assert (last_event(mia).action, last_event(mia).by) == ("resumed", user)

    # Re-enrol from the list asks for the sequence first, on an intermediate page.
    run_list_action(page, [never], "journey_reenroll")
    expect(page.locator("body.journey-action-form")).to_be_visible()
    expect(page.locator("ul.journey-leads")).to_contain_text(str(never))
    page.get_by_label("These channels, in order").check()
    page.fill("#id_channels", "email")
    submit(page, "Re-enrol")
    expect(page.locator(".messagelist")).to_contain_text(f"Re-enrolled {never}: 1 step(s) planned.")
    new = open_enrollment(never)
    assert (new.state, new.planned_sequence) == ("active", "email")
    event = last_event(never)
    assert (event.action, event.reason, event.by) == ("reenrolled", "chosen_sequence", user)
