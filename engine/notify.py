"""Sending a school's results message by SMTP, with the standard library only (docs/results.md,
"The results message").

The message itself (subject, text and HTML parts, masked) is built by engine/report/message.py;
this module only delivers it. A failed send raises NotifyError, which the caller reports and
never lets fail the sync or change its exit code.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from engine.config.environment import SmtpSettings
from engine.errors import NotifyError

TIMEOUT = 30.0  # seconds for the connection and each command: a dead server costs no more


def send_message(
    settings: SmtpSettings, message: EmailMessage, *, timeout: float = TIMEOUT
) -> None:
    """Deliver `message` to its To addresses through the server of `settings`.

    smtps:// speaks TLS from the start; smtp:// upgrades with STARTTLS when the server offers
    it, and refuses to send a password over a connection that stayed in clear text.
    """
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if settings.tls:
            smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        with smtp:
            smtp.ehlo()
            if not settings.tls and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
            if settings.user:
                if not settings.tls and not isinstance(smtp.sock, ssl.SSLSocket):
                    raise NotifyError(
                        f"{settings.where} does not offer STARTTLS, so the SMTP password would "
                        "travel unencrypted; nothing was sent. Use smtps:// or a server that "
                        "offers STARTTLS"
                    )
                smtp.login(settings.user, settings.password or "")
            refused = smtp.send_message(message)
    except NotifyError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise NotifyError(
            f"{settings.where} refused the user {settings.user!r} and the password in "
            f"BROMSYNC_SMTP_PASSWORD ({exc.smtp_code})"
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise NotifyError(
            f"{settings.where} refused every address: {_refusals(exc.recipients)}"
        ) from None
    except smtplib.SMTPResponseException as exc:
        said = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        raise NotifyError(f"{settings.where} answered {exc.smtp_code} {said}") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise NotifyError(f"{settings.where} could not be reached: {exc}") from None
    if refused:
        raise NotifyError(f"{settings.where} refused some addresses: {_refusals(refused)}")


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{address} ({code} {text.decode('utf-8', 'replace')})"
        for address, (code, text) in sorted(refused.items())
    )
