"""Synthetic CCCD payloads, card images and camera-like perturbations.

Used by the identity tests, by benchmarks/bench_qr.py and to regenerate
resources/samples/ (`PYTHONPATH=. .venv/bin/python tests/identity_helpers.py`).
Every citizen here is fictitious.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

import cv2
import numpy as np
import segno
from PIL import Image, ImageDraw, ImageFont

from kiosk.paths import resource

# Real-looking but fictitious names; together they carry à á ả ã ạ on a, ă, â, e, ê,
# i, o, ô, ơ, u, ư and y (checked by a test).
NAMES = [
    "Nguyễn Thị Hồng Nhung",
    "Đặng Văn Quỳnh",
    "Trần Hoàng Khánh Thảo",
    "Phạm Thắng Hằng",
    "Lê Ẩn Tuấn Mậu",
    "Vũ Thị Bé Mẹ Vẻ Vẽ Bè",
    "Huỳnh Quyết Tuyền Huệ Thể",
    "Bùi Trí Sĩ Chỉ Trì",
    "Võ Ngọc Hòa Ngó Lỏng",
    "Đỗ Quốc Lộc Tổng Hồ",
    "Lữ Từ Thức Sử Lực",
    "Phùng Tú Thủy Vũ Lụa",
    "Dương Phượng Lớn Mười Lỡ Hởi",
    "Lý Mỹ Kỷ Ngụy Quỳnh",
    "Hồ Ngã Thẳng Khẵm Lẫm Tẳn",
    "Ngô Thị Ặng Ắt",
    "Lò Văn Ỵ",
]
STREETS = ["Lê Lợi", "Trần Hưng Đạo", "Nguyễn Huệ", "Hùng Vương", "Điện Biên Phủ", "Quang Trung"]
WARDS = ["Phường Dịch Vọng", "Xã Tân Thạnh", "Phường Bến Nghé", "Xã Đông Hưng", "Thị trấn Phố Lu"]
DISTRICTS = ["Quận Cầu Giấy", "Huyện Bảo Thắng", "Quận 1", "Huyện Đông Hưng", "Thị xã Sơn Tây"]
CITIES = ["Hà Nội", "Tỉnh Lào Cai", "TP. Hồ Chí Minh", "Tỉnh Thái Bình", "Tỉnh Quảng Nam"]
PLACE_CODES = ["001", "010", "079", "034", "049", "096", "022", "048"]

SAMPLE_PAYLOAD = (
    "001190012345|012345678|Nguyễn Thị Hồng Nhung|01021990|Nữ|"
    "Số 12, Ngõ 34, Phường Dịch Vọng, Quận Cầu Giấy, Hà Nội|15082021"
)


@dataclass(frozen=True)
class Citizen:
    id_number: str
    old_id: str
    name: str
    birth: date
    sex: str  # "Nam" | "Nữ"
    address: str
    issue: date

    def payload(self) -> str:
        return "|".join(
            [
                self.id_number,
                self.old_id,
                self.name,
                self.birth.strftime("%d%m%Y"),
                self.sex,
                self.address,
                self.issue.strftime("%d%m%Y"),
            ]
        )


def make_id(place: str, birth: date, female: bool, serial: int) -> str:
    century = {1800: 8, 1900: 0, 2000: 2, 2100: 4}[birth.year // 100 * 100]
    return f"{place}{century + int(female)}{birth.year % 100:02d}{serial % 10**6:06d}"


def random_citizen(rng: np.random.Generator) -> Citizen:
    name = NAMES[int(rng.integers(len(NAMES)))]
    female = " Thị " in name or bool(rng.integers(2))
    birth = date(int(rng.integers(1940, 2008)), int(rng.integers(1, 13)), int(rng.integers(1, 29)))
    issue = date(int(rng.integers(2021, 2025)), int(rng.integers(1, 13)), int(rng.integers(1, 29)))
    place = PLACE_CODES[int(rng.integers(len(PLACE_CODES)))]
    address = (
        f"Số {int(rng.integers(1, 300))}, {STREETS[int(rng.integers(len(STREETS)))]}, "
        f"{WARDS[int(rng.integers(len(WARDS)))]}, {DISTRICTS[int(rng.integers(len(DISTRICTS)))]}, "
        f"{CITIES[int(rng.integers(len(CITIES)))]}"
    )
    old_id = "" if rng.random() < 0.3 else f"{int(rng.integers(10**8, 10**9)):09d}"
    return Citizen(
        make_id(place, birth, female, int(rng.integers(10**6))),
        old_id,
        name,
        birth,
        "Nữ" if female else "Nam",
        address,
        issue,
    )


# ---------------------------------------------------------------- images


def qr_gray(text: str, scale: int = 4, border: int = 4, error: str = "m") -> np.ndarray:
    """A real QR code (UTF-8 byte mode, as on the cards) as a grayscale array."""
    code = segno.make(text, encoding="utf-8", error=error, micro=False, boost_error=False)
    buf = io.BytesIO()
    code.save(buf, kind="png", scale=scale, border=border)
    return cv2.imdecode(np.frombuffer(buf.getvalue(), np.uint8), cv2.IMREAD_GRAYSCALE)


def qr_modules(text: str, border: int = 2) -> int:
    code = segno.make(text, encoding="utf-8", error="m", micro=False, boost_error=False)
    return code.symbol_size(scale=1, border=border)[0]


_FONTS: dict[tuple[str, int], ImageFont.FreeTypeFont] = {}


def _font(bold: bool, size: int) -> ImageFont.FreeTypeFont:
    key = ("NotoSans-Bold.ttf" if bold else "NotoSans-Regular.ttf", size)
    if key not in _FONTS:
        _FONTS[key] = ImageFont.truetype(str(resource("fonts", key[0])), size)
    return _FONTS[key]


def card_image(
    payload: str | None, citizen: Citizen | None = None, qr_px: int = 8
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """An ID-card-like BGR image (85.6 × 54 mm proportions) with the QR top right.

    `qr_px` is the module size in pixels of the QR on this image; the card is drawn
    around it, so scaling the card later scales the module size with it. Returns the
    image and the QR's box (x0, y0, x1, y1) on it.
    """
    modules = qr_modules(payload) if payload else 57
    qr_side = modules * qr_px
    width = int(qr_side * 4.0)
    height = int(width * 54 / 85.6)
    card = Image.new("RGB", (width, height), (236, 232, 214))
    draw = ImageDraw.Draw(card)
    # A guilloche-like pale pattern, as on the real card, gives the binariser something
    # to cope with around the code.
    for i in range(0, width + height, max(6, width // 90)):
        draw.line([(i, 0), (i - height, height)], fill=(222, 214, 196), width=1)
    unit = width / 100
    draw.rectangle([0, 0, width, int(9 * unit)], fill=(196, 42, 36))
    draw.text(
        (2 * unit, 1.5 * unit),
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        font=_font(True, int(3 * unit)),
        fill=(255, 240, 200),
    )
    draw.text(
        (6 * unit, 12 * unit),
        "CĂN CƯỚC CÔNG DÂN",
        font=_font(True, int(4.5 * unit)),
        fill=(160, 30, 30),
    )
    draw.rectangle([3 * unit, 22 * unit, 25 * unit, 52 * unit], fill=(180, 190, 205))
    draw.ellipse([8 * unit, 26 * unit, 20 * unit, 38 * unit], fill=(120, 130, 150))
    lines = (
        [
            f"Số / No.: {citizen.id_number}",
            f"Họ và tên: {citizen.name}",
            f"Ngày sinh: {citizen.birth:%d/%m/%Y}   Giới tính: {citizen.sex}",
            f"Nơi thường trú: {citizen.address}",
        ]
        if citizen
        else ["Số / No.: ············", "Họ và tên: ··········", "Ngày sinh: ··/··/····"]
    )
    for i, line in enumerate(lines):
        draw.text(
            (28 * unit, (24 + 7 * i) * unit),
            line[:48],
            font=_font(False, int(2.6 * unit)),
            fill=(30, 30, 40),
        )
    array = cv2.cvtColor(np.asarray(card), cv2.COLOR_RGB2BGR)
    x0, y0 = width - (modules + 0) * qr_px - int(3 * unit), int(11 * unit)
    box = (x0, y0, x0 + modules * qr_px, y0 + modules * qr_px)
    if payload:
        qr = qr_gray(payload, scale=qr_px, border=2)
        array[y0 : y0 + qr.shape[0], x0 : x0 + qr.shape[1]] = qr[:, :, None]
    return array, box


def background(rng: np.random.Generator, size: tuple[int, int] = (720, 1280)) -> np.ndarray:
    """A desk-like background: a colour gradient, texture and a few objects."""
    h, w = size
    base = rng.integers(60, 200, 3).astype(np.float32)
    # Built at quarter size and enlarged: smooth anyway, and 16 times cheaper.
    gy, gx = np.mgrid[0 : h // 4, 0 : w // 4].astype(np.float32)
    grad = (
        1.0
        + 0.25 * (gx / (w / 4) - 0.5) * rng.uniform(-1, 1)
        + 0.25 * (gy / (h / 4) - 0.5) * rng.uniform(-1, 1)
    )
    texture = cv2.GaussianBlur(
        rng.standard_normal((h // 4, w // 4), dtype=np.float32) * 12, (0, 0), 1
    )
    small = base[None, None, :] * grad[:, :, None] + texture[:, :, None]
    out = np.clip(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), 0, 255).astype(
        np.uint8
    )
    for _ in range(int(rng.integers(1, 5))):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.rectangle(
            out,
            (x, y),
            (x + int(rng.integers(40, 300)), y + int(rng.integers(20, 200))),
            colour,
            -1,
        )
    return out


def place(
    frame: np.ndarray,
    card: np.ndarray,
    rng: np.random.Generator,
    card_width: float,
    angle: float,
    tilt: float = 0.0,
    keep: tuple[int, int, int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Warp `card` onto `frame`: scaled to `card_width` px, rotated by `angle` degrees,
    and with a perspective tilt (0 = flat, 0.4 = strongly tilted). The `keep` box of the
    card (its QR) lands wholly inside the frame; the rest may fall outside, as when a
    citizen holds the card close. Returns the frame and the 3×3 matrix from original
    card pixels to frame pixels."""
    h, w = frame.shape[:2]
    ch0, cw0 = card.shape[:2]
    scale = card_width / cw0
    pre = np.eye(3, dtype=np.float64)
    if scale < 0.9:
        # Area-average first, as a lens and sensor would, instead of aliasing in the warp.
        size = (max(1, round(cw0 * scale)), max(1, round(ch0 * scale)))
        card = cv2.resize(card, size, interpolation=cv2.INTER_AREA)
        pre = np.diag([card.shape[1] / cw0, card.shape[0] / ch0, 1.0])
        scale = card_width / card.shape[1]
    ch, cw = card.shape[:2]
    src = np.float32([[0, 0], [cw, 0], [cw, ch], [0, ch]])
    half = np.float32([cw, ch]) * scale / 2
    corners = np.float32([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half
    if tilt:
        # Pull one side towards the centre (card tilted away from the camera).
        side = int(rng.integers(4))
        i, j = side, (side + 1) % 4
        mid = (corners[i] + corners[j]) / 2
        corners[i] = mid + (corners[i] - mid) * (1 - tilt)
        corners[j] = mid + (corners[j] - mid) * (1 - tilt)
    theta = np.deg2rad(angle)
    rot = np.float32([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    corners = corners @ rot.T
    matrix0 = cv2.getPerspectiveTransform(src, corners.astype(np.float32)) @ pre
    if keep is None:
        keep = (0, 0, cw0, ch0)
    x0, y0, x1, y1 = keep
    box = cv2.perspectiveTransform(np.float32([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]]), matrix0)[
        0
    ]
    lo = -box.min(0) + 8
    hi = np.float32([w, h]) - box.max(0) - 8
    offset = np.float32([rng.uniform(lo[k], max(lo[k], hi[k])) for k in (0, 1)])
    dst = (corners + offset).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(card, matrix, (w, h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((ch, cw), 255, np.uint8), matrix, (w, h))
    out = frame.copy()
    out[mask > 127] = warped[mask > 127]
    return out, matrix @ pre


# ---------------------------------------------------------------- perturbations


def gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), sigma)


def motion_blur(img: np.ndarray, length: int, angle: float) -> np.ndarray:
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rot, (length, length))
    return cv2.filter2D(img, -1, kernel / max(kernel.sum(), 1e-6))


def noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    # OpenCV's generator, seeded from `rng`: several times faster than numpy's normal.
    cv2.setRNGSeed(int(rng.integers(2**31)))
    grain = np.empty(img.shape, np.int16)
    cv2.randn(grain.reshape(img.shape[0], -1), 0.0, float(sigma))  # one channel: all get noise
    out = img.astype(np.int16)
    out += grain
    return np.clip(out, 0, 255).astype(np.uint8)


def dim(img: np.ndarray, gain: float, offset: float = 0.0) -> np.ndarray:
    return np.clip(img.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)


def _field(shape: tuple[int, ...], make) -> np.ndarray:
    """A smooth per-pixel factor computed on a quarter-size grid, then enlarged."""
    h, w = shape[:2]
    gy, gx = np.mgrid[0:h:4, 0:w:4].astype(np.float32)
    return cv2.resize(make(gx, gy).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


def glare(
    img: np.ndarray,
    rng: np.random.Generator,
    centre: tuple[float, float],
    radius: float,
    strength: float,
) -> np.ndarray:
    """A specular highlight: a bright, saturating blob, as from a lamp on the laminate."""
    sx, sy = radius * rng.uniform(0.7, 1.6), radius * rng.uniform(0.5, 1.0)
    blob = _field(
        img.shape,
        lambda gx, gy: np.exp(-(((gx - centre[0]) / sx) ** 2 + ((gy - centre[1]) / sy) ** 2)),
    )
    out = img.astype(np.float32) + strength * blob[:, :, None]
    return np.clip(out, 0, 255).astype(np.uint8)


def uneven_light(
    img: np.ndarray,
    rng: np.random.Generator,
    depth: float,
    through: tuple[float, float] | None = None,
) -> np.ndarray:
    """A soft-edged shadow (a hand or the kiosk bezel) whose edge passes near `through`,
    plus a vignette."""
    h, w = img.shape[:2]
    cx, cy = through if through is not None else (w / 2, h / 2)
    theta, shift, soft = rng.uniform(0, np.pi), rng.uniform(-40, 40), rng.uniform(3, 25)

    def light(gx, gy):
        d = (gx - cx) * np.cos(theta) + (gy - cy) * np.sin(theta) - shift
        shadow = 1 - depth / (1 + np.exp(-d / soft))
        return shadow * (1 - 0.7 * (((gx - w / 2) / w) ** 2 + ((gy - h / 2) / h) ** 2))

    out = img.astype(np.float32) * _field(img.shape, light)[:, :, None]
    return np.clip(out, 0, 255).astype(np.uint8)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def card_scene(
    payload: str | None,
    rng: np.random.Generator,
    module_px: float,
    angle: float = 0.0,
    tilt: float = 0.0,
    citizen: Citizen | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A 1280×720 BGR frame showing the card with its QR at about `module_px` px/module,
    and the QR's four corners in the frame (4×2 array)."""
    card, (x0, y0, x1, y1) = card_image(payload, citizen, qr_px=6)
    card_width = card.shape[1] * module_px / 6
    frame, matrix = place(background(rng), card, rng, card_width, angle, tilt, (x0, y0, x1, y1))
    quad = cv2.perspectiveTransform(np.float32([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]]), matrix)
    return frame, quad[0]


def sample_citizen() -> Citizen:
    """The fictitious citizen of resources/samples/cccd_sample.png."""
    return Citizen(
        "001190012345",
        "012345678",
        "Nguyễn Thị Hồng Nhung",
        date(1990, 2, 1),
        "Nữ",
        "Số 12, Ngõ 34, Phường Dịch Vọng, Quận Cầu Giấy, Hà Nội",
        date(2021, 8, 15),
    )


def write_samples(folder: str | None = None) -> None:
    """Regenerate resources/samples/: the sample card on a desk, and a few frames for
    the simulated camera (empty desk, card moving in blurred, card held still)."""
    from pathlib import Path

    out = Path(folder) if folder else resource("samples")
    (out / "camera").mkdir(parents=True, exist_ok=True)
    citizen = sample_citizen()
    assert citizen.payload() == SAMPLE_PAYLOAD
    rng = np.random.default_rng(2021)
    card, _ = card_image(SAMPLE_PAYLOAD, citizen, qr_px=6)
    desk = np.full((720, 1280, 3), (150, 165, 175), np.uint8)
    frame, _ = place(desk, card, rng, 900, -4.0, 0.0)
    cv2.imwrite(str(out / "cccd_sample.png"), frame, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    frames = [
        desk,
        motion_blur(place(desk, card, rng, 700, 12.0, 0.2)[0], 25, 10.0),
        place(desk, card, rng, 850, -6.0, 0.05)[0],
        place(desk, card, rng, 860, -5.0, 0.05)[0],
    ]
    for i, f in enumerate(frames):
        cv2.imwrite(str(out / "camera" / f"frame_{i:02d}.jpg"), f, [cv2.IMWRITE_JPEG_QUALITY, 85])


if __name__ == "__main__":
    write_samples()
