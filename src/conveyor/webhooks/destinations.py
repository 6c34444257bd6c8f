"""Where webhooks may be sent: never, in production, into the service's own network (SSRF)."""

from urllib.parse import urlsplit

from conveyor.errors import ValidationError
from conveyor.kit.network import internal_address


class DestinationRefused(ValidationError):
    code = "WEBHOOK_URL_REFUSED"


def check_url_shape(url: str, *, production: bool) -> None:
    """An absolute http(s) URL with a host; https only in production."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise DestinationRefused("url: must be an absolute http or https URL")
    if production and parts.scheme != "https":
        raise DestinationRefused("url: must use https in production")
    if parts.username or parts.password:
        raise DestinationRefused("url: must not carry credentials")


async def check_destination(url: str, *, production: bool) -> None:
    """Refuse URLs that resolve to loopback, private, link-local or reserved addresses.

    Checked when a subscription is made and again before every delivery, since a name can
    start resolving elsewhere after it was accepted. Development allows local receivers.
    """
    check_url_shape(url, production=production)
    if not production:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        address = await internal_address(host, port)
    except OSError:
        raise DestinationRefused(f"url: host {host} does not resolve") from None
    if address is not None:
        raise DestinationRefused(
            f"url: {host} resolves to {address}, an internal address; webhooks go only"
            " to public hosts in production"
        )
