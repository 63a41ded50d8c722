"""Texts per notification kind, in the person's language (English where we have none).

Two audiences, kept apart by the signatures:
- `render_in_app` is the inbox, inside the signed-in app: it may show the kind's whitelisted
  data (a reminder's own title).
- `render_external` is everything that can be seen outside the app (a lock screen, a shared
  inbox, an SMS preview). It takes no data at all, only the person's name for the greeting,
  the link into the app and a count, so a journal line, a therapy detail or a mood can never
  reach it. Its texts say that something happened; the app shows what.
Values are substituted once (`string.Template`), so a `$` in a value stays literal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from string import Template
from typing import Any

from mindspace.notifications.kinds import DIGEST, KINDS

DEFAULT_LOCALE = "en"
# What each external text may name. Checked when this module loads (and by a test).
EXTERNAL_FIELDS: Mapping[str, frozenset[str]] = {
    "title": frozenset({"count"}),
    "notice": frozenset({"count"}),
    "email": frozenset({"display_name", "notice", "link", "settings_link"}),
    "sms": frozenset({"notice", "link"}),
}


@dataclass(frozen=True, slots=True)
class _Texts:
    title: str  # inbox title, push title and email subject: external, so no data
    notice: str  # the one line said outside the app
    body: str  # inbox body: may use the kind's data fields


_TEXTS: dict[str, dict[str, _Texts]] = {
    "security_alert": {
        "en": _Texts(
            "Security alert",
            "There is a security notice about your Mindspace account.",
            "Something changed in how your account is protected. If it was not you, "
            "change your password and review your devices.",
        ),
        "es": _Texts(
            "Alerta de seguridad",
            "Hay un aviso de seguridad sobre tu cuenta de Mindspace.",
            "Algo cambió en la protección de tu cuenta. Si no fuiste tú, cambia tu "
            "contraseña y revisa tus dispositivos.",
        ),
    },
    "crisis_followup": {
        "en": _Texts(
            "Checking in",
            "Someone from Mindspace would like to check in with you.",
            "Someone from our care team would like to know how you are doing. "
            "Support is available whenever you need it.",
        ),
        "es": _Texts(
            "Queremos saber de ti",
            "Alguien de Mindspace quiere saber cómo estás.",
            "Alguien de nuestro equipo de apoyo quiere saber cómo estás. "
            "Hay ayuda disponible siempre que la necesites.",
        ),
    },
    "payment_failed": {
        "en": _Texts(
            "A payment did not go through",
            "A payment on your Mindspace account did not go through.",
            "We could not take a payment. Check your payment method to keep things running.",
        ),
        "es": _Texts(
            "Un pago no se completó",
            "Un pago de tu cuenta de Mindspace no se completó.",
            "No pudimos cobrar un pago. Revisa tu método de pago para que todo siga funcionando.",
        ),
    },
    "payment_receipt": {
        "en": _Texts(
            "Payment received",
            "We received a payment on your Mindspace account.",
            "Thank you: your payment went through. The receipt is in your billing history.",
        ),
        "es": _Texts(
            "Pago recibido",
            "Recibimos un pago en tu cuenta de Mindspace.",
            "Gracias: tu pago se completó. El recibo está en tu historial de facturación.",
        ),
    },
    "reminder_due": {
        "en": _Texts("Reminder", "You have a reminder in Mindspace.", "$title"),
        "es": _Texts("Recordatorio", "Tienes un recordatorio en Mindspace.", "$title"),
    },
    "community_reply": {
        "en": _Texts(
            "New reply",
            "Someone replied in the Mindspace community.",
            "Someone replied to your post.",
        ),
        "es": _Texts(
            "Nueva respuesta",
            "Alguien respondió en la comunidad de Mindspace.",
            "Alguien respondió a tu publicación.",
        ),
    },
    "booking_confirmed": {
        "en": _Texts(
            "Booking confirmed",
            "A booking in Mindspace was confirmed.",
            "Your booking is confirmed. The details are in your bookings.",
        ),
        "es": _Texts(
            "Reserva confirmada",
            "Se confirmó una reserva en Mindspace.",
            "Tu reserva está confirmada. Los detalles están en tus reservas.",
        ),
    },
    "booking_upcoming": {
        "en": _Texts(
            "Upcoming booking",
            "You have a booking coming up in Mindspace.",
            "Your booking is coming up soon. The details are in your bookings.",
        ),
        "es": _Texts(
            "Reserva próxima",
            "Tienes una reserva próxima en Mindspace.",
            "Tu reserva es pronto. Los detalles están en tus reservas.",
        ),
    },
    "announcement": {
        "en": _Texts("$title", "There is news from Mindspace.", "$body"),
        "es": _Texts("$title", "Hay novedades de Mindspace.", "$body"),
    },
    DIGEST: {
        "en": _Texts(
            "$count new notifications",
            "You have $count new notifications in Mindspace.",
            "You have $count new notifications.",
        ),
        "es": _Texts(
            "$count notificaciones nuevas",
            "Tienes $count notificaciones nuevas en Mindspace.",
            "Tienes $count notificaciones nuevas.",
        ),
    },
}
# The one in-app title that shows data: an announcement's, written by staff for everyone.
_IN_APP_TITLE_FIELDS = {"announcement": frozenset({"title"})}
# The announcement's title is staff-written and the same for every recipient; outside the app
# it is replaced by this generic one.
_EXTERNAL_TITLE_OVERRIDE = {"announcement": {"en": "News from Mindspace", "es": "Novedades"}}

_EMAIL = {
    "en": "Hello $display_name,\n\n$notice\n\nOpen Mindspace to see it:\n$link\n\n"
    "You receive this email because of your notification settings. Change them here:\n"
    "$settings_link",
    "es": "Hola, $display_name:\n\n$notice\n\nAbre Mindspace para verlo:\n$link\n\n"
    "Recibes este correo por tu configuración de notificaciones. Cámbiala aquí:\n"
    "$settings_link",
}
_SMS = {"en": "Mindspace: $notice $link", "es": "Mindspace: $notice $link"}
LOCALES = frozenset(_EMAIL)


@dataclass(frozen=True, slots=True)
class InApp:
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class External:
    title: str
    notice: str
    email_subject: str
    email_text: str
    sms_text: str


def language(locale: str | None) -> str:
    """The language we have texts for: "es-MX", "es_ES.UTF-8" and "ES" all read as "es";
    anything we do not translate reads as English."""
    if not locale:
        return DEFAULT_LOCALE
    primary = locale.replace("_", "-").split("-", 1)[0].split(".", 1)[0].strip().lower()
    return primary if primary in LOCALES else DEFAULT_LOCALE


def _texts(kind: str, locale: str | None) -> tuple[str, _Texts]:
    texts = _TEXTS[kind]
    lang = language(locale)
    return (lang, texts[lang]) if lang in texts else (DEFAULT_LOCALE, texts[DEFAULT_LOCALE])


def _fill(template: str, values: Mapping[str, Any]) -> str:
    return Template(template).substitute({k: str(v) for k, v in values.items()})


def render_in_app(kind: str, locale: str | None, data: Mapping[str, Any]) -> InApp:
    _, texts = _texts(kind, locale)
    values = {"count": data.get("count", 1), **data}
    return InApp(title=_one_line(_fill(texts.title, values)), body=_fill(texts.body, values))


def render_external(
    kind: str, locale: str | None, *, display_name: str, link: str, settings_link: str, count: int
) -> External:
    lang, texts = _texts(kind, locale)
    title = _EXTERNAL_TITLE_OVERRIDE.get(kind, {}).get(lang, texts.title)
    title = _one_line(_fill(title, {"count": count}))
    notice = _fill(texts.notice, {"count": count})
    email = _fill(
        _EMAIL[lang],
        {
            "display_name": _one_line(display_name),
            "notice": notice,
            "link": link,
            "settings_link": settings_link,
        },
    )
    sms = _fill(_SMS[lang], {"notice": notice, "link": link})
    return External(title=title, notice=notice, email_subject=title, email_text=email, sms_text=sms)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def placeholders(template: str) -> set[str]:
    return set(Template(template).get_identifiers())


def check_templates() -> None:
    """Every kind has English texts, and every text names only the fields it may. A broken
    template fails at import, not at 3 a.m. in a worker."""
    for kind, by_locale in _TEXTS.items():
        if DEFAULT_LOCALE not in by_locale:
            raise AssertionError(f"{kind}: no {DEFAULT_LOCALE} texts")
        data_fields = set(KINDS[kind].data.model_fields) if kind in KINDS else set()
        in_app = data_fields | {"count"}
        for lang, texts in by_locale.items():
            title_fields = EXTERNAL_FIELDS["title"] | _IN_APP_TITLE_FIELDS.get(kind, frozenset())
            checks = {
                "title": (texts.title, title_fields),
                "notice": (texts.notice, EXTERNAL_FIELDS["notice"]),
                "body": (texts.body, in_app),
            }
            for name, (template, allowed) in checks.items():
                extra = placeholders(template) - allowed
                if extra:
                    raise AssertionError(f"{kind}/{lang}.{name} names {sorted(extra)}")
    for lang in LOCALES:
        for name, table in (("email", _EMAIL), ("sms", _SMS)):
            extra = placeholders(table[lang]) - EXTERNAL_FIELDS[name]
            if extra:
                raise AssertionError(f"{name}/{lang} names {sorted(extra)}")
    for kind in KINDS:
        if kind not in _TEXTS:
            raise AssertionError(f"{kind}: no texts")


check_templates()
