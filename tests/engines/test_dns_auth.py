"""SPF, DKIM and DMARC records judged from their text (engines.rules.dns_auth), on records as real domains publish
them: Google Workspace, Microsoft 365, Postmark, SendGrid, revoked and malformed ones."""

from __future__ import annotations

import pytest

from engines.rules.dns_auth import (
    dmarc_names,
    is_dkim_selector,
    is_domain_name,
    judge_dkim,
    judge_dmarc,
    judge_spf,
    lookup_failed,
    sending_domain,
    tags,
)
from outreach.models import AuthStatus
from tests.engines.providers.fake_dns import ED25519, RSA_512, RSA_1024, RSA_2048

PASS, WARN, FAIL = AuthStatus.PASS, AuthStatus.WARN, AuthStatus.FAIL
GOOGLE_SPF = "v=spf1 include:_spf.google.com ~all"
MICROSOFT_SPF = "v=spf1 include:spf.protection.outlook.com -all"


# --- SPF


@pytest.mark.parametrize(
    "record",
    [
        GOOGLE_SPF,
        MICROSOFT_SPF,
        "v=spf1 ip4:203.0.113.0/24 ip6:2001:db8::/32 include:sendgrid.net include:mailgun.org mx a:mail.acme.com -all",
        "V=SPF1 Include:_spf.google.com ~ALL",  # case does not matter (RFC 7208 4.6.1)
        "v=spf1 include:_spf.google.com a/24 mx:acme.com/24//64 exists:%{i}._spf.acme.com ptr ~all",
        "v=spf1 redirect=_spf.acme.com",  # the policy is the redirect target's
        "v=spf1 include:_spf.google.com ~all exp=explain._spf.acme.com x-custom=kept",  # modifiers are fine
    ],
)
def test_a_valid_spf_record_passes(record):
    result = judge_spf("acme.com", ["google-site-verification=abc", record])
    assert (result.status, result.record) == (PASS, record), result.message
    assert result.passed


def test_google_workspace_spf_says_what_it_found():
    result = judge_spf("acme.com", [GOOGLE_SPF])
    assert result.message == "SPF record found at acme.com (ends with `~all`)."


def test_no_spf_record_fails_and_says_what_to_publish():
    result = judge_spf("acme.com", ["google-site-verification=abc", "v=spf10 not spf", "MS=ms12345"])
    assert (result.status, result.record) == (FAIL, "")
    assert "No SPF record at acme.com" in result.message
    assert "v=spf1 include:" in result.message and "include:_spf.google.com" in result.message


def test_two_spf_records_fail_and_are_both_shown():
    result = judge_spf("acme.com", [MICROSOFT_SPF, GOOGLE_SPF])
    assert result.status == FAIL
    assert result.record == f"{MICROSOFT_SPF}\n{GOOGLE_SPF}"
    assert "2 SPF records at acme.com" in result.message and "Merge them into one" in result.message


@pytest.mark.parametrize(
    ("record", "named"),
    [
        ("v=spf1 include ~all", "'include'"),
        ("v=spf1 include: ~all", "'include:'"),
        ("v=spf1 ip4:300.1.2.3 ~all", "'ip4:300.1.2.3'"),
        ("v=spf1 ip4:2001:db8::1 ~all", "'ip4:2001:db8::1'"),  # an IPv6 address under ip4
        ("v=spf1 ip6 ~all", "'ip6'"),
        ("v=spf1 include:_spf.google.com ~all:x", "'~all:x'"),
        ("v=spf1 inclde:_spf.google.com ~all", "'inclde:_spf.google.com'"),
        ("v=spf1 redirect= ~all", "'redirect='"),
        ("v=spf1 *all", "'*all'"),
    ],
)
def test_a_malformed_spf_record_fails_naming_the_bad_term(record, named):
    result = judge_spf("acme.com", [record])
    assert (result.status, result.record) == (FAIL, record)
    assert "malformed" in result.message and named in result.message


def test_more_than_ten_lookups_fail():
    includes = " ".join(f"include:spf{i}.example.net" for i in range(9))
    assert judge_spf("acme.com", [f"v=spf1 {includes} mx ~all"]).status == PASS  # 10 exactly
    result = judge_spf("acme.com", [f"v=spf1 {includes} mx a ~all"])
    assert result.status == FAIL
    assert "11 DNS lookups" in result.message and "more than the 10 allowed" in result.message


@pytest.mark.parametrize("ending", ["+all", "all"])
def test_an_spf_record_letting_everyone_send_fails(ending):
    result = judge_spf("acme.com", [f"v=spf1 include:_spf.google.com {ending}"])
    assert result.status == FAIL
    assert f"ends with `{ending}`" in result.message and "every server on the internet" in result.message


def test_neutral_or_missing_all_is_a_warning_that_still_passes():
    neutral = judge_spf("acme.com", ["v=spf1 include:_spf.google.com ?all"])
    missing = judge_spf("acme.com", ["v=spf1 include:_spf.google.com"])
    assert neutral.status == missing.status == WARN
    assert neutral.passed and missing.passed
    assert "Replace `?all` with `~all`" in neutral.message
    assert "does not end with `~all` or `-all`" in missing.message


# --- DKIM


def test_postmark_key_without_a_version_passes():
    # Postmark publishes `k=rsa; p=...` with no v=, which RFC 6376 allows (v defaults to DKIM1).
    record = f"k=rsa; p={RSA_1024}"
    result = judge_dkim("acme.com", {"20240101pm": [record]}, selectors_given=True)
    assert (result.status, result.record) == (PASS, record)
    assert result.message == "DKIM key found at 20240101pm._domainkey.acme.com."


@pytest.mark.parametrize(
    "record",
    [
        f"v=DKIM1; k=rsa; p={RSA_2048}",
        f"v=DKIM1; k=rsa;\tp={RSA_2048[:100]} {RSA_2048[100:]};",  # whitespace inside p= is allowed
        f"v=DKIM1; k=ed25519; p={ED25519}",
        f"v=DKIM1; h=sha256; k=rsa; s=email; t=s; p={RSA_1024}",
    ],
)
def test_valid_dkim_keys_pass(record):
    assert judge_dkim("acme.com", {"google": [record]}, selectors_given=True).status == PASS


def test_a_revoked_key_fails_and_says_so():
    result = judge_dkim("acme.com", {"s1": ["v=DKIM1; p="]}, selectors_given=True)
    assert (result.status, result.record) == (FAIL, "v=DKIM1; p=")
    assert "s1._domainkey.acme.com is revoked (empty `p=`)" in result.message


@pytest.mark.parametrize(
    ("record", "says"),
    [
        (f"v=DKIM1; k=rsa; p={RSA_1024[:-7]}", "not valid base64"),  # cut short when pasted
        (f"v=DKIM1; k=rsa; p={RSA_512}", "shorter than 1024 bits"),
        (f"v=DKIM2; k=rsa; p={RSA_1024}", "v=DKIM2 is not v=DKIM1"),
        ("v=DKIM1; k=rsa", "no `p=` public key"),
        (f"v=DKIM1; k=dsa; p={RSA_1024}", "unknown type k=dsa"),
        (f"v=DKIM1; p={RSA_1024}; p={RSA_2048}", "not a list of `tag=value;` pairs"),
        ("this is not a key", "not a list of `tag=value;` pairs"),
    ],
)
def test_a_broken_dkim_key_fails_saying_what_is_wrong(record, says):
    result = judge_dkim("acme.com", {"k1": [record]}, selectors_given=True)
    assert result.status == FAIL
    assert says in result.message


def test_a_key_in_test_mode_is_a_warning():
    result = judge_dkim("acme.com", {"s1": [f"v=DKIM1; t=y; k=rsa; p={RSA_2048}"]}, selectors_given=True)
    assert result.status == WARN and result.passed
    assert "test mode (t=y)" in result.message


def test_two_keys_at_one_selector_fail():
    result = judge_dkim("acme.com", {"s1": [f"p={RSA_1024}", f"p={RSA_2048}"]}, selectors_given=True)
    assert result.status == FAIL and "2 TXT records at s1._domainkey.acme.com" in result.message


def test_the_first_valid_key_among_guessed_selectors_wins():
    found = {"default": [], "google": ["v=DKIM1; p="], "s1": [f"v=DKIM1; p={RSA_2048}"], "k1": []}
    result = judge_dkim("acme.com", found, selectors_given=False)
    assert result.status == PASS and "s1._domainkey.acme.com" in result.message


def test_when_no_guessed_selector_holds_a_valid_key_the_first_problem_is_told():
    found = {"default": [], "google": ["v=DKIM1; p="], "s1": [f"p={RSA_512}"]}
    result = judge_dkim("acme.com", found, selectors_given=False)
    assert result.status == FAIL and "google._domainkey.acme.com is revoked" in result.message


def test_a_wildcard_record_at_a_guessed_selector_is_not_a_key():
    # A domain with a wildcard TXT record answers every name, selectors included.
    found = {"default": [GOOGLE_SPF], "google": [GOOGLE_SPF]}
    result = judge_dkim("acme.com", found, selectors_given=False)
    assert (result.status, result.record) == (FAIL, "")
    assert "No DKIM key found for acme.com at the selectors tried (default, google)" in result.message
    assert "set the client's DKIM selector" in result.message


def test_at_the_clients_own_selector_any_record_is_judged_as_its_key():
    result = judge_dkim("acme.com", {"mail": ["google-site-verification=abc"]}, selectors_given=True)
    assert result.status == FAIL and result.record == "google-site-verification=abc"
    assert "no `p=` public key: this is not a DKIM key" in result.message


def test_no_key_at_the_clients_own_selector_says_to_publish_it():
    result = judge_dkim("acme.com", {"mail": []}, selectors_given=True)
    assert result.status == FAIL
    assert "(mail): publish the DKIM key your ESP gives you" in result.message


# --- DMARC


def test_dmarc_p_none_passes_and_says_what_next():
    record = "v=DMARC1; p=none; rua=mailto:dmarc@acme.com"
    result = judge_dmarc("acme.com", [record], found_at="_dmarc.acme.com")
    assert (result.status, result.record) == (PASS, record)
    assert "policy none: it meets the Gmail and Yahoo minimum" in result.message
    assert "move to p=quarantine" in result.message and "rua=" not in result.message


def test_dmarc_p_none_without_reports_asks_for_them():
    result = judge_dmarc("acme.com", ["v=DMARC1; p=none"], found_at="_dmarc.acme.com")
    assert result.status == PASS and "Add `rua=mailto:...`" in result.message


@pytest.mark.parametrize("policy", ["reject", "quarantine", "REJECT"])
def test_dmarc_enforcing_policies_pass(policy):
    record = f"v=DMARC1; p={policy}; sp=reject; adkim=s; aspf=r; pct=100; rua=mailto:d@acme.com"
    result = judge_dmarc("acme.com", ["some other record", record], found_at="_dmarc.acme.com")
    assert result.status == PASS
    assert result.message == f"DMARC record found at _dmarc.acme.com, policy {policy.lower()}."


def test_no_dmarc_record_fails_and_says_what_to_publish():
    # A record must start with v=DMARC1 (RFC 7489 6.6.3); one that does not is no DMARC record.
    result = judge_dmarc("acme.com", ["p=reject; v=DMARC1"], found_at="_dmarc.acme.com")
    assert (result.status, result.record) == (FAIL, "")
    assert "No DMARC record at _dmarc.acme.com" in result.message
    assert "v=DMARC1; p=none; rua=mailto:dmarc-reports@acme.com" in result.message


def test_two_dmarc_records_fail():
    result = judge_dmarc("acme.com", ["v=DMARC1; p=none", "v=DMARC1; p=reject"], found_at="_dmarc.acme.com")
    assert result.status == FAIL and "2 DMARC records at _dmarc.acme.com" in result.message


@pytest.mark.parametrize(
    ("record", "says"),
    [
        ("v=DMARC1; rua=mailto:d@acme.com", "it has no `p=` policy"),
        ("v=DMARC1; p=monitor", "`p=monitor` is not a policy"),
        ("v=DMARC1; p", "not a list of `tag=value;` pairs"),
    ],
)
def test_a_dmarc_record_without_a_valid_policy_fails(record, says):
    result = judge_dmarc("acme.com", [record], found_at="_dmarc.acme.com")
    assert (result.status, result.record) == (FAIL, record)
    assert says in result.message


def test_a_subdomain_takes_its_organizations_subdomain_policy():
    record = "v=DMARC1; p=reject; sp=quarantine"
    result = judge_dmarc("mail.acme.com", [record], found_at="_dmarc.acme.com")
    assert result.status == PASS
    assert result.message == "DMARC record found at _dmarc.acme.com, which covers mail.acme.com, policy quarantine."
    broken = judge_dmarc("mail.acme.com", ["v=DMARC1; p=reject; sp=bogus"], found_at="_dmarc.acme.com")
    assert broken.status == FAIL and "`sp=bogus` is not a policy" in broken.message


# --- names and helpers


def test_the_sending_domain_of_an_address():
    assert sending_domain("Hello@Acme.COM") == "acme.com"
    assert sending_domain("sam@mail.acme.com.") == "mail.acme.com"
    assert sending_domain("sam@bücher.example") == "xn--bcher-kva.example"
    assert sending_domain("") == ""


@pytest.mark.parametrize("name", ["acme.com", "mail.acme.co.uk", "xn--bcher-kva.example", "a-b.io"])
def test_domain_names(name):
    assert is_domain_name(name)


@pytest.mark.parametrize(
    "name", ["", "localhost", "-acme.com", "acme-.com", "acme..com", "ac me.com", "a" * 64 + ".com"]
)
def test_not_domain_names(name):
    assert not is_domain_name(name)


def test_dkim_selectors():
    for selector in ("google", "s1", "selector1", "20240101pm", "k1.eu", "mte1"):
        assert is_dkim_selector(selector), selector
    for selector in ("", "s1._domainkey", "s1._domainkey.acme.com", "-s1", "s 1", "s1."):
        assert not is_dkim_selector(selector), selector


def test_dmarc_is_looked_for_up_to_the_organizational_domain():
    assert dmarc_names("acme.com") == ["_dmarc.acme.com"]
    assert dmarc_names("mail.eu.acme.com") == ["_dmarc.mail.eu.acme.com", "_dmarc.eu.acme.com", "_dmarc.acme.com"]


def test_tag_lists():
    assert tags(" v=DKIM1 ; k=rsa; p=abc ;") == {"v": "DKIM1", "k": "rsa", "p": "abc"}
    assert tags("v=DKIM1; P=abc") == {"v": "DKIM1", "p": "abc"}
    assert tags("v=DKIM1; p") is None and tags("p=a; p=b") is None


def test_a_lookup_that_failed_is_neither_pass_nor_fail():
    result = lookup_failed("_dmarc.acme.com", "no answer within 5 seconds")
    assert result.status == AuthStatus.ERROR and not result.passed
    assert result.message.startswith("Could not look up _dmarc.acme.com (no answer within 5 seconds)")
