"""The words of the subscription pages and messages, in every page language.

Kept as a table here rather than in the status page's gettext catalogue, so that the
subscription part can change without regenerating that catalogue. Templates call
`t("key", name=value)`; placeholders are %(name)s. tests/statuspage/test_subscriptions_pages
checks that every key has every language of statuspage.i18n.PAGE_LANGUAGES with the same
placeholders; adding a language means adding it to each entry below.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

Text = Callable[..., str]

TEXT: dict[str, dict[str, str]] = {
    # --- the subscribe page ---------------------------------------------------------------
    "subscribe.title": {"en": "Get status updates", "de": "Status-Updates erhalten"},
    "subscribe.intro": {
        "en": "We tell you when we post an update about a problem with our services. "
        "Every message has a link to unsubscribe.",
        "de": "Wir benachrichtigen Sie, wenn wir ein Update zu einer Störung unserer Dienste "
        "veröffentlichen. Jede Nachricht enthält einen Link zum Abmelden.",
    },
    "subscribe.channels": {"en": "Receive updates by", "de": "Updates erhalten per"},
    "channel.email": {"en": "E-mail", "de": "E-Mail"},
    "channel.sms": {"en": "Text message (SMS)", "de": "SMS"},
    "channel.webhook": {"en": "Webhook", "de": "Webhook"},
    "field.email": {"en": "E-mail address", "de": "E-Mail-Adresse"},
    "field.sms": {"en": "Mobile number", "de": "Handynummer"},
    "hint.sms": {
        "en": "With the country code, for example +44 7911 123456 or +49 151 23456789.",
        "de": "Mit Ländervorwahl, zum Beispiel +49 151 23456789 oder +44 7911 123456.",
    },
    "field.webhook": {"en": "Webhook URL", "de": "Webhook-URL"},
    "hint.webhook": {
        "en": "We POST signed JSON to this address. It must be reachable from the internet.",
        "de": "Wir senden signiertes JSON per POST an diese Adresse. Sie muss aus dem Internet "
        "erreichbar sein.",
    },
    "field.scope": {"en": "Which services?", "de": "Welche Dienste?"},
    "scope.all": {"en": "All services", "de": "Alle Dienste"},
    "scope.some": {
        "en": "Only the services I choose below",
        "de": "Nur die unten gewählten Dienste",
    },
    "field.language": {"en": "Language of the messages", "de": "Sprache der Nachrichten"},
    "button.subscribe": {"en": "Subscribe", "de": "Abonnieren"},
    "privacy": {
        "en": "We use your address only to send these updates, and keep it until you unsubscribe.",
        "de": "Wir verwenden Ihre Adresse nur für diese Updates und speichern sie, bis Sie sich "
        "abmelden.",
    },
    "back": {"en": "Back to the status page", "de": "Zurück zur Statusseite"},
    "error.heading": {"en": "Please check your input", "de": "Bitte prüfen Sie Ihre Eingabe"},
    "error.address_missing": {
        "en": "Please enter where we should send the updates.",
        "de": "Bitte geben Sie an, wohin wir die Updates senden sollen.",
    },
    "error.email_invalid": {
        "en": "Please enter a valid e-mail address, like name@example.com.",
        "de": "Bitte geben Sie eine gültige E-Mail-Adresse ein, z. B. name@example.com.",
    },
    "error.email_too_long": {
        "en": "That e-mail address is too long (at most 254 characters).",
        "de": "Diese E-Mail-Adresse ist zu lang (höchstens 254 Zeichen).",
    },
    "error.phone_invalid": {
        "en": "Please enter a valid mobile number with the country code, like +44 7911 123456.",
        "de": "Bitte geben Sie eine gültige Handynummer mit Ländervorwahl ein, z. B. "
        "+49 151 23456789.",
    },
    "error.phone_not_mobile": {
        "en": "This number cannot receive text messages. Please enter a mobile number.",
        "de": "Diese Nummer kann keine SMS empfangen. Bitte geben Sie eine Handynummer ein.",
    },
    "error.url_invalid": {
        "en": "Please enter a valid URL, like https://example.com/hooks/status.",
        "de": "Bitte geben Sie eine gültige URL ein, z. B. https://example.com/hooks/status.",
    },
    "error.url_too_long": {
        "en": "That URL is too long (at most 500 characters).",
        "de": "Diese URL ist zu lang (höchstens 500 Zeichen).",
    },
    "error.url_scheme": {
        "en": "Only http:// and https:// URLs are allowed.",
        "de": "Nur URLs mit http:// oder https:// sind erlaubt.",
    },
    "error.url_credentials": {
        "en": "Please remove the user name and password from the URL.",
        "de": "Bitte entfernen Sie Benutzername und Passwort aus der URL.",
    },
    "error.url_unresolvable": {
        "en": "We could not find the host of that URL.",
        "de": "Den Host dieser URL konnten wir nicht finden.",
    },
    "error.url_private": {
        "en": "Webhooks must go to a public internet address, not a private, local or "
        "reserved one.",
        "de": "Webhooks müssen an eine öffentliche Internetadresse gehen, nicht an eine "
        "private, lokale oder reservierte.",
    },
    "error.components_missing": {
        "en": "Please choose at least one service, or all services.",
        "de": "Bitte wählen Sie mindestens einen Dienst oder alle Dienste.",
    },
    "error.components_unknown": {
        "en": "One of the chosen services does not exist. Please choose again.",
        "de": "Einer der gewählten Dienste existiert nicht. Bitte wählen Sie erneut.",
    },
    "error.channel_unknown": {
        "en": "Please choose e-mail, text message or webhook.",
        "de": "Bitte wählen Sie E-Mail, SMS oder Webhook.",
    },
    "error.language_unknown": {
        "en": "Please choose a language from the list.",
        "de": "Bitte wählen Sie eine Sprache aus der Liste.",
    },
    "error.form_invalid": {
        "en": "The form could not be read. Please fill it in again.",
        "de": "Das Formular konnte nicht gelesen werden. Bitte füllen Sie es erneut aus.",
    },
    # --- after subscribing ----------------------------------------------------------------
    "sent.title": {"en": "Almost done: please confirm", "de": "Fast geschafft: bitte bestätigen"},
    "sent.email": {
        "en": "We have sent an e-mail to %(address)s. Open the link in it within 48 hours to "
        "confirm your subscription. If this address is already subscribed, the e-mail says so.",
        "de": "Wir haben eine E-Mail an %(address)s gesendet. Öffnen Sie den Link darin "
        "innerhalb von 48 Stunden, um Ihr Abonnement zu bestätigen. Ist die Adresse schon "
        "angemeldet, steht das in der E-Mail.",
    },
    "sent.email.spam": {
        "en": "Nothing there after a few minutes? Check your spam folder.",
        "de": "Nach ein paar Minuten nichts angekommen? Sehen Sie im Spam-Ordner nach.",
    },
    "sent.sms": {
        "en": "We have sent a text message to %(address)s. Enter the 6-digit code from it "
        "below within 30 minutes. If this number is already subscribed, the message says so.",
        "de": "Wir haben eine SMS an %(address)s gesendet. Geben Sie den 6-stelligen Code "
        "daraus innerhalb von 30 Minuten unten ein. Ist die Nummer schon angemeldet, steht "
        "das in der SMS.",
    },
    "field.code": {"en": "6-digit code", "de": "6-stelliger Code"},
    "button.confirm": {"en": "Confirm", "de": "Bestätigen"},
    "code.invalid": {
        "en": "That code is not valid or has expired. Check the code, or subscribe again to "
        "get a new one.",
        "de": "Dieser Code ist ungültig oder abgelaufen. Prüfen Sie den Code oder melden Sie "
        "sich erneut an, um einen neuen zu erhalten.",
    },
    "sent.webhook": {
        "en": "We are sending a signed subscription.confirm request to %(address)s. To start "
        "the subscription, send a POST request to the confirm_url in it within 48 hours.",
        "de": "Wir senden eine signierte subscription.confirm-Anfrage an %(address)s. Um das "
        "Abonnement zu starten, senden Sie innerhalb von 48 Stunden eine POST-Anfrage an die "
        "confirm_url darin.",
    },
    "sent.secret": {"en": "Your signing secret", "de": "Ihr Signaturschlüssel"},
    "sent.secret.hint": {
        "en": "Every request carries X-Firstword-Signature: t=<unix time>,v1=<hex "
        "HMAC-SHA256 of “<t>.<body>” with this secret>. It is shown only this once: copy "
        "it now.",
        "de": "Jede Anfrage trägt X-Firstword-Signature: t=<Unix-Zeit>,v1=<hex HMAC-SHA256 "
        "von „<t>.<Body>“ mit diesem Schlüssel>. Er wird nur dieses eine Mal angezeigt: "
        "kopieren Sie ihn jetzt.",
    },
    # --- confirm and unsubscribe pages -----------------------------------------------------
    "confirm.title": {"en": "Confirm your subscription", "de": "Abonnement bestätigen"},
    "confirm.question": {
        "en": "Start sending status updates to %(address)s?",
        "de": "Status-Updates ab jetzt an %(address)s senden?",
    },
    "scope.all.sentence": {"en": "For all services.", "de": "Für alle Dienste."},
    "scope.some.sentence": {"en": "For these services:", "de": "Für diese Dienste:"},
    "confirmed.title": {"en": "You are subscribed", "de": "Abonnement bestätigt"},
    "confirmed.text": {
        "en": "We will send status updates to %(address)s. Every message has a link to "
        "unsubscribe.",
        "de": "Wir senden Status-Updates an %(address)s. Jede Nachricht enthält einen Link "
        "zum Abmelden.",
    },
    "invalid.title": {"en": "This link is not valid", "de": "Dieser Link ist nicht gültig"},
    "invalid.text": {
        "en": "It may have expired or been used already. You can subscribe again at any time.",
        "de": "Er ist vielleicht abgelaufen oder wurde schon benutzt. Sie können sich "
        "jederzeit erneut anmelden.",
    },
    "subscribe.again": {"en": "Subscribe to status updates", "de": "Status-Updates abonnieren"},
    "unsubscribe.title": {"en": "Unsubscribe", "de": "Abmelden"},
    "unsubscribe.question": {
        "en": "Stop sending status updates to %(address)s?",
        "de": "Keine Status-Updates mehr an %(address)s senden?",
    },
    "button.unsubscribe": {"en": "Unsubscribe", "de": "Abmelden"},
    "unsubscribed.title": {"en": "You are unsubscribed", "de": "Sie sind abgemeldet"},
    "unsubscribed.text": {
        "en": "We will not send any more status updates to %(address)s.",
        "de": "Wir senden keine Status-Updates mehr an %(address)s.",
    },
    # --- e-mail ---------------------------------------------------------------------------
    "mail.confirm.subject": {
        "en": "Please confirm: status updates from %(brand)s",
        "de": "Bitte bestätigen: Status-Updates von %(brand)s",
    },
    "mail.confirm.intro": {
        "en": "Someone, hopefully you, asked to receive status updates from %(brand)s at this "
        "address.",
        "de": "Jemand, hoffentlich Sie, möchte Status-Updates von %(brand)s an diese Adresse "
        "erhalten.",
    },
    "mail.confirm.action": {
        "en": "To confirm, open this link within 48 hours:",
        "de": "Zum Bestätigen öffnen Sie diesen Link innerhalb von 48 Stunden:",
    },
    "mail.confirm.button": {"en": "Confirm subscription", "de": "Abonnement bestätigen"},
    "mail.confirm.ignore": {
        "en": "If you did not ask for this, ignore this e-mail: you will not hear from us again.",
        "de": "Falls Sie das nicht angefordert haben, ignorieren Sie diese E-Mail: Sie "
        "erhalten dann nichts weiter von uns.",
    },
    "mail.scope.all": {"en": "Services: all", "de": "Dienste: alle"},
    "mail.scope.some": {"en": "Services: %(names)s", "de": "Dienste: %(names)s"},
    "mail.already.subject": {
        "en": "You already receive status updates from %(brand)s",
        "de": "Sie erhalten bereits Status-Updates von %(brand)s",
    },
    "mail.already.text": {
        "en": "Someone, hopefully you, asked to subscribe this address to status updates from "
        "%(brand)s. It is subscribed already, so nothing has changed.",
        "de": "Jemand, hoffentlich Sie, wollte diese Adresse für Status-Updates von %(brand)s "
        "anmelden. Sie ist bereits angemeldet, es hat sich also nichts geändert.",
    },
    "mail.already.change": {
        "en": "To choose other services or another language, unsubscribe with the link below "
        "and subscribe again.",
        "de": "Um andere Dienste oder eine andere Sprache zu wählen, melden Sie sich mit dem "
        "Link unten ab und erneut an.",
    },
    "mail.footer": {
        "en": "You receive this e-mail because this address is subscribed to status updates "
        "from %(brand)s.",
        "de": "Sie erhalten diese E-Mail, weil diese Adresse für Status-Updates von %(brand)s "
        "angemeldet ist.",
    },
    "mail.footer.pending": {
        "en": "This address is not subscribed until the link above is opened.",
        "de": "Diese Adresse ist erst angemeldet, wenn der Link oben geöffnet wurde.",
    },
    "mail.unsubscribe": {"en": "Unsubscribe", "de": "Abmelden"},
    "mail.update.subject": {
        "en": "[%(brand)s] %(state)s: %(title)s",
        "de": "[%(brand)s] %(state)s: %(title)s",
    },
    "mail.update.posted": {"en": "Posted %(when)s", "de": "Veröffentlicht: %(when)s"},
    "mail.update.affected": {"en": "Affected services", "de": "Betroffene Dienste"},
    "mail.update.advice": {"en": "What you can do", "de": "Was Sie tun können"},
    "mail.update.more": {
        "en": "All details on our status page:",
        "de": "Alle Details auf unserer Statusseite:",
    },
    "mail.update.page": {"en": "Open the status page", "de": "Statusseite öffnen"},
    # --- SMS ------------------------------------------------------------------------------
    "sms.code": {
        "en": "%(brand)s status updates: your code is %(code)s. It is valid for 30 minutes. "
        "Did not ask for it? Ignore this message.",
        "de": "%(brand)s Status-Updates: Ihr Code lautet %(code)s. Er ist 30 Minuten gültig. "
        "Nicht angefordert? Ignorieren Sie diese SMS.",
    },
    "sms.already": {
        "en": "%(brand)s: this number already receives our status updates. Stop: %(url)s",
        "de": "%(brand)s: Diese Nummer erhält bereits unsere Status-Updates. Abmelden: %(url)s",
    },
    "sms.more": {"en": "More:", "de": "Mehr:"},
    "sms.stop": {"en": "Stop:", "de": "Abmelden:"},
}


@cache
def texts(lang: str) -> Text:
    """`t(key, **values)` in `lang`; a missing key is a bug and raises KeyError."""

    def t(key: str, **values: object) -> str:
        text = TEXT[key][lang]
        return text % values if values else text

    return t
