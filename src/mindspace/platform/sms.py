"""SMS delivery through Twilio's REST API: a `messaging.Provider` for the sms channel.

Plain HTTP (httpx) rather than Twilio's SDK: one form POST is all we need, and the SDK would
bring a blocking client onto the event loop. Any non-2xx answer raises, so `deliver_pending`
keeps the message and tries again later.
"""

from __future__ import annotations

import httpx

from mindspace.platform.messaging import Channel, OutboundMessage

TWILIO_API = "https://api.twilio.com"


class SmsDeliveryError(RuntimeError):
    """The provider refused or failed the message; it stays queued for another attempt."""


class TwilioSms:
    channel = Channel.sms

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        base_url: str = TWILIO_API,
        timeout_s: float = 10.0,
    ) -> None:
        self._sender: dict[str, str]
        if from_number and not messaging_service_sid:
            self._sender = {"From": from_number}
        elif messaging_service_sid and not from_number:
            self._sender = {"MessagingServiceSid": messaging_service_sid}
        else:
            raise ValueError("give exactly one of from_number or messaging_service_sid")
        self._url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        # One pooled client for the process: delivery runs in a loop, a TLS handshake per text
        # would double its latency.
        self._client = httpx.AsyncClient(
            auth=httpx.BasicAuth(account_sid, auth_token), timeout=timeout_s
        )

    async def deliver(self, message: OutboundMessage) -> None:
        response = await self._client.post(
            self._url, data={"To": message.recipient, **self._sender, "Body": message.body}
        )
        if not response.is_success:
            raise SmsDeliveryError(f"Twilio answered {response.status_code}: {_reason(response)}")

    async def aclose(self) -> None:
        await self._client.aclose()


def _reason(response: httpx.Response) -> str:
    # Twilio's errors are JSON {code, message, more_info}; the code says what to fix.
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return f"{body.get('code')} {body.get('message')}"[:200]
    return str(body)[:200]
