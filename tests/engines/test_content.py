"""Content extraction: the spec's own tests, then whole-word matching case by case."""

import unicodedata
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.rules import content
from engines.rules.content import (
    CTA_PATTERNS,
    PAIN_POINT_KEYWORDS,
    PERSONALIZATION_FLAGS,
    build_content_snapshot,
    detect_personalization,
    extract_cta,
    extract_pain_points,
)


def MockLead(**fields):
    return SimpleNamespace(**{"first_name": None, "company_name": None, "industry": None, **fields})


# --- SPEC-16E.md "Testing" ------------------------------------------------------------------


def test_extract_pain_points():
    assert "leads" in extract_pain_points("Struggling to generate enough qualified leads for your pipeline?")


def test_extract_multiple_pain_points():
    result = extract_pain_points("Save time and generate more revenue with automation")
    assert "time" in result
    assert "revenue" in result


def test_extract_cta():
    assert extract_cta("Would you be open to a quick chat next week?") == "open to a quick chat"


def test_detect_personalization():
    lead = MockLead(company_name="Acme Corp", first_name="John", industry="Dental")
    result = detect_personalization("Hi John, I noticed Acme Corp is growing rapidly in the Dental space", lead)
    assert result["has_company_mention"] is True
    assert result["has_first_name"] is True
    assert result["has_recent_news"] is True
    assert result["has_industry_specific"] is True


def test_build_content_snapshot():
    lead = MockLead(company_name="Test Co", first_name="Jane")
    snapshot = build_content_snapshot(
        body="Hi Jane, quick question about Test Co",
        lead=lead,
        subject="Quick question",
        touch_number=2,
        channel="email",
    )
    assert snapshot["subject"] == "Quick question"
    assert snapshot["touch_number"] == 2
    assert snapshot["has_company_mention"] is True
    assert snapshot["has_first_name"] is True
    assert "sent_at" in snapshot


# --- vocabularies ---------------------------------------------------------------------------


def test_the_fuller_vocabularies_of_section_7():
    assert "tedious" in PAIN_POINT_KEYWORDS["time"]
    assert "growing" in PAIN_POINT_KEYWORDS["scaling"]
    assert "threat" in PAIN_POINT_KEYWORDS["competition"]
    assert "investment" in PAIN_POINT_KEYWORDS["cost"]
    assert "testimonials" in PAIN_POINT_KEYWORDS["clients"]
    assert CTA_PATTERNS[-1] == "coffee chat"
    assert detect_personalization("I read about your launch", MockLead())["has_recent_news"]
    assert detect_personalization("Sam introduced us", MockLead())["has_mutual_connection"]


@pytest.mark.parametrize("category, keywords", PAIN_POINT_KEYWORDS.items())
def test_every_keyword_finds_its_category(category, keywords):
    for keyword in keywords:
        assert category in extract_pain_points(f"About {keyword}, briefly."), keyword


@pytest.mark.parametrize("cta", CTA_PATTERNS)
def test_every_cta_is_found(cta):
    assert extract_cta(f"Anyway. {cta.capitalize()} Best, Sam") == cta


@pytest.mark.parametrize("category, keywords", PAIN_POINT_KEYWORDS.items())
def test_every_keyword_finds_only_its_category(category, keywords):
    for keyword in keywords:
        assert extract_pain_points(f"About {keyword}, briefly.") == [category], keyword


def test_each_keyword_and_its_inflections_belong_to_one_category():
    spellings = [set().union(*map(content._inflections, words)) for words in PAIN_POINT_KEYWORDS.values()]
    for i, mine in enumerate(spellings):
        for other in spellings[i + 1 :]:
            assert not mine & other


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Feel free to book a time here.", []),
        ("Can I book a time? Manual booking eats your time.", ["time"]),  # the complaint still counts
        ("Happy to share how we lift revenue.", ["revenue"]),
        ("Thoughts? Your team is busy.", ["time", "scaling"]),
    ],
)
def test_the_words_of_a_call_to_action_are_not_pain_points(text, expected):
    assert extract_pain_points(text) == expected
    assert build_content_snapshot(text, MockLead())["pain_points_used"] == expected


def test_pain_points_come_in_vocabulary_order_each_once():
    text = "Clients, clients, customers. Better results. Our budget. More leads and a bigger pipeline."
    assert extract_pain_points(text) == ["leads", "cost", "quality", "clients"]


def test_the_first_cta_is_the_first_of_the_list_not_of_the_text():
    assert extract_cta("Let me know. Or are you open to a quick chat?") == "open to a quick chat"


# --- whole words ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, absent",
    [
        ("We won't stop", "revenue"),  # "won't" is not "won"
        ("We won’t stop", "revenue"),  # curly apostrophe too
        ("Sometimes it rains", "time"),  # "sometimes" is not "time"
        ("Our office in Costa Rica", "cost"),  # "Costa" is not "cost"
        ("A teammate of mine", "scaling"),  # "teammate" is not "team"
        ("Scalability matters", "scaling"),
        ("It was closedown day", "revenue"),
        ("The sqlite file", "leads"),
        ("Behindhand and unbehind", "competition"),
    ],
)
def test_a_keyword_inside_another_word_does_not_count(text, absent):
    assert absent not in extract_pain_points(text)


@pytest.mark.parametrize(
    "text, present",
    [
        ("Your pipelines are full", "leads"),  # plural of "pipeline"
        ("One more customer", "clients"),  # singular of "customers"
        ("Every opportunity counts", "leads"),  # "opportunities" -> "opportunity"
        ("The TEAM is BUSY", "time"),
        ("Our clients' feedback", "clients"),  # plural possessive
        ("The team’s bandwidth", "scaling"),  # curly possessive
        ("Losing market-share fast", "competition"),  # a phrase across a hyphen
        ("You are catching up", "competition"),
        ("A real threat.", "competition"),
        ("‘Pipeline’ is the word", "leads"),  # typographic quotes around a keyword
    ],
)
def test_whole_words_plurals_and_possessives_count(text, present):
    assert present in extract_pain_points(text)


def test_a_phrase_needs_all_its_words_in_order():
    assert "competition" not in extract_pain_points("The market will share it")
    assert extract_cta("Book some time") is None
    assert extract_cta("We offer free audits") == "free audit"  # the last word is inflected
    assert extract_cta("Time to book. A time") is None


def test_a_cta_with_punctuation_needs_it():
    assert extract_cta("Any thoughts?") == "thoughts?"
    assert extract_cta("Any thoughts ?") == "thoughts?"
    assert extract_cta("My thoughts are these.") is None
    assert extract_cta("Afterthoughts?") is None


@pytest.mark.parametrize(
    "lead, text, flag, expected",
    [
        (MockLead(industry="Dental"), "It was accidental", "has_industry_specific", False),
        (MockLead(industry="Dental"), "Most DENTAL practices", "has_industry_specific", True),
        (MockLead(industry="Dentist"), "Dentists like you", "has_industry_specific", True),
        (MockLead(industry="Real Estate"), "We help real estate agents", "has_industry_specific", True),
        (MockLead(industry="Real Estate"), "A real problem for your estate", "has_industry_specific", False),
        (MockLead(first_name="Al"), "I really liked it", "has_first_name", False),
        (MockLead(first_name="Al"), "Hi Al,", "has_first_name", True),
        (MockLead(first_name="Al"), "Ales all round", "has_first_name", False),
        (MockLead(first_name="Seán"), "Hi SEÁN", "has_first_name", True),
        (MockLead(first_name="Zoë"), "Hi Zoe\u0308!", "has_first_name", True),  # decomposed diaeresis
        (MockLead(first_name="O'Brien"), "Dear O’Brien", "has_first_name", True),
        (MockLead(company_name="Acme"), "How Acme's team grew", "has_company_mention", True),
        (MockLead(company_name="Acme"), "Acmeville is nice", "has_company_mention", False),
        (MockLead(company_name="Acme Pty Ltd"), "I noticed Acme is hiring", "has_company_mention", True),
        (MockLead(company_name="Acme Corp"), "Acme Corp grew", "has_company_mention", True),
        (
            MockLead(company_name="Southern Cross Logistics"),
            "Southern Cross Logistics grew",
            "has_company_mention",
            True,
        ),
        (
            MockLead(company_name="Southern Cross Logistics"),
            "The Southern Cross is bright",
            "has_company_mention",
            False,
        ),
        (MockLead(company_name="The Co"), "The team", "has_company_mention", False),
        (MockLead(company_name="Straße Holding"), "STRASSE HOLDING", "has_company_mention", True),
    ],
)
def test_names_companies_and_industries_match_as_whole_words(lead, text, flag, expected):
    assert detect_personalization(text, lead)[flag] is expected


@pytest.mark.parametrize(
    "text, flag, expected",
    [
        ("Just saw your post", "has_recent_news", True),
        ("Sawdust everywhere", "has_recent_news", False),
        ("Congratulations on the raise", "has_recent_news", True),
        ("We share mutual friends", "has_mutual_connection", True),
        ("Two connections in common", "has_mutual_connection", True),
        ("Disconnection is bad", "has_mutual_connection", False),
        ("We were introduced at the expo", "has_mutual_connection", True),
    ],
)
def test_news_and_connection_words(text, flag, expected):
    assert detect_personalization(text, MockLead())[flag] is expected


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", "   ", 42, b"pipeline"])
def test_missing_text_gives_empty_results(text):
    assert extract_pain_points(text) == []
    assert extract_cta(text) is None
    assert detect_personalization(text, MockLead(first_name="Al")) == dict.fromkeys(PERSONALIZATION_FLAGS, False)


@pytest.mark.parametrize("lead", [None, object(), MockLead(), MockLead(first_name="", company_name="  ", industry=7)])
def test_missing_lead_attributes_give_false_flags(lead):
    flags = detect_personalization("Hi there, I noticed your growth", lead)
    assert flags["has_recent_news"] is True
    assert not (flags["has_first_name"] or flags["has_company_mention"] or flags["has_industry_specific"])


def test_a_snapshot_of_nothing_is_empty_not_an_error():
    snapshot = build_content_snapshot(None, None)
    assert (snapshot["body"], snapshot["word_count"], snapshot["char_count"]) == ("", 0, 0)
    assert (snapshot["pain_points_used"], snapshot["cta_used"]) == ([], None)
    assert "subject" not in snapshot


# --- the snapshot ---------------------------------------------------------------------------


def test_snapshot_fields():
    sequence_id = uuid.uuid4()
    lead = MockLead(first_name="Jane", timezone="Australia/Sydney")
    at = datetime(2026, 1, 14, 23, 15, tzinfo=UTC)  # Thursday 10:15 in Sydney

    snapshot = build_content_snapshot(
        "Hi Jane, worth a conversation about your pipeline?",
        lead,
        subject="Pipeline",
        touch_number=3,
        sequence_id=sequence_id,
        channel="sms",
        sent_at=at,
    )

    assert snapshot["channel"] == "sms"
    assert (snapshot["word_count"], snapshot["char_count"]) == (8, 50)
    assert (snapshot["subject"], snapshot["subject_word_count"]) == ("Pipeline", 1)
    assert (snapshot["touch_number"], snapshot["sequence_id"]) == (3, str(sequence_id))
    assert snapshot["sent_at"] == "2026-01-14T23:15:00+00:00"
    assert snapshot["local_time"] == "2026-01-15T10:15:00+11:00"
    assert (snapshot["timezone"], snapshot["day_of_week"], snapshot["day_index"], snapshot["hour_of_day"]) == (
        "Australia/Sydney",
        "Thursday",
        3,
        10,
    )
    assert (snapshot["pain_points_used"], snapshot["cta_used"], snapshot["has_first_name"]) == (
        ["leads"],
        "worth a conversation",
        True,
    )


@pytest.mark.parametrize(
    "zone, day, hour",
    [("Australia/Sydney", "Thursday", 11), ("Australia/Perth", "Thursday", 8), ("America/New_York", "Wednesday", 19)],
)
def test_day_and_hour_are_the_leads_local_ones(zone, day, hour):
    at = datetime(2026, 1, 15, 0, 0, tzinfo=UTC)
    snapshot = build_content_snapshot("Hello", MockLead(timezone=zone), sent_at=at)
    assert snapshot["sent_at"] == "2026-01-15T00:00:00+00:00"
    assert (snapshot["day_of_week"], snapshot["hour_of_day"]) == (day, hour)


def test_a_naive_time_is_refused_rather_than_guessed():
    with pytest.raises(ValueError, match="aware"):
        build_content_snapshot("Hello", MockLead(), sent_at=datetime(2026, 1, 15, 9, 0))


def test_without_a_clock_the_snapshot_is_stamped_now_in_utc():
    before = datetime.now(UTC)
    sent_at = datetime.fromisoformat(build_content_snapshot("Hello", MockLead())["sent_at"])
    assert sent_at.utcoffset().total_seconds() == 0
    assert before <= sent_at <= datetime.now(UTC)


# --- the fast path splits exactly as the regular expression does ------------------------------


@given(st.text(alphabet=st.sampled_from(list("abcAB z_0'’‘-.,;!?\n\t\xa0—…éÉßǰĲж😀€•\u0301")), max_size=60))
def test_the_fast_word_split_agrees_with_the_regular_expression(text):
    normalized = content._normalize(text)
    assert content._split(normalized) == content._split_slowly(normalized)
    assert normalized == unicodedata.normalize("NFC", normalized)
