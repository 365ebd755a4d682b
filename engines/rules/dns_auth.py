"""Sending-domain authentication: SPF, DKIM and DMARC records judged from their text, as Gmail and Yahoo require.

Since February 2024 Gmail and Yahoo ask every bulk sender for SPF and DKIM on the sending domain and a DMARC
record with a policy (`p=none` at least). These rules read TXT records already looked up (the service
`engines.services.deliverability.domains` looks them up) and say, for each, pass / warn / fail, the record
judged, and what to fix. No DNS, no database.

SPF (RFC 7208), one `v=spf1` TXT record on the domain:
- none, or more than one: fail (two records are a permanent error: receivers then ignore both);
- a term that is not an SPF mechanism or modifier, a mechanism without its argument (`include` alone, a bad
  `ip4:` address), or more than 10 DNS-querying terms (include, a, mx, ptr, exists, redirect): fail, the
  permanent errors a receiver would find. Only the record's own terms are counted: the lookups of the records
  it includes are not followed;
- `+all` (or a bare `all`): fail, it lets every server on the internet send as the domain;
- `?all`, or no `all` at the end and no `redirect=`: warn. Mail from servers the record does not list is then
  "neutral", which receivers treat as no SPF at all: the record protects nothing, but the domain's own servers
  still pass, so Gmail's requirement (SPF passes for the mail sent) is met;
- `~all` or `-all`: pass.

DKIM (RFC 6376), a TXT record at `<selector>._domainkey.<domain>`:
- `v=` may be left out (RFC 6376 3.6.1: it defaults to DKIM1, and e.g. Postmark publishes `k=rsa; p=...`);
  when given it must be `DKIM1`;
- `p=` must be there and hold a base64 public key: an empty `p=` means the key was revoked (fail); a key that
  does not decode was cut when pasted (fail); an RSA key under 1024 bits is refused by Gmail (fail);
- `t=y` (test mode): warn, receivers may treat the mail as unsigned;
- several records at one selector: fail (which one a receiver uses is undefined).
When the selectors are guesses (the client has none set), a TXT record that is not a DKIM key at all (a
wildcard SPF record, say) does not count as found.

DMARC (RFC 7489), one TXT record at `_dmarc.<domain>` starting `v=DMARC1`, with `p=none`, `quarantine` or
`reject`. A subdomain without a record of its own takes its organizational domain's (`sp=` if given, else
`p=`). None, several, or a missing or unknown policy: fail. `p=none` passes, because it is what Gmail and
Yahoo require, with a message saying what to do next.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from outreach.models.choices import PASSING_AUTH_STATUSES, AuthStatus

# RFC 7208 4.6.4: a record whose evaluation needs more DNS queries than this is a permanent error.
SPF_MAX_LOOKUPS = 10
SPF_LOOKUP_TERMS = frozenset({"include", "a", "mx", "ptr", "exists", "redirect"})
# Gmail refuses DKIM keys shorter than 1024 bits. The smallest DER encoding of a 1024-bit RSA key (PKCS#1,
# 140 bytes; SubjectPublicKeyInfo is 162) is longer than this, every 768-bit one (126 in SPKI) is shorter.
DKIM_MIN_RSA_KEY_BYTES = 128
DKIM_KEY_TYPES = frozenset({"rsa", "ed25519"})
DMARC_POLICIES = ("none", "quarantine", "reject")
# How far up a subdomain's labels DMARC's organizational domain is searched (e.g. mail.eu.acme.com -> acme.com).
DMARC_MAX_PARENTS = 4
# A record shown in a message is cut to this many characters.
SHOWN_RECORD = 80

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+{_LABEL}$")
_SELECTOR = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$")
_SPF_MECHANISM = re.compile(r"^([+\-~?]?)(all|include|a|mx|ptr|ip4|ip6|exists)(.*)$", re.IGNORECASE)
_SPF_MODIFIER = re.compile(r"^([a-z][a-z0-9_.-]*)=(.*)$", re.IGNORECASE)
_SPF_DOMAIN_ARG = re.compile(r"^:[^\s:/]+$")
_SPF_HOST_ARG = re.compile(r"^(:[^\s:/]+)?(/\d{1,3}(//\d{1,3})?)?$")
_DMARC_VERSION = re.compile(r"^v\s*=\s*DMARC1\s*(;|$)", re.IGNORECASE)
_ALL_QUALIFIERS = {"+": "+all", "": "all", "?": "?all", "~": "~all", "-": "-all"}


@dataclass(frozen=True)
class AuthResult:
    """One record's verdict: `record` is the text judged ("" when there was none), `message` what to fix (or,
    for a pass, what was found)."""

    status: AuthStatus
    record: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status in PASSING_AUTH_STATUSES


def sending_domain(email: str) -> str:
    """The domain of a sending address, lower case, international names in their ASCII (IDNA) form."""
    domain = email.rpartition("@")[2].strip().rstrip(".").lower()
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def is_domain_name(value: str) -> bool:
    """A DNS name of at least two labels (acme.com), as `sending_domain` returns them."""
    return len(value) <= 253 and bool(_DOMAIN.match(value))


def is_dkim_selector(value: str) -> bool:
    """A DKIM selector: one or more DNS labels, the part of the key's name before `._domainkey`."""
    return len(value) <= 63 and bool(_SELECTOR.match(value)) and "_domainkey" not in value.lower()


def dkim_name(selector: str, domain: str) -> str:
    return f"{selector}._domainkey.{domain}"


def dmarc_names(domain: str) -> list[str]:
    """Where a domain's DMARC policy may be: its own `_dmarc` name, then its parents' (never a bare TLD)."""
    labels = domain.split(".")
    parents = [".".join(labels[i:]) for i in range(len(labels) - 1)][: DMARC_MAX_PARENTS + 1]
    return [f"_dmarc.{name}" for name in parents]


def not_a_domain(domain: str) -> AuthResult:
    return AuthResult(
        AuthStatus.FAIL, "", f"{domain!r} is not a domain name: give the client a sending email at its own domain."
    )


def lookup_failed(name: str, reason: str) -> AuthResult:
    return AuthResult(
        AuthStatus.ERROR,
        "",
        f"Could not look up {name} ({reason}): nothing is known about this record. Check again later; if it "
        "keeps failing, the domain's DNS servers are not answering.",
    )


def shown(record: str) -> str:
    return record if len(record) <= SHOWN_RECORD else record[: SHOWN_RECORD - 1] + "…"


# --- SPF


def judge_spf(domain: str, records: Sequence[str]) -> AuthResult:
    """The SPF verdict for `domain` from all the TXT records at `domain` (not only the SPF ones)."""
    spf = [record.strip() for record in records if _is_spf(record)]
    if not spf:
        return AuthResult(
            AuthStatus.FAIL,
            "",
            f"No SPF record at {domain}: publish one TXT record there listing the servers that send its mail, e.g. "
            "`v=spf1 include:<your ESP's SPF domain> ~all` (Google Workspace: include:_spf.google.com).",
        )
    if len(spf) > 1:
        return AuthResult(
            AuthStatus.FAIL,
            "\n".join(spf),
            f"{len(spf)} SPF records at {domain}: receivers then ignore them all (a permanent error). Merge them "
            "into one `v=spf1 ... ~all` record holding the include:, ip4: and other terms of each, and delete "
            "the others.",
        )
    return _judge_spf_terms(domain, spf[0])


def _is_spf(record: str) -> bool:
    words = record.split()
    return bool(words) and words[0].lower() == "v=spf1"


def _judge_spf_terms(domain: str, record: str) -> AuthResult:
    terms = record.split()[1:]
    bad = [term for term in terms if not _is_spf_term(term)]
    if bad:
        return AuthResult(
            AuthStatus.FAIL,
            record,
            f"The SPF record of {domain} is malformed ({', '.join(repr(term) for term in bad)} is not a valid SPF "
            "term): receivers treat it as a permanent error. Fix the record, e.g. `include:` needs a domain and "
            "`ip4:` an address.",
        )
    lookups = sum(1 for term in terms if _spf_term_name(term) in SPF_LOOKUP_TERMS)
    if lookups > SPF_MAX_LOOKUPS:
        return AuthResult(
            AuthStatus.FAIL,
            record,
            f"The SPF record of {domain} needs {lookups} DNS lookups (include, a, mx, ptr, exists, redirect), more "
            f"than the {SPF_MAX_LOOKUPS} allowed: receivers treat it as a permanent error. Remove the includes of "
            "services that no longer send for you, or replace some with ip4:/ip6: ranges.",
        )
    return _judge_spf_all(domain, record, terms)


def _judge_spf_all(domain: str, record: str, terms: list[str]) -> AuthResult:
    alls = [match[1] for term in terms if (match := _SPF_MECHANISM.match(term)) and match[2].lower() == "all"]
    if not alls:
        if any(_spf_term_name(term) == "redirect" for term in terms):
            return AuthResult(AuthStatus.PASS, record, f"SPF record found at {domain} (its policy is redirected).")
        return AuthResult(
            AuthStatus.WARN,
            record,
            f"The SPF record of {domain} does not end with `~all` or `-all`: mail from servers it does not list is "
            "'neutral', which receivers treat like no SPF. Add `~all` at the end.",
        )
    written = _ALL_QUALIFIERS[alls[0]]
    if alls[0] in ("+", ""):
        return AuthResult(
            AuthStatus.FAIL,
            record,
            f"The SPF record of {domain} ends with `{written}`: it lets every server on the internet send as "
            f"{domain}. Replace `{written}` with `~all` (or `-all`).",
        )
    if alls[0] == "?":
        return AuthResult(
            AuthStatus.WARN,
            record,
            f"The SPF record of {domain} ends with `?all`: mail from servers it does not list is 'neutral', which "
            "receivers treat like no SPF. Replace `?all` with `~all` (or `-all`).",
        )
    return AuthResult(AuthStatus.PASS, record, f"SPF record found at {domain} (ends with `{written}`).")


def _spf_term_name(term: str) -> str:
    if match := _SPF_MECHANISM.match(term):
        return match[2].lower()
    if match := _SPF_MODIFIER.match(term):
        return match[1].lower()
    return ""


def _is_spf_term(term: str) -> bool:
    if mechanism := _SPF_MECHANISM.match(term):
        return _spf_argument_ok(mechanism[2].lower(), mechanism[3])
    if modifier := _SPF_MODIFIER.match(term):
        # Unknown modifiers are allowed (RFC 7208 6); the two known ones need a value.
        return modifier[1].lower() not in ("redirect", "exp") or bool(modifier[2])
    return False


def _spf_argument_ok(name: str, argument: str) -> bool:
    if name == "all":
        return argument == ""
    if name in ("include", "exists"):
        return bool(_SPF_DOMAIN_ARG.match(argument))
    if name in ("a", "mx"):
        return bool(_SPF_HOST_ARG.match(argument))
    if name == "ptr":
        return argument == "" or bool(_SPF_DOMAIN_ARG.match(argument))
    # ip4 / ip6: an address or a network, of the right family.
    if not argument.startswith(":"):
        return False
    try:
        network = ipaddress.ip_network(argument[1:], strict=False)
    except ValueError:
        return False
    return network.version == (4 if name == "ip4" else 6)


# --- DKIM and DMARC tag lists


def tags(record: str) -> dict[str, str] | None:
    """The `tag=value; ...` pairs of a DKIM or DMARC record (names lower case), or None when it is not such a
    list (a part without `=`, a tag given twice)."""
    found: dict[str, str] = {}
    for part in record.split(";"):
        if not part.strip():
            continue
        name, equals, value = part.partition("=")
        name = name.strip().lower()
        if not equals or not name or name in found:
            return None
        found[name] = value.strip()
    return found


# --- DKIM


def judge_dkim(domain: str, found: Mapping[str, Sequence[str]], *, selectors_given: bool) -> AuthResult:
    """The DKIM verdict from the TXT records found at each selector tried (in the order tried).

    The first selector holding a valid key passes; else the first selector's problem is reported; else no key
    was found. `selectors_given`: the client named its selector, so whatever is there is judged as its key.
    """
    verdicts = []
    for selector, records in found.items():
        keys = [r.strip() for r in records if selectors_given or _looks_like_dkim(r)]
        if keys:
            verdicts.append(_judge_dkim_keys(dkim_name(selector, domain), keys))
    for verdict in verdicts:
        if verdict.passed:
            return verdict
    if verdicts:
        return verdicts[0]
    tried = ", ".join(found) or "(none)"
    fix = (
        "publish the DKIM key your ESP gives you at that name"
        if selectors_given
        else "set the client's DKIM selector to the one your ESP gave you (the part before `._domainkey`)"
    )
    return AuthResult(AuthStatus.FAIL, "", f"No DKIM key found for {domain} at the selectors tried ({tried}): {fix}.")


def _looks_like_dkim(record: str) -> bool:
    found = tags(record)
    return found is not None and ("p" in found or found.get("v", "").upper() == "DKIM1")


def _judge_dkim_keys(name: str, keys: list[str]) -> AuthResult:
    if len(keys) > 1:
        return AuthResult(
            AuthStatus.FAIL,
            "\n".join(keys),
            f"{len(keys)} TXT records at {name}: which one receivers use is undefined. Keep only the current key.",
        )
    record = keys[0]
    found = tags(record)
    if found is None:
        problem = "it is not a list of `tag=value;` pairs"
    elif "v" in found and found["v"] != "DKIM1":
        problem = f"v={found['v']} is not v=DKIM1"
    elif "p" not in found:
        problem = "it has no `p=` public key: this is not a DKIM key"
    else:
        return _judge_dkim_key(name, record, found)
    return AuthResult(
        AuthStatus.FAIL,
        record,
        f"The DKIM record at {name} is malformed ({problem}): publish the key your ESP gives you.",
    )


def _judge_dkim_key(name: str, record: str, found: dict[str, str]) -> AuthResult:
    key_type = found.get("k", "rsa").lower()
    encoded = "".join(found["p"].split())
    if not encoded:
        return AuthResult(
            AuthStatus.FAIL,
            record,
            f"The DKIM key at {name} is revoked (empty `p=`): publish the current key from your ESP, or set the "
            "client's DKIM selector to the one it signs with now.",
        )
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return AuthResult(
            AuthStatus.FAIL,
            record,
            f"The DKIM key at {name} is not valid base64: it was probably cut or mangled when pasted. Copy it "
            "again from your ESP (a long key split into several quoted strings is fine).",
        )
    if key_type not in DKIM_KEY_TYPES:
        return AuthResult(AuthStatus.FAIL, record, f"The DKIM key at {name} has an unknown type k={key_type}.")
    if key_type == "rsa" and len(key) < DKIM_MIN_RSA_KEY_BYTES:
        return AuthResult(
            AuthStatus.FAIL,
            record,
            f"The DKIM key at {name} is shorter than 1024 bits: Gmail refuses it. Have your ESP make a 2048-bit key.",
        )
    if "y" in [flag.strip().lower() for flag in found.get("t", "").split(":")]:
        return AuthResult(
            AuthStatus.WARN,
            record,
            f"The DKIM key at {name} is in test mode (t=y): receivers may treat signed mail as unsigned. Remove "
            "`t=y` once your mail verifies.",
        )
    return AuthResult(AuthStatus.PASS, record, f"DKIM key found at {name}.")


# --- DMARC


def is_dmarc(record: str) -> bool:
    return bool(_DMARC_VERSION.match(record.strip()))


def judge_dmarc(domain: str, records: Sequence[str], *, found_at: str) -> AuthResult:
    """The DMARC verdict from the TXT records at `found_at`: `_dmarc.<domain>`, or a parent's `_dmarc` name
    (then the parent's `sp=` applies to `domain`, else its `p=`). No DMARC record anywhere: any `found_at`."""
    dmarc = [record.strip() for record in records if is_dmarc(record)]
    if not dmarc:
        return AuthResult(
            AuthStatus.FAIL,
            "",
            f"No DMARC record at _dmarc.{domain}: publish a TXT record there, e.g. "
            f"`v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}` (Gmail and Yahoo require one from bulk "
            "senders; start with p=none and read the reports).",
        )
    if len(dmarc) > 1:
        return AuthResult(
            AuthStatus.FAIL,
            "\n".join(dmarc),
            f"{len(dmarc)} DMARC records at {found_at}: receivers then apply none. Keep one.",
        )
    record = dmarc[0]
    found = tags(record)
    inherited = found_at != f"_dmarc.{domain}"
    policy_tag = "sp" if inherited and found is not None and "sp" in found else "p"
    policy = (found or {}).get(policy_tag, "").lower()
    if found is None or policy not in DMARC_POLICIES:
        given = "it is not a list of `tag=value;` pairs" if found is None else _missing_policy(policy_tag, policy)
        return AuthResult(
            AuthStatus.FAIL,
            record,
            f"The DMARC record at {found_at} is malformed ({given}): it needs `p=none`, `p=quarantine` or "
            "`p=reject`, e.g. `v=DMARC1; p=none; rua=mailto:...`.",
        )
    where = f"at {found_at}" + (f", which covers {domain}" if inherited else "")
    if policy == "none":
        reports = "" if "rua" in found else " Add `rua=mailto:...` to receive the reports."
        return AuthResult(
            AuthStatus.PASS,
            record,
            f"DMARC record found {where}, policy none: it meets the Gmail and Yahoo minimum.{reports} Once the "
            "reports show all your mail passing, move to p=quarantine, then p=reject.",
        )
    return AuthResult(AuthStatus.PASS, record, f"DMARC record found {where}, policy {policy}.")


def _missing_policy(tag: str, policy: str) -> str:
    return f"`{tag}={policy}` is not a policy" if policy else f"it has no `{tag}=` policy"
