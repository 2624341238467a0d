"""A real PC/SC stack for tests: pcscd in the foreground with the vsmartcard-vpcd driver.

vpcd listens on 0.0.0.0:PORT for the card side. So that nothing outside this machine can
reach it, pcscd runs in a network namespace of its own (`unshare --net`) that has only its
loopback interface; the card emulator opens its socket inside that namespace (setns on a
helper thread). Clients reach pcscd through its Unix socket, /run/pcscd/pcscd.comm, which
namespaces do not hide (Debian's pcscd ignores PCSCLITE_CSOCK_NAME), so the stack is
skipped, with the reason, when another pcscd runs.
"""

from __future__ import annotations

import ctypes
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from kiosk.hardware.card_emulator import VpcdClient

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
CLONE_NEWNET = 0x40000000

# Run inside the new namespace: bring its loopback up, then become pcscd.
_LO_UP_AND_EXEC = """
import fcntl, os, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0)))[1]
fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))
s.close()
os.execvp(sys.argv[1], sys.argv[1:])
"""


def why_no_pcscd() -> str | None:
    """Why the real PC/SC stack cannot run here, or None."""
    if shutil.which("pcscd") is None:
        return "pcscd is not installed (scripts/bootstrap.sh installs it as root)"
    if not VPCD_DRIVER.exists():
        return "the vsmartcard-vpcd driver is not installed"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is missing: vpcd would listen on every interface"
    try:
        import smartcard.scard  # noqa: F401
    except ImportError as exc:
        return f"pyscard is not importable: {exc}"
    if os.geteuid() != 0:
        return "pcscd must run as root (it serves /run/pcscd) and unshare needs root"
    if PCSCD_SOCKET.exists():
        probe = socket.socket(socket.AF_UNIX)
        try:
            probe.connect(str(PCSCD_SOCKET))
            return "another pcscd is already running on /run/pcscd/pcscd.comm"
        except OSError:
            pass
        finally:
            probe.close()
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, timeout=10)
    if probe.returncode != 0:
        return f"unshare --net is not permitted here: {probe.stderr.decode().strip()}"
    return None


def _socket_in_namespace(pid: int, port: int) -> socket.socket:
    """A TCP connection to 127.0.0.1:port inside process `pid`'s network namespace."""
    out: queue.Queue = queue.Queue()

    def work() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns failed")
            finally:
                os.close(fd)
            out.put(socket.create_connection(("127.0.0.1", port), 2.0))
        except OSError as exc:
            out.put(exc)

    # setns changes only this helper thread, which ends right after: the socket stays in
    # the namespace it was made in.
    t = threading.Thread(target=work)
    t.start()
    t.join()
    result = out.get()
    if isinstance(result, Exception):
        raise result
    return result


class PcscStack:
    def __init__(self, workdir: Path, port: int = 35963) -> None:
        self.workdir = workdir
        self.port = port  # inside the private namespace: no clash with anything outside
        conf = workdir / "reader.conf.d"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "vpcd").write_text(
            'FRIENDLYNAME "Virtual PCD"\n'
            f"DEVICENAME   /dev/null:0x{port:04X}\n"
            f"LIBPATH      {VPCD_DRIVER}\n"
            f"CHANNELID    0x{port:04X}\n"
        )
        self.conf = conf
        self.proc: subprocess.Popen | None = None
        self.log = workdir / "pcscd.log"
        self.card_side = VpcdClient(port=port, connect=self._connect)

    def _connect(self) -> socket.socket:
        if self.proc is None:
            raise OSError("pcscd is not running")
        return _socket_in_namespace(self.proc.pid, self.port)

    def start(self, timeout: float = 10.0) -> None:
        from kiosk.hardware.cardreader import PcscReader

        self.proc = subprocess.Popen(
            [
                "unshare",
                "--net",
                sys.executable,
                "-c",
                _LO_UP_AND_EXEC,
                "pcscd",
                "--foreground",
                "--config",
                str(self.conf),
            ],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pcscd exited: {self.log.read_text()[-2000:]}")
            if any("Virtual PCD" in n for n in PcscReader().readers(quiet=True)):
                return
            time.sleep(0.1)
        raise RuntimeError(f"pcscd did not list the virtual reader: {self.log.read_text()[-2000:]}")

    def card_present(self) -> bool:
        from smartcard import scard

        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            return False
        try:
            hresult, states = scard.SCardGetStatusChange(
                context, 0, [("Virtual PCD 00 00", scard.SCARD_STATE_UNAWARE)]
            )
            return hresult == scard.SCARD_S_SUCCESS and bool(
                states[0][1] & scard.SCARD_STATE_PRESENT
            )
        finally:
            scard.SCardReleaseContext(context)

    def _wait_for(self, present: bool, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.card_present() != present:
            if time.monotonic() > deadline:
                raise RuntimeError(f"pcscd did not see the card {'placed' if present else 'taken'}")
            time.sleep(0.05)

    def insert(self, card) -> None:
        """Place `card` on the virtual reader and wait until pcscd has seen it."""
        self.remove()
        self.card_side.insert(card)
        self._wait_for(True)

    def remove(self) -> None:
        """Take the card away and wait until pcscd has polled the empty reader (it polls
        every 400 ms; a card placed before that poll would look like the same card)."""
        was_there = self.card_side.card is not None or self.card_side.apdus
        self.card_side.remove()
        if self.running():
            self._wait_for(False)
            if was_there:
                time.sleep(0.6)

    def stop(self) -> None:
        self.card_side.remove()
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def kill_now(self) -> None:
        """Stop pcscd without touching the card side (the service dies mid-session). It is
        called from the card side's thread: the process is taken once, so that a pcscd the
        next test has started meanwhile is never the one killed."""
        proc = self.proc
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:  # slow to die under load: the next test
                proc.kill()  # would otherwise find it still running, then gone
                proc.wait(5)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        self.stop()
