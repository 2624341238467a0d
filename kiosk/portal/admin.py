"""PortalAdmin: the reference portal's admin API over HTTP, for a portal running in another
process (`python -m kiosk portal`). Same method names as ReferencePortal."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

import requests

from kiosk.portal.faults import Faults
from kiosk.portal.store import RecordedRequest, StoredDossier


class PortalAdmin:
    def __init__(self, base_url: str, token: str, timeout: float = 10.0) -> None:
        """base_url: the portal's root (http://127.0.0.1:8400) or its API URL (.../api/v1);
        token: the portal's --admin-token."""
        self.base_url = base_url.rstrip("/").removesuffix("/api/v1")
        self.timeout = timeout
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        self._session.close()

    def _call(
        self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        response = self._session.request(
            method, f"{self.base_url}/_admin/{path}", json=json, params=params, timeout=self.timeout
        )
        if response.status_code == 404:
            raise KeyError(path)
        if response.status_code != 200:
            raise ValueError(f"admin {method} {path}: {response.status_code} {response.text}")
        return response.json()

    def requests(
        self,
        key: str | None = None,
        *,
        path: str | None = None,
        method: str | None = None,
        after: int = 0,
    ) -> list[RecordedRequest]:
        params = {k: v for k, v in (("key", key), ("path", path), ("method", method)) if v}
        params["after"] = after
        rows = self._call("GET", "requests", params=params)["requests"]
        return [
            RecordedRequest(
                r["id"],
                r["at"],
                r["method"],
                r["path"],
                r["query"],
                r["kiosk_id"],
                r["idempotency_key"],
                r["headers"],
                base64.b64decode(r["body_b64"]),
                r["body_size"],
                r["status"],
                r["outcome"],
                r["fault"],
                r["error"],
            )
            for r in rows
        ]

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")

    def dossiers(self) -> list[StoredDossier]:
        return [_dossier(d) for d in self._call("GET", "dossiers")["dossiers"]]

    def dossier(self, code: str) -> StoredDossier | None:
        return next((d for d in self.dossiers() if d.code == code), None)

    def set_status(self, code: str, status: str, message: dict[str, str] | None = None) -> None:
        self._call(
            "PUT", f"dossiers/{quote(code, safe='')}/status", {"status": status, "message": message}
        )

    def get_faults(self) -> Faults:
        return Faults.from_json(self._call("GET", "faults"))

    def set_faults(self, faults: Faults | None = None, **changes: Any) -> Faults:
        """As ReferencePortal.set_faults: `faults` replaces, keyword options change."""
        body = {**faults.to_json(), **changes} if faults is not None else dict(changes)
        return Faults.from_json(self._call("PUT", "faults", body))

    def add_kiosk(self, kiosk_id: str, secret: str) -> None:
        self._call("PUT", f"kiosks/{quote(kiosk_id, safe='')}", {"secret": secret})

    def revoke_kiosk(self, kiosk_id: str, revoked: bool = True) -> None:
        self._call(
            "POST", f"kiosks/{quote(kiosk_id, safe='')}/" + ("revoke" if revoked else "unrevoke")
        )

    def disable_kiosk(self, kiosk_id: str, disabled: bool = True) -> None:
        self._call(
            "POST", f"kiosks/{quote(kiosk_id, safe='')}/" + ("disable" if disabled else "enable")
        )

    def add_token(self, token: str) -> None:
        self._call("PUT", f"tokens/{quote(token, safe='')}")

    def remove_token(self, token: str) -> None:
        self._call("DELETE", f"tokens/{quote(token, safe='')}")

    def upsert_procedure(
        self, procedure: dict[str, Any], updated_at: str | None = None
    ) -> dict[str, Any]:
        body = dict(procedure)
        if updated_at is not None:
            body["updated_at"] = updated_at
        return self._call("PUT", "procedures", body)

    def set_clock_offset(self, seconds: float) -> None:
        self._call("PUT", "clock", {"offset": seconds})


def _dossier(d: dict[str, Any]) -> StoredDossier:
    return StoredDossier(
        d["code"],
        d["client_ref"],
        d["kiosk_id"],
        base64.b64decode(d["body_b64"]),
        d["received_at"],
        d["expected_result_date"],
        d["status"],
        d["updated_at"],
        d["message"],
    )
