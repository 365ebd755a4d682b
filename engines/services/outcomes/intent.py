"""What a person's reply means, on any channel: interested, not interested, later, an auto-reply, the wrong
person, an unsubscribe, a channel preference, or unknown (a person reads it).

Pure functions over text, so the webhooks decide with one call and the rules are tested alone against a
labelled corpus (tests/engines/outcomes/reply_corpus.py). The rules, in order (docs/outcomes.md):

- only an explicit request to stop all contact is an unsubscribe, and never when the reply also shows interest;
- a channel preference ("don't call", "no texts", "email only") stops those channels only, whatever else the
  reply is, so "interested, don't call me" is an interested reply that also stops calls;
- negations are read: "not interested" is no interest, "don't unsubscribe me" is no unsubscribe;
- when interest and refusal both appear, the last one said wins ("not the SEO part, but the audit sounds good").

Quoted history and signatures are cut first, so our own footer quoted back is not the lead's words.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from engines.json_types import JSONValue
from outreach.models.choices import CHANNEL_OPT_OUTS, Channel, StopReason


class ReplyIntent(StrEnum):
    INTERESTED = "interested"
    NOT_INTERESTED = "not_interested"
    LATER = "later"
    AUTO_REPLY = "auto_reply"  # an out-of-office or any other machine answer
    WRONG_PERSON = "wrong_person"  # the wrong person, someone who left, or a referral to a colleague
    UNSUBSCRIBE = "unsubscribe"
    CHANNEL_PREFERENCE = "channel_preference"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Reading:
    """A reply read: its intent, the channels it asked us not to use, and when to try again (a `later` reply
    that names a time)."""

    intent: ReplyIntent
    stop_channels: frozenset[str] = field(default_factory=frozenset)
    later: date | None = None

    def opt_outs(self) -> list[StopReason]:
        """The opt-out of each channel the reply refused, in a stable order."""
        return [CHANNEL_OPT_OUTS[channel] for channel in sorted(self.stop_channels)]

    def metadata(self) -> dict[str, JSONValue]:
        """What the back office reads on the reply's Activity: its intent (`unknown` asks a person), the channels
        it refused and the date a `later` reply named."""
        found: dict[str, JSONValue] = {"intent": self.intent.value}
        if self.stop_channels:
            found["stop_channels"] = sorted(self.stop_channels)
        if self.later is not None:
            found["later"] = self.later.isoformat()
        return found


# The channels a preference can name; LinkedIn is never asked about in a reply.
_PREFERENCE_CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.VOICE)

# --- Cleaning: the new text only ---------------------------------------------------------------------------

_QUOTE_RE = re.compile(
    r"^\s*(?:>|-{2,}\s*(?:original message|mensaje original|message d'origine|ursprüngliche nachricht|"
    r"mensagem original|oorspronkelijk bericht)\s*-{2,}|_{8,}\s*$|"
    r"(?:on|el|le|am|em|op)\s[^\n]{0,200}?(?:\n[^\n]{0,100}?)?"
    r"(?:wrote|escribió|a écrit|schrieb|escreveu|schreef)\s*[^\n]{0,60}:\s*$|"
    r"from:\s[^\n]*\n(?:[^\n]*\n)?\s*(?:sent|date|to|enviado|envoyé|gesendet|verzonden):)",
    re.IGNORECASE | re.MULTILINE,
)
_SIGNATURE_RE = re.compile(
    r"^(?:--\s*$|sent from my\b|sent from (?:outlook|mail|yahoo)|get outlook for\b|enviado desde mi\b|"
    r"envoyé de mon\b|von meinem\b|enviado do meu\b|verstuurd vanaf mijn\b)",
    re.IGNORECASE | re.MULTILINE,
)
# A sign-off alone on its line: what follows is a name, a title and a phone number, not the reply.
_SIGN_OFF_RE = re.compile(
    r"^\s*(?:thanks|thank you|many thanks|thx|cheers|regards|kind regards|best regards|warm regards|best|"
    r"best wishes|sincerely|all the best|saludos|un saludo|atentamente|cordialement|bien à vous|"
    r"mit freundlichen grüßen|viele grüße|beste grüße|lg|atenciosamente|abraços|obrigad[oa]|"
    r"met vriendelijke groet(?:en)?|groeten|groetjes)\s*[,.!]?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_URL_RE = re.compile(r"https?://\S+|<[^>\s]+>|\S+@\S+\.\w+")


def clean_reply(text: str) -> str:
    """The words the person wrote this time: before any quoted history, signature or sign-off, without links
    and addresses (a footer's unsubscribe link is not a request)."""
    fresh = text or ""
    for pattern in (_QUOTE_RE, _SIGNATURE_RE):
        match = pattern.search(fresh)
        if match:
            fresh = fresh[: match.start()]
    sign_off = _SIGN_OFF_RE.search(fresh)
    if sign_off and fresh[: sign_off.start()].strip():  # "Thanks" alone is the whole reply, not a sign-off
        fresh = fresh[: sign_off.start()]
    return _URL_RE.sub(" ", fresh).strip()


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("’", "'").replace("‘", "'").lower()).strip()


def _compile(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns), re.IGNORECASE)


# --- Machines ---------------------------------------------------------------------------------------------

_AUTO_RE = _compile(
    r"\bout of (?:the )?office\b",
    r"\b(?:i am|i'm|i will be) (?:currently )?(?:away|out|on (?:annual |parental |sick |maternity )?leave|"
    r"on holiday|on vacation|travell?ing|at a conference)\b.{0,80}\b(?:until|till|returning|back on|back in|"
    r"limited access|return)\b",
    r"\bautomatic reply\b|\bauto-?reply\b|\bautomated (?:response|reply|message)\b|\bthis is an automated\b",
    r"\b(?:limited|no) access to (?:my )?e-?mail\b",
    r"\bwill (?:respond|reply|get back to you|answer) (?:to your (?:email|message) )?(?:as soon as possible |asap )?"
    r"(?:when|upon|on) (?:i|my) return\b",
    r"\bthank you for your (?:email|message)\.? (?:we|i) (?:have received|will)\b",
    r"\bfuera de la oficina\b|\bestoy de vacaciones\b|\brespuesta automática\b",
    r"\b(?:je suis |je serai )?absente? (?:du bureau|jusqu)|\bréponse automatique\b|\ben congés?\b",
    r"\bnicht im büro\b|\babwesenheitsnotiz\b|\bbin (?:bis|ab) .{0,40}(?:nicht erreichbar|abwesend|im urlaub)\b|"
    r"\bautomatische antwort\b|\bim urlaub\b",
    r"\bfora do escritório\b|\bresposta automática\b|\bestou de férias\b|\bausente\b",
    r"\bafwezig(?:heid)?\b|\bniet op kantoor\b|\bautomatisch antwoord\b|\bmet vakantie\b",
)

# --- Channels ---------------------------------------------------------------------------------------------

_NOT = r"(?:do not|don't|dont|never|please don't|pls don't|no need to|stop|quit)"
_CHANNEL_WORDS: dict[str, str] = {
    Channel.VOICE: r"(?:call|calls|calling|ring|ringing|phone|phoning|cold[- ]call(?:ing)?|phone calls?|voicemails?)",
    Channel.SMS: r"(?:text|texts|texting|txt|sms|sms'?s|text messages?)",
    Channel.EMAIL: r"(?:email|emails|emailing|e-mail|e-mails|e-mailing|mail me|mailing)",
}
# Only one channel: the others stop.
_ONLY_RE: dict[str, re.Pattern[str]] = {
    Channel.EMAIL: _compile(
        r"\b(?:e-?mail|email) only\b",
        r"\bonly (?:\w+ ){0,3}(?:by |via |through |over )?e-?mail\b",
        r"\b(?:stick to|keep (?:it|this) to) e-?mail\b",
        r"\bsolo (?:por )?correo\b",
        r"\buniquement par (?:e-?)?mail\b",
        r"\bnur per (?:e-?)?mail\b",
        r"\bsomente por e-?mail\b",
        r"\balleen (?:per|via) (?:e-?)?mail\b",
    ),  # fmt: skip
    Channel.SMS: _compile(r"\btext only\b", r"\bonly (?:by |via )?text\b", r"\bsms only\b"),
    Channel.VOICE: _compile(r"\b(?:phone|calls?) only\b", r"\bonly (?:by )?phone\b"),
}


def _channel_refusals(channel: str) -> re.Pattern[str]:
    """ "Don't call my mobile", "no texts", "not by phone", "email is not convenient"; "don't call before 10" is
    a time, not a refusal."""
    words = _CHANNEL_WORDS[channel]
    return _compile(
        rf"\b{_NOT} (?:\w+ ){{0,2}}{words}\b(?! (?:before|after|until|till|between|during)\b)",
        rf"\bno (?:more )?(?:[\w-]+ (?:or|and|nor) )?{words}\b",  # "no calls or texts"
        rf"\b(?:rather not|prefer not to|would prefer you didn't) (?:be )?{words}",
        rf"\bnot (?:by|via|over) {words}\b",
        rf"\b{words} (?:is|are) not (?:ok|okay|good|great|convenient|ideal)\b",
        rf"\bcan't (?:take|do|answer) {words}\b",
    )


_REFUSES: dict[str, re.Pattern[str]] = {channel: _channel_refusals(channel) for channel in _PREFERENCE_CHANNELS}
# "Message(s)" names the channel the reply came on.
_MESSAGE_REFUSAL_RE = _compile(rf"\b{_NOT} (?:\w+ )?(?:messag(?:e|es|ing)|msg(?:s|ing)?)\b", r"\bno more messages\b")
_FOREIGN_REFUSALS: dict[str, re.Pattern[str]] = {
    Channel.VOICE: _compile(
        r"\bno me llam",
        r"\bkeine anrufe\b",
        r"\bne m'appelez pas\b",
        r"\bnicht anrufen\b",
        r"\bnão me ligue",
        r"\bniet bellen\b",
        r"\bbel me niet\b",
    ),  # fmt: skip
    Channel.SMS: _compile(r"\bno me (?:envíe|mande)s? (?:más )?(?:sms|mensajes)", r"\bpas de sms\b", r"\bkeine sms\b"),
    Channel.EMAIL: _compile(r"\bno me (?:envíe|mande)s? (?:más )?correos", r"\bkeine (?:e-?mails|mails)\b"),
}


# "Don't stop emailing me" asks for more, not less.
_KEEP_GOING_RE = re.compile(r"\b(?:don't|dont|do not|never) stop \w+")


def _preferred_stops(text: str, channel: str) -> frozenset[str]:
    text = _KEEP_GOING_RE.sub(" ", text)
    stops: set[str] = set()
    for only, pattern in _ONLY_RE.items():
        if pattern.search(text):
            stops.update(other for other in _PREFERENCE_CHANNELS if other != only)
    for refused in _PREFERENCE_CHANNELS:
        if _REFUSES[refused].search(text) or _FOREIGN_REFUSALS[refused].search(text):
            stops.add(refused)
    if channel in _PREFERENCE_CHANNELS and _MESSAGE_REFUSAL_RE.search(text):
        stops.add(channel)
    return frozenset(stops)


# --- Unsubscribe: stop all contact -----------------------------------------------------------------------

_UNSUBSCRIBE_RE = _compile(
    r"^(?:please |pls |plz )?stop(?: it| now| please| thanks| thank you| all)?\W*$",
    r"^stop\b(?!\s+(?:by|in|me|call\w*|text\w*|e-?mail\w*|ring\w*|phon\w*|messag\w*|msg\w*)\b).{0,40}$",
    # "STOP. not interested", but not "stop by the office" nor "stop calling me" (a channel preference)
    r"\bunsubscribe\b|\bunsub\b|\bopt (?:me )?out\b|\boptout\b",
    r"\bremove (?:me|us|(?:my|this) (?:name|number|email|address|details|data|info))\b",
    r"\b(?:want|get|be) (?:me |us )?off (?:this|your|the|ur) (?:\w+ )?list\b|\bno spam\b|\bcease and desist\b",
    r"\bstop sending (?:me |us )?(?:these|this|them|anything|this stuff)\b",
    r"\btake (?:me|us|my \w+) off\b",
    r"\b(?:delete|erase) (?:my|our) (?:data|details|info|information|contact|number|email)\b",
    r"\bleave (?:me|us) alone\b|\blose my number\b",
    r"\b(?:stop|quit|cease) (?:all )?(?:contact(?:ing)?|spamming|spam|bothering|harass(?:ing)?|pestering|"
    r"reaching out)\b",
    r"\b(?:do not|don't|dont|never) (?:ever )?(?:contact|bother|spam|harass|reach out to) (?:me|us)\b",
    r"\bno (?:more|further) (?:contact|communication|communications|outreach)\b",
    r"\b(?:do not|don't) (?:want|wish) to (?:be contacted|hear from you|receive (?:any )?(?:more|further))\b",
    r"\bnever (?:contact|message|email|call|text) (?:me|us) again\b",
    r"\bstop (?:sending|contacting|messaging) me (?:anything|everything)\b",
    r"\bput (?:me|us) on your do not contact\b|\bdo not contact list\b",
    # Spanish, French, German, Portuguese, Dutch.
    r"\bdar(?:me)? de baja\b|\bdenme de baja\b|\bno me (?:contacte|contacten|contactes|vuelva[ns]? a contactar)\b|"
    r"\b(?:elimín|borr|quít)(?:ame|enme|eme)\b|\bdejen de (?:contactarme|escribirme|enviarme)\b",
    r"\bdésabonn|\bdésinscri|\bne (?:me )?contactez plus\b|\bne plus me contacter\b|\bretirez[- ]moi\b|"
    r"\bsupprimez (?:mes|moi)\b|\barrêtez de me (?:contacter|solliciter|écrire)\b",
    r"\babmelden\b|\baustragen\b|\bkontaktieren sie mich nicht\b|\bentfernen sie mich\b|\blöschen sie (?:mich|meine)\b|"
    r"\bkeine weitere(?:n)? (?:kontakt|nachrichten|e-?mails)\b",
    r"\bdescadastr|\bcancelar (?:a )?inscrição\b|\bnão me (?:contate|contatem|procure)\b|\bremova-me\b|"
    r"\bremovam-me\b|\bremover (?:o )?meu\b|\bparem de me (?:contatar|enviar|mandar)\b",
    r"\bafmelden\b|\buitschrijven\b|\bverwijder (?:mij|me|mijn)\b|\bgeen contact meer\b|\bneem geen contact\b",
)
# A negated request is no request: "don't unsubscribe me", "no need to remove me", "I didn't opt out".
_NEGATED_UNSUBSCRIBE_RE = _compile(
    r"\b(?:don't|do not|didn't|did not|no need to|not|never meant to|accidentally|please don't) "
    r"(?:\w+ ){0,2}(?:unsubscribe|remove|opt|take me off|stop)",
    r"\bdon't stop\b|\bunsubscribed by mistake\b",
)

# --- The wrong person, or someone else --------------------------------------------------------------------

_WRONG_PERSON_RE = _compile(
    r"\bwrong (?:person|contact|guy|number|email|address|company)\b",
    r"\bnot the (?:right|best|correct|appropriate) (?:person|contact)\b",
    r"\b(?:no longer|not) (?:work(?:ing)? (?:at|for|there|here)|with (?:the company|[a-z]+ (?:inc|ltd|pty)))\b",
    r"\b(?:i|i've|i have|she|he|they) (?:has |have )?left (?:the company|the business|[a-z]+ (?:in|last))\b|"
    r"\bleft the (?:company|business|firm)\b",
    r"\bmoved on from\b|\b(?:she|he)(?:'s| is) (?:on (?:\w+ )?leave|no longer|not here)\b",
    r"\bdon't work (?:at|for|there)\b|\bno longer (?:at|with|in that role|in charge|responsible)\b",
    r"\b(?:you should|you'd better|better to|best to|please|you'll want to|try) (?:speak|talk|reach out|write|"
    r"contact|get in touch)(?: to| with)? (?:my |our )?(?:\w+ )?(?:colleague|boss|manager|team|head|director|"
    r"owner|partner|ceo|cfo|cmo|cto|coo|[a-z]+ (?:in|from|on) |"
    r"(?:[A-Z]?[a-z]+)(?:,| who| -| at|\.| she| he| instead|$))",
    r"\b(?:i'm|i am|i've) (?:forwarding|cc'?ing|copying|looping in|passing (?:this|it) (?:on|to))\b",
    r"\b(?:forwarded|passed) (?:this|it|your (?:email|message)) (?:on )?to\b",
    r"\b(?:handles|looks after|is in charge of|is responsible for|takes care of|manages) (?:this|that|all|our|"
    r"marketing|procurement|purchasing|it|these)\b",
    r"\bnot (?:my|in my) (?:area|department|remit|call|decision)\b|\bnot (?:responsible|in charge) for\b",
    r"\b(?:makes?|takes?) (?:that|the|those|these) decisions?\b|\bnot me\b",
    r"(?:^|[.!?] )(?:talk|speak|reach out|write) to (?!you\b|u\b|me\b|us\b|them\b)\w+",  # "Talk to Ruth."
    r"\bwho you (?:want|need)\b|\bequivocado de persona\b|\bright person (?:is|would be)\b|\bbetter person\b|"
    r"\bpersona equivocada\b|"
    r"\bmauvaise personne\b|\bfalsche person\b|\bpessoa errada\b|\bverkeerde persoon\b|\bno longer in the role\b",
)

# --- Interest, refusal, later -------------------------------------------------------------------------------

# A word before a positive phrase that turns it around: "not interested", "isn't a fit".
_NEGATOR_BEFORE_RE = re.compile(
    r"(?:\bnot|n't|\bno|\bnever|\bno longer|\bhardly|\bnor|\bnicht|\bkein\w*|\bpas|\bnão|\bniet|\bgeen|\bni)"
    r"(?:\s+\w+){0,2}\s*$"
)
_POSITIVE_STRONG_RE = _compile(
    r"\binterested\b|\binterest(?:ing)?\b|\bkeen\b|\bsounds? (?:good|great|interesting|promising|like a plan)\b",
    r"\btell me more\b|\bsend (?:me |us |over |through )?(?:some |more |the )?(?:info|information|details|pricing|"
    r"prices|the deck|a proposal|a quote|case stud)",
    r"\bcan we (?:speak|talk|chat|meet|set up)\b|\byour availability\b|^love to\b|\bcalendar invite\b",
    r"\b(?:can|could) you send\b|\bplease send\b|\bhappy to (?:chat|talk|meet|have a|hop|jump|discuss|look|hear)\b",
    r"\blet'?s (?:chat|talk|do it|book|set|meet|catch up|discuss|go|find|schedule)\b|\bi'?d (?:love|like) to\b",
    r"\bwould (?:love|like) (?:to|a|more)\b|\bwouldn't mind\b|\bopen to (?:a|it|that|hearing|chat)\b",
    r"\b(?:give me|gimme) a (?:call|ring|buzz)\b|\bcall me\b|\bbook (?:a|me|in|us)\b|\bschedule a\b",
    r"\bwhat (?:times?|days?) (?:work|suit|are you)\b|\bwhen (?:are you|can we|works|could we)\b",
    r"\b(?:works|suits) (?:for )?(?:me|us)\b|\bhow much\b|\bwhat does it cost\b|\bpricing\b|\bcount me in\b",
    r"\bworth a (?:chat|call|look|conversation)\b|\b(?:i'm|i am|we're|we are) (?:free|available)\b",
    r"\bmore info\b|\b(?:hear|know|learn|see) more\b|\bdefinitely\b|\babsolutely\b|\bgo ahead\b|"
    r"\blooking for (?:something|a|help)\b",
    r"\bsend (?:it|them) (?:over|through)\b|\bi'm in\b|\bcall (?:me|us) (?:on|at|tomorrow|today)\b",
    # Spanish, French, German, Portuguese, Dutch.
    r"\bme interesa\b|\binteresad[oa]s?\b|\bhablemos\b|\benv[ií]ame\b|\bmás información\b|\bme gustaría\b",
    r"\bintéressée?s?\b|\bm'intéresse\b|\bavec plaisir\b|\bpourquoi pas\b|\benvoyez-moi\b|\bvolontiers\b|"
    r"\bplus d'informations\b",
    r"\binteressiert\b|\bgerne\b|\bgern\b|\bklingt gut\b|\bschicken sie mir\b|\binteressant\b|\bmehr infos?\b",
    r"\btenho interesse\b|\binteressad[oa]s?\b|\bpode me enviar\b|\bvamos conversar\b|\bme manda\b|\bgostaria\b",
    r"\bgeïnteresseerd\b|\bgeinteresseerd\b|\binteresse\b|\bklinkt goed\b|\bstuur (?:me|ons)\b",
)
# Short assent counts as interest, but is too weak to outweigh an unsubscribe ("yes, unsubscribe me").
_POSITIVE_WEAK_RE = _compile(
    # "graag" alone ends many a Dutch request ("afmelden graag"): assent only when it opens the reply.
    r"^(?:yes|yeah|yep|yup|ya|yes please|sure|ok|okay|sí|si|claro|oui|ja|sim|jazeker|great|perfect|cool|graag)\b",
    r"\byes\b|\bsure\b|\bsounds? fine\b",
)
_NEGATIVE_RE = _compile(
    r"\bnot (?:really |at all |currently |remotely )?interested\b|\bno interest\b|\buninterested\b",
    r"\bno,? thanks?\b|\bno,? thank you\b|\bno thx\b|\bthanks,? but no\b|\bnot for (?:us|me)\b",
    r"\bnot (?:a |the )?(?:good |right )?fit\b|n't (?:[\w']+ ){0,3}(?:a |the )?(?:good |right )?fit\b",
    r"^(?:no|nope|nah|no way|pass|hard pass|not at all)\W*$|^(?:no|nope|nah)\b[.,!]",
    r"\b(?:we're|we are|i'm|i am) (?:all set|good|fine|covered|sorted|happy with)\b|\bwe (?:already )?have (?:a|"
    r"an|our)\b",
    r"\bdo (?:this|it|that|all that) in[- ]house\b|\bstick with\b|\bforeseeable future\b",
    r"\balready (?:have|use|using|work with|got|sorted|covered)\b|\bdon't need\b|\bno need\b(?! to)|\bnot needed\b|"
    r"\bnot looking\b|\bno budget\b|\bnot relevant\b|\bnot something we\b|\bwe'll pass\b|\bi'll pass\b|"
    r"\bdoesn't (?:apply|fit)\b|\bnot (?:in|on) the market\b|\bnot a priority\b|\bdecline\b",
    r"\bno (?:me|nos) interesa\b|\bno estamos interesados\b|\bno,? gracias\b|\bno necesitamos\b",
    r"\bpas intéressée?s?\b|\bne nous intéresse pas\b|\bne m'intéresse pas\b|\bnon,? merci\b|\bpas besoin\b",
    r"\bkein(?:e)? interesse\b|\bnicht interessiert\b|\bnein,? danke\b|\bkein bedarf\b",
    r"\bnão (?:tenho|temos) interesse\b|\bnão (?:estou|estamos) interessad|\bnão,? obrigad|\bsem interesse\b",
    r"\bgeen interesse\b|\bniet geïnteresseerd\b|\bniet geinteresseerd\b|\bnee,? dank",
)
_LATER_RE = _compile(
    r"^later\W*$|\bmaybe later\b|\blater (?:this|in the|next)\b|\bnot (?:right )?now\b|\bnot at the moment\b|"
    r"\bnot the right time\b|\bask (?:me|us) again\b|\bin (?:the )?(?:spring|summer|autumn|fall|winter)\b|"
    r"\bmaybe in \d+\b|\bnot at this (?:time|stage|point)\b|\bnot yet\b|\bnot until\b|"
    r"\bnot this (?:year|quarter|month|week)\b",
    r"\b(?:circle|check|come) back\b|\bfollow[- ]up (?:in|after|next|later)\b|\b(?:reach|get) (?:back )?"
    r"(?:out )?(?:to me )?(?:again )?(?:in|after|next|later)\b|\btry (?:me|us|again) (?:in|after|next|later)\b",
    r"\btouch base (?:in|after|next|later)\b|\bping me (?:in|after|next|later)\b|\brevisit\b|\b(?:too|very) busy\b|"
    r"\bswamped\b|\bbad time\b|\bmaybe next\b|\bnext (?:quarter|year|financial year|fy)\b|\bin the new year\b|"
    r"\bafter (?:the )?(?:holidays|new year|summer|christmas|easter|eofy|end of (?:the )?(?:month|quarter|year))\b|"
    r"\bbusy (?:right now|at the moment|this|until)\b|\bcontact (?:me|us) (?:again )?(?:in|after|next)\b",
    r"\bmás adelante\b|\bmás tarde\b|\bplus tard\b|\bspäter\b|\bmais tarde\b|\bmisschien later\b|"
    r"\blater (?:pls|please|thanks|mate)\b",
)
_UNKNOWN_QUESTION_RE = _compile(
    r"^(?:who is this|who's this|who are you|how did you get|what is this|what's this|wrong)\b",
)


def _hits(pattern: re.Pattern[str], text: str, *, negatable: bool) -> list[int]:
    """Where the pattern matches, skipping matches a negation just before turns around."""
    found = []
    for match in pattern.finditer(text):
        if negatable and _NEGATOR_BEFORE_RE.search(text[max(0, match.start() - 30) : match.start()]):
            continue
        found.append(match.start())
    return found


def read_reply(text: str, *, at: datetime, channel: str = "") -> Reading:
    """What a reply on `channel` sent at `at` means (the rules in the module's docstring)."""
    words = _normalise(clean_reply(text))
    if not words:
        return Reading(ReplyIntent.UNKNOWN)
    if _AUTO_RE.search(words):
        return Reading(ReplyIntent.AUTO_REPLY)
    stops = _preferred_stops(words, channel)
    strong = _hits(_POSITIVE_STRONG_RE, words, negatable=True)
    negative = _hits(_NEGATIVE_RE, words, negatable=False)
    # A positive phrase inside a refusal ("no me interesa", "not a fit") is the refusal.
    strong = [start for start in strong if not any(start - 12 <= refusal <= start for refusal in negative)]
    if _UNSUBSCRIBE_RE.search(words) and not _NEGATED_UNSUBSCRIBE_RE.search(words) and not strong:
        return Reading(ReplyIntent.UNSUBSCRIBE)
    if _WRONG_PERSON_RE.search(words):
        return Reading(ReplyIntent.WRONG_PERSON, stops)
    positive = strong + _hits(_POSITIVE_WEAK_RE, words, negatable=True)
    later = _hits(_LATER_RE, words, negatable=False)
    if later and not negative:
        return Reading(ReplyIntent.LATER, stops, later_date(words, at))
    if positive and (not negative or max(positive) > max(negative)):
        return Reading(ReplyIntent.INTERESTED, stops)
    if negative:
        return Reading(ReplyIntent.NOT_INTERESTED, stops)
    if stops:
        return Reading(ReplyIntent.CHANNEL_PREFERENCE, stops)
    return Reading(ReplyIntent.UNKNOWN)


# --- When "later" is -----------------------------------------------------------------------------------------

_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "a few": 3, "a couple of": 2,
    "couple of": 2, "few": 3,
}  # fmt: skip
_MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name} | {
    name.lower(): number for number, name in enumerate(calendar.month_abbr) if name
}
_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_IN_RE = re.compile(rf"\bin (\d+|{'|'.join(_NUMBERS)}) (day|week|month|year)s?\b")
_DAY_MONTH_RE = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)? (?:of )?({_MONTH_NAMES})\b|\b({_MONTH_NAMES}) (\d{{1,2}})(?:st|nd|rd|th)?\b"
)
_MONTH_RE = re.compile(rf"\b(?:in|after|until|till|around|from|early|mid|end of) ({_MONTH_NAMES})\b")


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _next_occurrence(today: date, month: int, day: int) -> date:
    candidate = date(today.year, month, min(day, calendar.monthrange(today.year, month)[1]))
    return candidate if candidate > today else date(today.year + 1, month, candidate.day)


def later_date(text: str, at: datetime) -> date | None:
    """The date a `later` reply names, relative to when it was sent: "in two weeks", "next quarter", "after 15
    March", "in June", "next month", "next year"; None when it names none."""
    today = at.date()
    words = _normalise(text)
    if match := _IN_RE.search(words):
        count = int(match.group(1)) if match.group(1).isdigit() else _NUMBERS[match.group(1)]
        unit = match.group(2)
        if unit == "day":
            return today + timedelta(days=count)
        if unit == "week":
            return today + timedelta(weeks=count)
        return _add_months(today, count * (12 if unit == "year" else 1))
    if match := _DAY_MONTH_RE.search(words):
        day_text, month_text = (match.group(1), match.group(2)) if match.group(1) else (match.group(4), match.group(3))
        return _next_occurrence(today, _MONTHS[month_text], int(day_text))
    if match := _MONTH_RE.search(words):
        return _next_occurrence(today, _MONTHS[match.group(1)], 1)
    if "next quarter" in words:
        first_month = (today.month - 1) // 3 * 3 + 1
        return _add_months(date(today.year, first_month, 1), 3)
    if "next week" in words:
        return today + timedelta(days=7 - today.weekday())
    if "next month" in words:
        return _add_months(today.replace(day=1), 1)
    if re.search(r"\bnext year\b|\bnew year\b|\bafter (?:the )?(?:holidays|christmas)\b", words):
        return date(today.year + 1, 1, 1)
    return None
