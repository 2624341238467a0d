from datetime import timedelta

import pytest

from kiosk.services.clerks import BadPin, ClerkError, ClerkService, Locked, NotAllowed
from kiosk.services.dossiers import utcnow
from kiosk.services.models import Clerk
from kiosk.services.store import Store


@pytest.fixture
def clerks(db_url):
    store = Store(db_url)
    yield ClerkService(store, machine="kiosk-1")
    store.close()


def test_pin_is_hashed_and_checked(clerks):
    admin = clerks.create("admin", "Quản trị", "admin", "482913")
    assert clerks.verify("admin", "482913") == admin
    row = clerks.store.read(lambda s: s.get(Clerk, admin.id))
    assert "482913" not in row.pin_hash and row.pin_hash.startswith("scrypt$")
    with pytest.raises(BadPin) as err:
        clerks.verify("admin", "000000")
    assert err.value.attempts_left == 4


def test_five_wrong_pins_lock_for_five_minutes_and_are_audited(clerks):
    clerks.create("mai", "Lò Thị Mai", "clerk", "2468")
    now = utcnow()
    for _ in range(4):
        with pytest.raises(BadPin):
            clerks.verify("mai", "1111", now=now)
    with pytest.raises(Locked):
        clerks.verify("mai", "1111", now=now)
    with pytest.raises(Locked):  # even the right PIN is refused while locked
        clerks.verify("mai", "2468", now=now + timedelta(minutes=4))
    assert clerks.verify("mai", "2468", now=now + timedelta(minutes=5, seconds=1)).username == "mai"
    actions = [e.action for e in clerks.audit_trail()]
    assert actions.count("clerk.login.bad_pin") == 4
    assert "clerk.login.lockout" in actions and "clerk.login.locked" in actions
    assert actions[0] == "clerk.login"


def test_rules(clerks):
    admin = clerks.create("admin", "A", "admin", "482913")
    with pytest.raises(ClerkError, match="6 to 12"):
        clerks.create("admin2", "A2", "admin", "4829")
    clerk = clerks.create("c1", "C", "clerk", "5678", by=admin)
    with pytest.raises(NotAllowed):
        clerks.create("c2", "C2", "clerk", "5678", by=clerk)
    with pytest.raises(ClerkError):
        clerks.create("c1", "dup", "clerk", "5678")
    with pytest.raises(ClerkError):
        clerks.create("c3", "short pin", "clerk", "12")
    assert clerks.any_admin()
    clerks.change_pin(clerk, "8765", by=admin)
    assert clerks.verify("c1", "8765") == clerk
