"""Messages from Jinja2 templates: one per kind, audience and locale, with a block per part.

`templates/<locale>/<kind>.<audience>.txt` holds the blocks `subject`, `body` (e-mail
text and in-app body), `short` (SMS and push), `discreet` (SMS and push in discreet
wording) and, for session messages, `calendar` (the .ics summary). `templates/email.html`
lays the body out as HTML. Autoescaping is on for every template but the plain-text ones
(`.txt`), whose output is never HTML; the HTML e-mail escapes every value it shows (a join
link is the only value a caller shapes).

SMS and push land on a lock screen anyone near the phone can read. In discreet wording
(`NOTIFICATIONS_DISCREET_WORDING`, on unless turned off) their text is the `discreet`
block and a push's title the locale's `discreet_title`: an appointment and its time,
"details in the app", crisis lines' numbers; never "therapy", a therapist, a plan, a risk
or a join link. E-mail and the in-app inbox, read after signing in, keep the full wording.

Instants are shown in the recipient's time zone and language (`local`, `local_date`).

Templates ship with the image: they are compiled once and kept (no check of their files'
times at each render), and `urlize` passes over a line with no link or address in it, which
it would leave as it is, without looking at it word by word (most of an e-mail's rendering).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    pass_context,
    pass_eval_context,
    select_autoescape,
)
from jinja2.filters import do_urlize
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from markupsafe import escape

from services.notifications.domain.messages import Audience, MessageKind

TEMPLATES_DIR = Path(__file__).parent / "templates"
LOCALES = ("en", "es")
DEFAULT_LOCALE = "en"
LOCK_SCREEN_CHANNELS = frozenset({"sms", "push"})
"""Channels whose text shows on a lock screen: worded discreetly unless that is turned off."""

_DAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "es": ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"],
}
_MONTHS = {
    "en": [
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ],
    "es": [
        "enero", "febrero", "marzo", "abril", "mayo", "junio",
        "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
    ],
}  # fmt: skip


def supported_locale(locale: str | None) -> str:
    """`es-MX` → `es`; anything without templates falls back to English."""
    language = (locale or DEFAULT_LOCALE).split("-")[0].lower()
    return language if language in LOCALES else DEFAULT_LOCALE


def format_date(moment: datetime, locale: str) -> str:
    day, month = _DAYS[locale][moment.weekday()], _MONTHS[locale][moment.month - 1]
    if locale == "es":
        return f"{day}, {moment.day} de {month} de {moment.year}"
    return f"{day}, {month} {moment.day}, {moment.year}"


def format_instant(moment: datetime, locale: str) -> str:
    """A local instant in words, with its zone's abbreviation: unambiguous across DST."""
    zone = moment.tzname() or ""
    if locale == "es":
        return f"{format_date(moment, locale)}, a las {moment:%H:%M} {zone}"
    hour = moment.hour % 12 or 12
    meridiem = "AM" if moment.hour < 12 else "PM"
    return f"{format_date(moment, locale)} at {hour}:{moment:%M} {meridiem} {zone}"


@pass_context
def _local(context: Context, value: str) -> str:
    moment = datetime.fromisoformat(value).astimezone(ZoneInfo(context["zone"]))
    return format_instant(moment, context["locale"])


@pass_context
def _local_date(context: Context, value: str) -> str:
    moment = datetime.fromisoformat(value).astimezone(ZoneInfo(context["zone"]))
    return format_date(moment, context["locale"])


_LINK_HINT = re.compile(r"https?://|www\.|mailto:|@|\.(?:com|net|int|edu|gov|org|info|mil)", re.IGNORECASE)
"""What every link or address `urlize` recognises has in it (a scheme, `www.`, `@`, or one
of the top-level domains it links bare): a line with none of these it leaves as it is."""


@pass_eval_context
def _urlize(eval_ctx: EvalContext, value: str, *args: Any, **kwargs: Any) -> str:
    """Jinja's `urlize`, answered at once for a line it would not change (its text, escaped)."""
    if _LINK_HINT.search(str(value)) or eval_ctx.environment.policies["urlize.extra_schemes"]:
        return do_urlize(eval_ctx, value, *args, **kwargs)
    escaped = escape(value)
    return escaped if eval_ctx.autoescape else str(escaped)


@dataclass(frozen=True, slots=True)
class Rendered:
    """One message in the recipient's language, in every form a channel may need."""

    subject: str
    body: str
    short: str
    html: str
    calendar_summary: str | None
    footer: str
    locale: str


class Renderer:
    def __init__(self, *, app_url: str, templates: Path = TEMPLATES_DIR, discreet: bool = True) -> None:
        self._app_url = app_url.rstrip("/")
        self._discreet = discreet
        self._env = Environment(
            loader=FileSystemLoader(templates),
            autoescape=select_autoescape(
                enabled_extensions=("html", "xml"),
                disabled_extensions=("txt",),
                default_for_string=True,
                default=True,
            ),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # the templates ship with the image: compiled once, kept
        )
        self._env.filters["urlize"] = _urlize
        self._env.filters["local"] = _local
        self._env.filters["local_date"] = _local_date

    def template_name(self, kind: MessageKind, audience: Audience, locale: str) -> str:
        return f"{locale}/{kind.value}.{audience.value}.txt"

    def render(
        self,
        kind: MessageKind,
        audience: Audience,
        *,
        context: Mapping[str, Any],
        locale: str | None,
        zone: str,
        channel: str,
    ) -> Rendered:
        language = supported_locale(locale)
        common = self._env.get_template(f"{language}/_common.txt").module
        template = self._env.get_template(self.template_name(kind, audience, language))
        variables = {
            **context,
            "words": common.words,  # type: ignore[attr-defined]
            "app_url": self._app_url,
            "channel": channel,
            "zone": zone,
            "locale": language,
        }
        subject = _one_line(_block(template, "subject", variables))
        short = _one_line(_block(template, "short", variables))
        if self._discreet and channel in LOCK_SCREEN_CHANNELS:
            subject = common.discreet_title  # type: ignore[attr-defined]
            short = _one_line(_block(template, "discreet", variables))
        body = _paragraphs(_block(template, "body", variables))
        footer: str = common.footer  # type: ignore[attr-defined]
        html = self._env.get_template("email.html").render(
            lang=language, subject=subject, paragraphs=body.split("\n\n"), footer=footer
        )
        calendar = (
            _one_line(_block(template, "calendar", variables)) if "calendar" in template.blocks else None
        )
        return Rendered(
            subject=subject,
            body=body,
            short=short,
            html=html,
            calendar_summary=calendar,
            footer=footer,
            locale=language,
        )


def _block(template: Template, name: str, variables: Mapping[str, Any]) -> str:
    return "".join(template.blocks[name](template.new_context(dict(variables))))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _paragraphs(text: str) -> str:
    """Paragraphs separated by one blank line, whatever blank lines the template left."""
    return "\n\n".join(part.strip() for part in re.split(r"\n\s*\n", text.strip()) if part.strip())
