"""Recorded fee payments as an item kind of the delivery state machine
(kiosk.services.delivery): POST /payments (contract 1.1), no Qt.

A payment is claimed only once its dossier is delivered (it has the portal's receipt),
and is sent with its frozen body and Idempotency-Key = its client_ref, so a replay after
a kill, a timeout or a lost answer is answered 200 with the original acknowledgement:
exactly once at the portal. Where the contract says so, a refusal is transient:
- a 422 whose only detail is `dossier_client_ref` (the portal does not know the dossier
  yet);
- a 422 whose only detail is `supersedes` (the record it corrects is not delivered yet:
  a correction may be claimed before the record it corrects, and waits for it);
- a 404 from a portal whose /health says an api_version below 1.1: the payment stays
  queued (retried in an hour) and its last error says so, for the clerk.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.services.delivery import DeliveryKind, Item, SendContext, register
from kiosk.services.models import Payment, PaymentAttempt
from kiosk.services.portal_client import NotFound, Permanent, PortalClient, PortalError, Transient

log = logging.getLogger(__name__)

OLD_PORTAL_WAIT = 3600.0  # a 1.0 portal: look again in an hour
OLD_PORTAL = "the portal takes no payments yet (api_version < 1.1)"
_PAYMENTS = Payment.__table__


@dataclass(frozen=True)
class Recorded:
    received_at: str
    replay: bool


def post_payment(client: PortalClient, body: bytes, client_ref: str) -> Recorded:
    """POST /payments with exactly these bytes (Idempotency-Key = client_ref); the
    client's typed errors otherwise."""
    answer = client._send(
        "POST",
        "/payments",
        body=body,
        headers={"Content-Type": "application/json", "Idempotency-Key": client_ref},
    )
    what = f"payment {client_ref}"
    payload = client._check(answer, what)
    if not isinstance(payload, dict) or payload.get("status") != "recorded":
        raise client._malformed(answer, what, "status")
    received = payload.get("received_at")
    return Recorded(received if isinstance(received, str) else "", answer.status_code == 200)


def portal_api_version(client: PortalClient) -> tuple[int, int] | None:
    """The portal's api_version from /health ((1, 0) when absent), None if unknown."""
    try:
        payload = client._check(client._send("GET", "/health", signed=False), "health")
    except PortalError:
        return None
    version = payload.get("api_version") if isinstance(payload, dict) else None
    try:
        major, minor = (int(x) for x in str(version or "1.0").split(".")[:2])
    except ValueError:
        return None
    return major, minor


# A 422 naming only this field: what the payment needs is not at the portal yet.
_NOT_YET = {
    "dossier_client_ref": "the portal does not know the dossier yet",
    "supersedes": "the corrected payment is not there yet",
}


def _only(exc: Permanent, field: str) -> bool:
    return (
        exc.status == 422
        and bool(exc.details)
        and all(d.get("field") == field for d in exc.details)
    )


@register
class PaymentKind(DeliveryKind):
    """A recorded payment: POST /payments, after its dossier."""

    name = "payment"
    table = _PAYMENTS
    order = 20  # after dossiers
    after = (("dossier", "dossier_id"),)
    delivered_columns = ("delivered_at",)
    attempts_table = PaymentAttempt.__table__
    attempts_owner = "payment_id"
    columns = ("id", "client_ref", "body")  # its body is stored as it is sent

    def prepare(self, item: Item) -> bytes:
        return bytes(item.data.body)

    def send(self, item: Item, ctx: SendContext) -> Recorded:
        body, ref = item.request, item.client_ref
        try:
            return ctx.call(lambda c: post_payment(c, body, ref))
        except Permanent as exc:
            for field, why in _NOT_YET.items():
                if _only(exc, field):
                    raise Transient(422, None, False, why) from None
            raise
        except NotFound:
            version = ctx.call(portal_api_version)
            if version is not None and version < (1, 1):
                log.warning("payment %s: %s", ref, OLD_PORTAL)
                raise Transient(404, OLD_PORTAL_WAIT, False, OLD_PORTAL) from None
            raise

    def delivered_values(self, answer: Recorded, now: datetime) -> dict[str, Any]:
        if not isinstance(answer, Recorded):
            raise ValueError("not a payment acknowledgement")
        return {"delivered_at": now}
