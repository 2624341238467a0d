"""A reference implementation of the provincial portal's kiosk intake API
(docs/portal-api.yaml), for tests, demos and benchmarks (`python -m kiosk portal`). A test
double: the packaged kiosk does not ship it (kiosk.spec).

Besides the contract under /api/v1 it can serve an admin API under /_admin (off unless
asked for: admin=True with its own admin_token, sent as a bearer token; JSON,
not part of the contract; `kiosk.portal.admin.PortalAdmin` wraps it):

    GET    /_admin/requests?key=&path=&method=&after=   requests received (body_b64)
    DELETE /_admin/requests                             forget them
    GET    /_admin/dossiers                             stored dossiers (body_b64)
    PUT    /_admin/dossiers/{code}/status               {"status", "message": {lang: text}}
    GET    /_admin/faults                               current Faults
    PUT    /_admin/faults                               change some options; {"reset": true}
                                                        starts from the defaults
    PUT    /_admin/kiosks/{kiosk_id}                    {"secret"}: register
    POST   /_admin/kiosks/{kiosk_id}/revoke|unrevoke|disable|enable
    PUT    /_admin/tokens/{token}   DELETE /_admin/tokens/{token}
    PUT    /_admin/procedures                           a procedure: add or change
    PUT    /_admin/clock                                {"offset": seconds}: shift its clock
"""

from kiosk.portal.faults import KINDS as FAULT_KINDS
from kiosk.portal.faults import Faults
from kiosk.portal.server import API_PREFIX, MAX_BODY, STATUSES, ReferencePortal
from kiosk.portal.store import RecordedRequest, StoredDossier

__all__ = [
    "API_PREFIX",
    "FAULT_KINDS",
    "MAX_BODY",
    "STATUSES",
    "Faults",
    "RecordedRequest",
    "ReferencePortal",
    "StoredDossier",
]
