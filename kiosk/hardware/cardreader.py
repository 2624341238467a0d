"""Smart-card readers behind one small interface (no Qt here).

`CardReader.readers()` names the readers, `wait_for_card(timeout)` returns a
`CardConnection` whose `transmit(apdu) -> (data, sw)` talks to the card. Failures are
`CardReaderError` subclasses with a translation key for the citizen and a detail for
the clerk (never personal data):

- `NoReaderError`: no reader, or the PC/SC service is not running;
- `NoCardError`: no card was placed within the time given;
- `CardRemovedError`: the card left the reader during the exchange;
- `ReaderGoneError`: the reader or the PC/SC service went away during the exchange.

`PcscReader` uses pcscd through pyscard. `SimulatedReader` holds the project's card
emulator (kiosk.hardware.card_emulator) in the same process.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class CardReaderError(Exception):
    key = "chip.error.reader"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NoReaderError(CardReaderError):
    key = "chip.error.no_reader"


class NoCardError(CardReaderError):
    key = "chip.error.no_card"


class CardRemovedError(CardReaderError):
    key = "chip.error.card_removed"


class ReaderGoneError(CardReaderError):
    key = "chip.error.reader_gone"


class CardConnection(Protocol):
    reader_name: str
    atr: bytes

    def transmit(self, apdu: bytes) -> tuple[bytes, int]: ...

    def close(self) -> None: ...


class CardReader(Protocol):
    def readers(self) -> list[str]: ...

    def wait_for_card(
        self, timeout: float, cancel: threading.Event | None = None
    ) -> CardConnection: ...


# --------------------------------------------------------------------------- PC/SC
class _PcscConnection:
    def __init__(self, owner: PcscReader, context, card, protocol, name: str, atr: bytes):
        self._owner = owner
        self._context = context
        self._card = card
        self._protocol = protocol
        self.reader_name = name
        self.atr = atr

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        from smartcard import scard

        if self._card is None:
            raise CardRemovedError("the connection to the card is closed")
        hresult, response = scard.SCardTransmit(self._card, self._protocol, list(apdu))
        if hresult != scard.SCARD_S_SUCCESS:
            self._fail(hresult)
        if len(response) < 2:
            raise CardRemovedError(f"{self.reader_name}: the card answered nothing (taken away)")
        return bytes(response[:-2]), (response[-2] << 8) | response[-1]

    def _fail(self, hresult: int):
        from smartcard import scard

        message = scard.SCardGetErrorMessage(hresult)
        if hresult in (scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED) or hresult in (
            scard.SCARD_E_READER_UNAVAILABLE,
            scard.SCARD_E_UNKNOWN_READER,
        ):
            raise ReaderGoneError(f"{self.reader_name}: {message}")
        # Is the reader still there? Ask pcscd afresh: the service or the reader may be gone.
        if self.reader_name not in self._owner.readers(quiet=True):
            raise ReaderGoneError(f"{self.reader_name}: {message} (the reader is gone)")
        raise CardRemovedError(f"{self.reader_name}: {message}")

    def close(self) -> None:
        from smartcard import scard

        if self._card is not None:
            # Also after an error: pcscd keeps the reader's state until the handle goes.
            scard.SCardDisconnect(self._card, scard.SCARD_RESET_CARD)
            self._card = None
        if self._context is not None:
            scard.SCardReleaseContext(self._context)
            self._context = None


class PcscReader:
    """Readers of the PC/SC service (pcscd); `name` picks one by a part of its name."""

    def __init__(self, name: str = "", poll_interval: float = 0.2) -> None:
        self.name = name
        self.poll_interval = poll_interval

    def _context(self):
        try:
            from smartcard import scard
        except ImportError as exc:  # pyscard not installed
            raise NoReaderError(f"pyscard is not installed: {exc}") from exc
        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            raise NoReaderError(
                f"the PC/SC service (pcscd) is not available: {scard.SCardGetErrorMessage(hresult)}"
            )
        return context

    def readers(self, quiet: bool = False) -> list[str]:
        try:
            context = self._context()
        except NoReaderError:
            if quiet:
                return []
            raise
        from smartcard import scard

        try:
            hresult, names = scard.SCardListReaders(context, [])
            if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
                return []
            if hresult != scard.SCARD_S_SUCCESS:
                if quiet:
                    return []
                raise NoReaderError(
                    f"cannot list PC/SC readers: {scard.SCardGetErrorMessage(hresult)}"
                )
            return list(names)
        finally:
            scard.SCardReleaseContext(context)

    def _candidates(self, names: list[str]) -> list[str]:
        return [n for n in names if self.name.lower() in n.lower()] if self.name else names

    def wait_for_card(
        self, timeout: float, cancel: threading.Event | None = None
    ) -> _PcscConnection:
        deadline = time.monotonic() + timeout
        context = self._context()
        from smartcard import scard

        try:
            while True:
                hresult, names = scard.SCardListReaders(context, [])
                if hresult in (scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED):
                    raise NoReaderError("the PC/SC service (pcscd) stopped")
                names = self._candidates(list(names) if hresult == scard.SCARD_S_SUCCESS else [])
                if not names:
                    wanted = f" matching {self.name!r}" if self.name else ""
                    raise NoReaderError(f"no PC/SC reader{wanted}")
                for name in names:
                    hresult, card, protocol = scard.SCardConnect(
                        context,
                        name,
                        scard.SCARD_SHARE_EXCLUSIVE,
                        scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
                    )
                    if hresult == scard.SCARD_S_SUCCESS:
                        status = scard.SCardStatus(card)
                        atr = bytes(status[4]) if status[0] == scard.SCARD_S_SUCCESS else b""
                        conn = _PcscConnection(self, context, card, protocol, name, atr)
                        context = None  # owned by the connection now
                        return conn
                    if hresult in (scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED):
                        raise NoReaderError("the PC/SC service (pcscd) stopped")
                if time.monotonic() >= deadline or (cancel is not None and cancel.is_set()):
                    raise NoCardError(f"no card on {', '.join(names)} within {timeout:.0f} s")
                time.sleep(self.poll_interval)
        finally:
            if context is not None:
                scard.SCardReleaseContext(context)


# --------------------------------------------------------------------------- simulated
class SimulatedCard(Protocol):
    atr: bytes

    def reset(self) -> None: ...

    def process(self, apdu: bytes) -> bytes: ...


class _SimulatedConnection:
    def __init__(self, reader: SimulatedReader, card: SimulatedCard) -> None:
        self._reader = reader
        self._card = card
        self.reader_name = reader.name
        self.atr = card.atr

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        reader = self._reader
        if reader.gone:
            raise ReaderGoneError(f"{self.reader_name}: the reader is gone")
        if reader.card is not self._card:
            raise CardRemovedError(f"{self.reader_name}: the card was removed")
        reader.delay()
        response = self._card.process(bytes(apdu))
        reader.exchanges += 1
        if reader.pull_after is not None and reader.exchanges >= reader.pull_after:
            reader.card = None
            raise CardRemovedError(f"{self.reader_name}: the card was removed")
        return response[:-2], int.from_bytes(response[-2:], "big")

    def close(self) -> None:
        self._card = None


class SimulatedReader:
    """One simulated reader: `insert(card)`, `remove()`; `pull_after=N` removes the card
    after N exchanges (a citizen who takes the card away mid-read)."""

    def __init__(self, name: str = "Simulated reader", latency_s: float = 0.0) -> None:
        self.name = name
        self.card: SimulatedCard | None = None
        self.gone = False
        self.latency_s = latency_s
        self.pull_after: int | None = None
        self.exchanges = 0
        self._inserted = threading.Event()

    def insert(self, card: SimulatedCard) -> None:
        card.reset()
        self.card = card
        self.exchanges = 0
        self._inserted.set()

    def remove(self) -> None:
        self.card = None
        self._inserted.clear()

    def delay(self) -> None:
        if self.latency_s:
            time.sleep(self.latency_s)

    def readers(self) -> list[str]:
        if self.gone:
            raise NoReaderError("the simulated reader is gone")
        return [self.name]

    def wait_for_card(
        self, timeout: float, cancel: threading.Event | None = None
    ) -> _SimulatedConnection:
        deadline = time.monotonic() + timeout
        while self.card is None:
            if self.gone:
                raise NoReaderError("the simulated reader is gone")
            left = deadline - time.monotonic()
            if left <= 0 or (cancel is not None and cancel.is_set()):
                raise NoCardError(f"no card on {self.name} within {timeout:.0f} s")
            self._inserted.wait(min(left, 0.05))
        self.card.reset()
        return _SimulatedConnection(self, self.card)
