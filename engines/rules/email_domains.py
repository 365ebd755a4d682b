"""Where an email address works: its domain, and the "company" an address counts towards for per-company limits.

Two addresses at one company domain are colleagues; two addresses at a public
mail provider (gmail.com, outlook.com, ...) say nothing about working together,
so each such address is a company of its own. Used by the company-level stop
(engines.services.journey.colleagues) and the per-company daily cap of the
dispatcher (engines.services.sending.windows).
"""

from __future__ import annotations

# Mail providers anyone can sign up to: two addresses there say nothing about working together.
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "aol.com",
        "bigpond.com",
        "bigpond.net.au",
        "btinternet.com",
        "comcast.net",
        "fastmail.com",
        "gmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "googlemail.com",
        "hey.com",
        "hotmail.co.uk",
        "hotmail.com",
        "hotmail.fr",
        "icloud.com",
        "live.com",
        "mac.com",
        "mail.com",
        "me.com",
        "msn.com",
        "optusnet.com.au",
        "orange.fr",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "t-online.de",
        "tutanota.com",
        "web.de",
        "xtra.co.nz",
        "yahoo.co.uk",
        "yahoo.com",
        "yahoo.com.au",
        "yahoo.fr",
        "yandex.com",
        "yandex.ru",
        "zoho.com",
    }
)


def email_domain(email: str) -> str:
    """The domain of an address, lower-cased ("" when there is none)."""
    local, at, domain = email.strip().rpartition("@")
    return domain.lower() if at and local else ""


def email_company(email: str) -> str:
    """The company an address counts towards: its domain, or the whole address (lower-cased) at a public mail
    provider ("" when it has no domain)."""
    domain = email_domain(email)
    if domain in PUBLIC_MAIL_DOMAINS:
        return email.strip().lower()
    return domain
