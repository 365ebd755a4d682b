"""The reply-intent classifier against the labelled corpus: a confusion matrix with the bars that matter (an
unsubscribe is never read into a reply that is not one; nearly every unsubscribe and interested reply is
found), and the rules read alone: cleaning, channels, negations, dates."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

import pytest

from engines.services.outcomes.intent import ReplyIntent, clean_reply, later_date, read_reply
from tests.engines.outcomes.reply_corpus import CORPUS, Case

AT = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)  # a Monday
LABELS = [intent.value for intent in ReplyIntent]


def read(case: Case) -> tuple[str, str]:
    reading = read_reply(case.text, at=AT, channel=case.channel)
    return reading.intent.value, ",".join(sorted(reading.stop_channels))


def confusion(results: list[tuple[Case, str, str]]) -> str:
    counts = Counter((case.label, got) for case, got, _ in results)
    width = max(len(label) for label in LABELS) + 2
    lines = ["truth \\ read".ljust(width) + "".join(label[:9].rjust(10) for label in LABELS) + "  accuracy"]
    for truth in LABELS:
        total = sum(counts[truth, got] for got in LABELS)
        accuracy = f"{counts[truth, truth] / total:.0%}" if total else "-"
        cells = "".join(str(counts[truth, got]).rjust(10) for got in LABELS)
        lines.append(truth.ljust(width) + cells + accuracy.rjust(10))
    wrong = [f"  {case.label} read {got}: {case.text[:90]!r}" for case, got, _ in results if got != case.label]
    return "\n".join([*lines, "misread:", *wrong])


def test_the_corpus_is_large_and_labelled_with_known_categories():
    assert len(CORPUS) >= 300
    assert {case.label for case in CORPUS} == set(LABELS)
    assert all(case.stops for case in CORPUS if case.label == "channel_preference")


def test_confusion_matrix_over_the_corpus():
    results = [(case, *read(case)) for case in CORPUS]
    report = confusion(results)
    print(report)
    read_unsubscribe = [case for case, got, _ in results if got == "unsubscribe"]
    false_unsubscribes = [case for case in read_unsubscribe if case.label != "unsubscribe"]
    unsubscribes = [case for case in CORPUS if case.label == "unsubscribe"]
    found_unsubscribes = [case for case, got, _ in results if case.label == got == "unsubscribe"]
    interested = [case for case in CORPUS if case.label == "interested"]
    found_interested = [case for case, got, _ in results if case.label == got == "interested"]
    assert not false_unsubscribes, report  # precision 100%: never unsubscribe what is not an unsubscribe
    assert len(found_unsubscribes) / len(unsubscribes) >= 0.95, report
    assert len(found_interested) / len(interested) >= 0.90, report


def test_the_channels_to_stop_are_read_in_every_reply_that_names_them():
    wrong = [
        f"{case.text[:80]!r}: {stops or '-'} instead of {case.stops or '-'}"
        for case in CORPUS
        if case.label in {"interested", "not_interested", "channel_preference"}
        for got, stops in [read(case)]
        if got == case.label and stops != ",".join(sorted(filter(None, case.stops.split(","))))
    ]
    assert not wrong, "\n".join(wrong)


def test_the_two_replies_of_issue_20():
    email = read_reply("yes - interested. Don't call my mobile, email is best", at=AT, channel="email")
    assert (email.intent, email.stop_channels) == (ReplyIntent.INTERESTED, {"voice"})
    sms = read_reply("Yes interested! Don't call, text me a time", at=AT, channel="sms")
    assert (sms.intent, sms.stop_channels) == (ReplyIntent.INTERESTED, {"voice"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes please\n\nOn Tue, 3 Nov 2026 at 10:00, Alex <a@x.com> wrote:\n> unsubscribe", "Yes please"),
        ("Yes please\nOn Tue, 3 Nov 2026 at 10:00, Alex Reed <a@x.com>\nwrote:\n> unsubscribe", "Yes please"),
        ("Yes please\n> unsubscribe", "Yes please"),
        ("Yes please\n-----Original Message-----\nunsubscribe", "Yes please"),
        ("Yes please\nFrom: Alex <a@x.com>\nSent: Monday\nunsubscribe", "Yes please"),
        ("Yes please\n--\nPat | reply STOP to opt out", "Yes please"),
        ("Yes please\n\nSent from my iPhone", "Yes please"),
        ("Yes please\n\nKind regards,\nPat\nStop Street 4", "Yes please"),
        ("Sí\n\nEl mar, 3 nov 2026 a las 10:00, Alex <a@x.com> escribió:\n> baja", "Sí"),
        ("Thanks", "Thanks"),
        ("See https://example.com/unsubscribe-guide", "See"),
    ],
)
def test_quoted_history_signatures_and_links_are_cut(text, expected):
    assert clean_reply(text) == expected


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("not interested", ReplyIntent.NOT_INTERESTED),
        ("interested", ReplyIntent.INTERESTED),
        ("Don't stop emailing me", ReplyIntent.UNKNOWN),
        ("Please don't unsubscribe me", ReplyIntent.UNKNOWN),
        ("No me interesa", ReplyIntent.NOT_INTERESTED),
        ("Me interesa", ReplyIntent.INTERESTED),
        ("Kein Interesse", ReplyIntent.NOT_INTERESTED),
        ("Yes, unsubscribe me", ReplyIntent.UNSUBSCRIBE),
    ],
)
def test_negations_are_read(text, intent):
    assert read_reply(text, at=AT).intent == intent


def test_messages_names_the_channel_the_reply_came_on():
    assert read_reply("Stop messaging me", at=AT, channel="sms").stop_channels == {"sms"}
    assert read_reply("Stop messaging me", at=AT, channel="email").stop_channels == {"email"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("next quarter", date(2027, 1, 1)),
        ("after 15 March", date(2027, 3, 15)),
        ("after March 15th", date(2027, 3, 15)),
        ("in two weeks", date(2026, 12, 21)),
        ("in 3 days", date(2026, 12, 10)),
        ("in a few months", date(2027, 3, 7)),
        ("try me in June", date(2027, 6, 1)),
        ("next week", date(2026, 12, 14)),
        ("next month", date(2027, 1, 1)),
        ("next year", date(2027, 1, 1)),
        ("after the holidays", date(2027, 1, 1)),
        ("later", None),
    ],
)
def test_a_later_reply_names_a_date_relative_to_when_it_was_sent(text, expected):
    assert later_date(text, AT) == expected


def test_a_later_reply_carries_its_date():
    reading = read_reply("Not now - circle back in two weeks", at=AT)
    assert (reading.intent, reading.later) == (ReplyIntent.LATER, date(2026, 12, 21))
