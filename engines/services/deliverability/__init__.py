"""Deliverability, beside the stages: is a client's sending domain set up so that Gmail and Yahoo take its mail.

Owns the sending-domain checks (SPF, DKIM and DMARC looked up in the DNS, judged by
`engines.rules.dns_auth`, saved as `DomainCheck` rows) and which clients' domains were never checked or last
failed. May import: rules, models, providers. No stage imports it, and it imports no stage.
"""
