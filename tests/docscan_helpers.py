"""Generated document photos for the docscan tests and benchmark.

A synthetic page (title, text lines, a table, a red stamp) is placed in 3-D in front of a
pinhole camera (principal point at the frame centre, known focal length), tilted 20-35
degrees, and projected onto a cluttered background. Because the scene is a real camera
projection, the page's true aspect ratio is known exactly and the focal-length based
aspect estimate in docscan has a well-defined right answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

A4 = 1.0 / math.sqrt(2.0)  # width / height, portrait
RECEIPT = 0.5
LANDSCAPE_A4 = math.sqrt(2.0)

# cv2.putText has no Vietnamese glyphs, hence plain-ASCII words
_WORD_TEXT = (
    "cong hoa xa hoi chu nghia viet nam doc lap tu do hanh phuc don de nghi cap giay "
    "xac nhan noi cu tru ho va ten ngay sinh que quan thuong tru so dien thoai kinh gui "
    "uy ban nhan dan xa phuong thi tran ly do noi dung cam doan chu ky"
)
WORDS = _WORD_TEXT.split()


@dataclass(frozen=True)
class Page:
    image: np.ndarray  # BGR, flat, as printed
    aspect: float  # width / height
    line_bands: list[tuple[float, float]]  # text-line rows as fractions of the height


@dataclass(frozen=True)
class Scene:
    frame: np.ndarray  # BGR camera frame
    corners: np.ndarray  # 4x2 float32 tl, tr, br, bl in frame pixels
    page: Page
    focal_px: float


def make_page(aspect: float = A4, height: int = 1400, seed: int = 0) -> Page:
    """A white page of the given width/height ratio with a title, text, a table, a stamp."""
    rng = np.random.default_rng(seed)
    h = height
    w = round(h * aspect)
    img = np.full((h, w, 3), 255, np.uint8)
    margin = round(0.08 * w)
    scale = h / 1400 * (1.0 if aspect <= 1 else 0.75)
    bands: list[tuple[float, float]] = []
    font = cv2.FONT_HERSHEY_SIMPLEX

    def text(txt: str, y: int, fs: float, thick: int, x: int | None = None) -> None:
        (tw, th), _ = cv2.getTextSize(txt, font, fs, thick)
        x0 = (w - tw) // 2 if x is None else x
        cv2.putText(img, txt, (x0, y), font, fs, (20, 20, 20), thick, cv2.LINE_AA)
        bands.append(((y - th) / h, y / h))

    y = round(0.07 * h)
    text("CONG HOA XA HOI CHU NGHIA VIET NAM", y, 1.0 * scale * w / 1000, max(2, round(2 * scale)))
    y += round(0.045 * h)
    text("DON DE NGHI XAC NHAN", y, 1.4 * scale * w / 1000, max(2, round(3 * scale)))
    y += round(0.06 * h)
    line_step = round(0.035 * h)
    body_fs = 0.75 * scale * w / 1000
    table_top = round(0.55 * h) if aspect <= 1 else round(0.5 * h)
    while y < table_top - line_step:
        words: list[str] = []
        while True:
            cand = " ".join([*words, str(rng.choice(WORDS))])
            if cv2.getTextSize(cand, font, body_fs, 2)[0][0] > w - 2 * margin:
                break
            words.append(cand.split()[-1])
        text(" ".join(words), y, body_fs, max(1, round(2 * scale)), x=margin)
        y += line_step
    # a 4x3 table
    x0, x1 = margin, w - margin
    t0, t1 = table_top, table_top + round(0.16 * h)
    for i in range(5):
        yy = t0 + (t1 - t0) * i // 4
        cv2.line(img, (x0, yy), (x1, yy), (30, 30, 30), 2)
    for j in range(4):
        xx = x0 + (x1 - x0) * j // 3
        cv2.line(img, (xx, t0), (xx, t1), (30, 30, 30), 2)
    for i in range(4):
        for j in range(3):
            cx = x0 + (x1 - x0) * j // 3 + 10
            cy = t0 + (t1 - t0) * i // 4 + (t1 - t0) // 6
            cv2.putText(
                img,
                str(rng.choice(WORDS)),
                (cx, cy),
                font,
                body_fs * 0.9,
                (20, 20, 20),
                max(1, round(2 * scale)),
                cv2.LINE_AA,
            )
    # closing lines and a red stamp over the signature
    y = t1 + round(0.06 * h)
    while y < h - round(0.2 * h):
        text(
            " ".join(str(rng.choice(WORDS)) for _ in range(4)),
            y,
            body_fs,
            max(1, round(2 * scale)),
            x=w // 2,
        )
        y += line_step
    r = round(0.09 * min(w, h * 0.6))
    centre = (round(w * 0.72), h - round(0.12 * h))
    cv2.circle(img, centre, r, (40, 40, 200), max(3, r // 12), cv2.LINE_AA)
    cv2.circle(img, centre, round(r * 0.7), (40, 40, 200), max(2, r // 20), cv2.LINE_AA)
    cv2.drawMarker(img, centre, (40, 40, 200), cv2.MARKER_STAR, round(r * 0.6), 3)
    return Page(img, w / h, bands)


def cluttered_background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A desk: textured base colour, random coloured shapes, lines, small cards, noise."""
    base = rng.integers(40, 140, 3).astype(np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    grad = 0.75 + 0.25 * (xx / width * rng.uniform(-1, 1) + yy / height * rng.uniform(-1, 1))
    texture = cv2.GaussianBlur(
        rng.normal(0, 1, (height // 4, width // 4)).astype(np.float32), (0, 0), 2
    )
    texture = cv2.resize(texture, (width, height)) * 18
    img = base[None, None, :] * grad[..., None] + texture[..., None]
    img = np.clip(img, 0, 255).astype(np.uint8)
    s = min(width, height)

    def colour() -> tuple[int, int, int]:
        # Saturated or fairly dark, as desks, bags and folders are: a white paper page
        # beside a white object has no visible edge for anyone.
        hue = int(rng.integers(0, 180))
        if rng.random() < 0.6:
            sat, val = int(rng.integers(90, 256)), int(rng.integers(60, 240))
        else:
            sat, val = int(rng.integers(0, 90)), int(rng.integers(20, 150))
        hsv = np.uint8([[[hue, sat, val]]])
        b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
        return int(b), int(g), int(r)

    for _ in range(int(rng.integers(25, 45))):
        kind = rng.integers(0, 5)
        c = colour()
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        if kind == 0:
            cv2.circle(img, (x, y), int(rng.integers(s // 60, s // 8)), c, -1, cv2.LINE_AA)
        elif kind == 1:
            # small rectangles (cards, phones): a document detector must not take these
            rw, rh = int(rng.integers(s // 20, s // 5)), int(rng.integers(s // 20, s // 5))
            box = cv2.boxPoints(((x, y), (rw, rh), float(rng.uniform(0, 90))))
            cv2.fillPoly(img, [box.astype(np.int32)], c, cv2.LINE_AA)
        elif kind == 2:
            x2, y2 = int(rng.integers(0, width)), int(rng.integers(0, height))
            cv2.line(img, (x, y), (x2, y2), c, int(rng.integers(1, 6)), cv2.LINE_AA)
        elif kind == 3:
            pts = rng.integers(-s // 8, s // 8, (5, 2)) + [x, y]
            cv2.fillPoly(img, [pts.astype(np.int32)], c, cv2.LINE_AA)
        else:
            cv2.ellipse(
                img,
                (x, y),
                (int(rng.integers(10, s // 6)), int(rng.integers(10, s // 10))),
                float(rng.uniform(0, 180)),
                0,
                360,
                c,
                int(rng.integers(1, 4)),
                cv2.LINE_AA,
            )
    return img


def _rotation(tilt_deg: float, yaw_deg: float, roll_deg: float) -> np.ndarray:
    tx, ty, tz = (math.radians(a) for a in (tilt_deg, yaw_deg, roll_deg))
    rx = np.array([[1, 0, 0], [0, math.cos(tx), -math.sin(tx)], [0, math.sin(tx), math.cos(tx)]])
    ry = np.array([[math.cos(ty), 0, math.sin(ty)], [0, 1, 0], [-math.sin(ty), 0, math.cos(ty)]])
    rz = np.array([[math.cos(tz), -math.sin(tz), 0], [math.sin(tz), math.cos(tz), 0], [0, 0, 1]])
    return rz @ ry @ rx


def project_page(
    size: tuple[int, int],
    aspect: float,
    *,
    tilt_deg: float,
    yaw_deg: float = 0.0,
    roll_deg: float = 0.0,
    fill: float = 0.6,
    offset: tuple[float, float] = (0.0, 0.0),
    focal_px: float | None = None,
) -> tuple[np.ndarray, float]:
    """Frame corners (tl, tr, br, bl) of a page seen by a centred pinhole camera.

    `fill` is the page's projected height (or width, whichever is tighter) as a fraction
    of the frame; `offset` moves the page centre, in fractions of the frame size.
    """
    width, height = size
    f = focal_px or 0.85 * width  # a webcam with about 61 degrees horizontal field of view
    ph = 1.0
    pw = aspect * ph
    obj = np.array(
        [[-pw / 2, -ph / 2, 0], [pw / 2, -ph / 2, 0], [pw / 2, ph / 2, 0], [-pw / 2, ph / 2, 0]],
        np.float64,
    )
    rot = _rotation(tilt_deg, yaw_deg, roll_deg)
    cx, cy = width / 2, height / 2

    def corners_at(z: float) -> np.ndarray:
        centre = np.array([offset[0] * width / f * z, offset[1] * height / f * z, z])
        pts = obj @ rot.T + centre
        return np.stack([f * pts[:, 0] / pts[:, 2] + cx, f * pts[:, 1] / pts[:, 2] + cy], 1)

    # choose the distance so that the page fills the requested part of the frame
    lo, hi = 0.3, 50.0
    for _ in range(60):
        z = math.sqrt(lo * hi)
        c = corners_at(z)
        extent = max(
            (c[:, 0].max() - c[:, 0].min()) / width, (c[:, 1].max() - c[:, 1].min()) / height
        )
        lo, hi = (z, hi) if extent > fill else (lo, z)
    return corners_at(hi).astype(np.float32), f


def compose(background: np.ndarray, page: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Warp the page onto the background with an anti-aliased edge."""
    h, w = page.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    hom = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    size = (background.shape[1], background.shape[0])
    warped = cv2.warpPerspective(page, hom, size, flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.ones((h, w), np.float32), hom, size, flags=cv2.INTER_LINEAR)
    mask = mask[..., None]
    out = warped.astype(np.float32) * mask + background.astype(np.float32) * (1 - mask)
    return out


def camera_effects(
    img: np.ndarray,
    rng: np.random.Generator,
    *,
    dim: float = 1.0,
    blur_sigma: float = 0.7,
    noise: float = 2.5,
) -> np.ndarray:
    """Uneven light (a gradient and a soft shadow), lens softness and sensor noise."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * math.pi)
    light = 0.92 + 0.1 * ((xx / w - 0.5) * math.cos(ang) + (yy / h - 0.5) * math.sin(ang)) * 2
    sx, sy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
    shadow = 1 - 0.18 * np.exp(-(((xx - sx) / (0.25 * w)) ** 2 + ((yy - sy) / (0.25 * h)) ** 2))
    out = img.astype(np.float32) * (light * shadow * 0.9 * dim)[..., None]
    if blur_sigma > 0:
        out = cv2.GaussianBlur(out, (0, 0), blur_sigma)
    out += rng.normal(0, noise, out.shape).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def make_scene(
    *,
    size: tuple[int, int] = (1280, 720),
    aspect: float = A4,
    tilt_deg: float = 28.0,
    yaw_deg: float = 0.0,
    roll_deg: float = 0.0,
    fill: float = 0.85,
    offset: tuple[float, float] = (0.0, 0.0),
    seed: int = 0,
    blur_sigma: float = 0.7,
    dim: float = 1.0,
) -> Scene:
    rng = np.random.default_rng(seed)
    page = make_page(aspect, seed=seed)
    corners, f = project_page(
        size,
        aspect,
        tilt_deg=tilt_deg,
        yaw_deg=yaw_deg,
        roll_deg=roll_deg,
        fill=fill,
        offset=offset,
    )
    bg = cluttered_background(size[0], size[1], rng)
    # paper is never pure white under room light
    paper = page.image.astype(np.float32) * rng.uniform(0.88, 0.97)
    frame = compose(bg, paper, corners)
    frame = camera_effects(frame, rng, dim=dim, blur_sigma=blur_sigma)
    return Scene(frame, corners, page, f)


def random_scene(seed: int, size: tuple[int, int] = (1280, 720)) -> Scene:
    """One scene from the evaluation distribution: any of three paper shapes, tilted
    20-35 degrees about a random axis, turned a little in the image, off-centre."""
    rng = np.random.default_rng(10_000 + seed)
    aspect = (A4, RECEIPT, LANDSCAPE_A4)[seed % 3]
    tilt = float(rng.uniform(20, 35))
    axis = float(rng.uniform(0, 2 * math.pi))
    fill = float(rng.uniform(0.6, 0.85))
    room = 0.46 - fill / 2
    pose = {
        "tilt_deg": tilt * math.cos(axis),
        "yaw_deg": tilt * math.sin(axis),
        "roll_deg": float(rng.uniform(-12, 12)),
        "offset": (float(rng.uniform(-room, room)), float(rng.uniform(-room, room))),
    }
    # perspective makes the near end larger than `fill` says: shrink until the whole
    # page is inside the frame with a margin
    margin = 0.02 * min(size)
    while True:
        corners, _ = project_page(size, aspect, fill=fill, **pose)
        if (
            corners.min() >= margin
            and np.all(corners[:, 0] <= size[0] - margin)
            and np.all(corners[:, 1] <= size[1] - margin)
        ):
            break
        fill *= 0.97
    return make_scene(size=size, aspect=aspect, fill=fill, seed=seed, **pose)


def add_glare(frame: np.ndarray, centre: tuple[float, float], radius: float) -> np.ndarray:
    """A specular highlight: a clipped white core with a soft halo."""
    h, w = frame.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d2 = ((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / radius**2
    boost = 400 * np.exp(-d2 * 1.2)
    out = frame.astype(np.float32) + boost[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


def empty_scene(seed: int, size: tuple[int, int] = (1280, 720)) -> np.ndarray:
    rng = np.random.default_rng(20_000 + seed)
    bg = cluttered_background(size[0], size[1], rng)
    return camera_effects(bg.astype(np.float32), rng)


def aspect_of(image: np.ndarray) -> float:
    return image.shape[1] / image.shape[0]
