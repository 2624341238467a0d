"""Fee timings: the VietQR payload and its QR image, a receipt with the payment QR, a bank
statement read and matched against the fees awaiting payment, and recorded payments
delivered to the loopback reference portal.

    .venv/bin/python benchmarks/bench_fees.py [--dossiers 2000] [--rows 10000]
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def timed(fn, runs: int = 1) -> tuple[object, float]:
    """(the last result, median milliseconds)."""
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return result, statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dossiers", type=int, default=2000, help="fees awaiting payment")
    parser.add_argument("--rows", type=int, default=10000, help="statement rows")
    args = parser.parse_args()

    from sqlalchemy import func, select

    from kiosk.commands.outbox import synthetic_draft
    from kiosk.portal import ReferencePortal
    from kiosk.services.banks import demo_fee_account, payment_payload
    from kiosk.services.crypto import DataCipher, load_or_create_keyring
    from kiosk.services.dossiers import DossierService
    from kiosk.services.i18n import Translator
    from kiosk.services.models import Payment
    from kiosk.services.outbox import Backoff, Outbox, PortalConfig
    from kiosk.services.payments import TRANSFER, PaymentService
    from kiosk.services.receipts import build_receipt_pdf, sample_receipt
    from kiosk.services.statements import import_statement, record_matches
    from kiosk.services.store import Store
    from kiosk.services.vietqr import qr_png

    account = demo_fee_account()
    _, ms = timed(lambda: payment_payload(account, 100000, "QN01-000123-J"), 1000)
    print(f"vietqr payload: {ms:.3f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        payload = payment_payload(account, 100000, "QN01-000123-J")
        _, ms = timed(lambda: qr_png(payload, folder / "qr.png"), 50)
        print(f"vietqr PNG: {ms:.1f} ms")
        tr = Translator.from_resources()
        data = sample_receipt("vi", procedure="1.001612")
        for size in ("80mm", "a5"):
            _, ms = timed(lambda size=size: build_receipt_pdf(data, size, tr), 20)
            print(f"receipt with payment QR, {size}: {ms:.1f} ms (target <= 100)")

        store = Store(f"sqlite:///{folder / 'kiosk.db'}")
        cipher = DataCipher(load_or_create_keyring(folder / "data.key", create=True))
        dossiers = DossierService(store, cipher, "BENCH-01", "QN01", folder / "att")
        payments = PaymentService(store, "BENCH-01")
        rng = random.Random(1)
        codes = []
        started = time.perf_counter()
        for _ in range(args.dossiers):
            confirmed = dossiers.confirm(synthetic_draft(rng))
            payments.fee_due(confirmed.id, TRANSFER, 5000)
            codes.append(confirmed.receipt_code)
        print(f"{args.dossiers} dossiers with a fee due: {time.perf_counter() - started:.1f} s")

        path = folder / "statement.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["Ngày giao dịch", "Số tiền", "Nội dung", "Số tham chiếu"])
            for i in range(args.rows):
                if i < len(codes):
                    desc = f"NGUYEN VAN A CK {codes[i].replace('-', '').lower()} LE PHI"
                    amount = "5.000"
                else:
                    desc, amount = (
                        f"chuyen tien {rng.randrange(10**9)}",
                        f"{rng.randrange(1, 999)}.000",
                    )
                w.writerow(["01/12/2026 09:00:00", amount, desc, f"FT{i:08d}"])
        result, ms = timed(lambda: import_statement(path, payments))
        print(
            f"statement of {args.rows} rows against {args.dossiers} fees: read and matched in "
            f"{ms:.0f} ms ({len(result.matches)} matched, {len(result.unmatched)} not)"
        )
        _, ms = timed(lambda: record_matches(result, payments, None))
        print(f"recording {len(result.recorded)} matches: {ms:.0f} ms "
              f"({ms / max(1, len(result.recorded)):.1f} ms each)")  # fmt: skip

        portal = ReferencePortal(
            folder / "portal.db", kiosks={"BENCH-01": "s"}, tokens=["t"], procedures=None
        )
        url = portal.start()
        try:
            config = PortalConfig(url=url, kiosk_id="BENCH-01", secret="s", token="t")
            outbox = Outbox(store, dossiers, config, backoff=Backoff(base=0.05, cap=0.3))
            started = time.perf_counter()
            while outbox.has_work():  # the dossiers, then their payments
                outbox.run_once()
            seconds = time.perf_counter() - started
            sent = store.read(
                lambda s: s.scalar(
                    select(func.count()).select_from(Payment).where(Payment.state == "delivered")
                )
            )
            print(
                f"{args.dossiers} dossiers and {sent} payments delivered in {seconds:.1f} s "
                f"({(args.dossiers + sent) / seconds:.0f} items/s) to the loopback portal"
            )
            outbox.close()
        finally:
            portal.stop()
            store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
