"""An in-memory DNS for the sending-domain checks: no test looks anything up on the network.

`FakeResolver()` serves SAMPLE_ZONE (so settings.DNS_RESOLVER may name it, in-process or from a shell); tests
also build one with their own records. Names in `failing` do not answer, like a DNS server that times out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from engines.providers.dns import DnsLookupFailed

# Real keys, made with `openssl genrsa <bits> | openssl rsa -pubout` (SubjectPublicKeyInfo, base64).
RSA_1024 = (
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDllHxrhbFWZf365T334UHXSmYy8eyu/trQUFVYdb9Si6mK8U8s/4+mVuT9No8Ymi57ZIz4"
    "S68USZq6LXbLdjCCL5EsmwUEJI3BM6r4/ssBfYWuzKAAcLtSXjhveTRIDsJ91MREthnx8IsDcyam/lYlUrC7i1L207q+kIzHcUhjJQIDAQAB"
)
RSA_2048 = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqclPbLeDiyEkvDONs1Rzp4ZzOTpiVcdsnW6oO9W7bMrLVLaMCI2MDfmtVn6RPsmH"
    "XUVMfLAGYWFKiGnu66ZTbktEePZgI5Nd3c+SgsSuFLgTLVqHaJBDiYFGWPrUrKfbsWD4NCZtgqDANVYbNXDZEGfTcmcQSfyT5MlfEaYXac8y"
    "GI3jx4pWugrmdutpSHjbeez96pq9fu3vmtq2WDRpI9zmiSbIxe4flBqN17aI8JALff9RhwL0SvxBvpHIp7V7SXfcJiXSdV6nobFSP0CBbG/e"
    "RaCPJoa0ReZcCF6gSKWXHEd66wOxpvvy+WJ0uBwT0lRCsaEjl+c+p2WTACxDMQIDAQAB"
)
RSA_512 = (
    "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMBngUX9tSf3tVZobmy1arn7S2u9mQw7Urp7Bas4HKca66ffk/bf8ajOiPELKbrBRvkGRP9WW6e4"
    "ybR06O7BWD0CAwEAAQ=="
)
# RFC 8463's example Ed25519 key.
ED25519 = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

# good.example: Google Workspace, set up as Gmail asks. bad.example: two SPF records, a revoked Postmark key, no
# DMARC. slow.example: its DNS does not answer. Records as published (each TXT record one string).
SAMPLE_ZONE: dict[str, list[str]] = {
    "good.example": ["v=spf1 include:_spf.google.com ~all", "google-site-verification=4ke8Lq0p3u9G1VwYx"],
    "google._domainkey.good.example": [f"v=DKIM1; k=rsa; p={RSA_2048}"],
    "_dmarc.good.example": ["v=DMARC1; p=reject; rua=mailto:dmarc-reports@good.example"],
    "bad.example": ["v=spf1 include:spf.protection.outlook.com -all", "v=spf1 include:mailgun.org ~all"],
    "pm._domainkey.bad.example": ["v=DKIM1; k=rsa; p="],
}
SAMPLE_FAILING = frozenset({"slow.example", "_dmarc.slow.example"})


class FakeResolver:
    """TXT records from `zone` (SAMPLE_ZONE by default); the names it was asked for are in `asked`."""

    def __init__(self, zone: Mapping[str, Sequence[str]] | None = None, *, failing: Iterable[str] | None = None):
        self.zone = SAMPLE_ZONE if zone is None else zone
        self.failing = frozenset(SAMPLE_FAILING if failing is None else failing)
        self.asked: list[str] = []

    def txt(self, name: str) -> list[str]:
        self.asked.append(name)
        if name in self.failing or "*" in self.failing:
            raise DnsLookupFailed(name, "no answer within 5 seconds")
        return list(self.zone.get(name, ()))
