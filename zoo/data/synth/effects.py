"""Image distortions shared by the renderer and online augmentation (``zoo.data.transforms.Augment``):
rotation with perspective, curvature, blur, noise and JPEG artefacts; and what a camera does to a word
in a street scene (the renderer's scene preset): uneven light, motion blur, low resolution. Each takes
its randomness from the generator it is given, so a seed reproduces it exactly."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter


def perspective_coefficients(output_quad: np.ndarray, input_quad: np.ndarray) -> tuple[float, ...]:
    """The 8 coefficients PIL's PERSPECTIVE transform takes: they map each output pixel (x, y) to the
    input point ((a x + b y + c) / (g x + h y + 1), (d x + e y + f) / (g x + h y + 1)). Solved
    exactly from four corner correspondences (a homography has 8 degrees of freedom)."""
    rows = []
    for (x, y), (u, v) in zip(output_quad, input_quad):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    return tuple(np.linalg.solve(np.array(rows, dtype=np.float64), input_quad.reshape(-1)).tolist())


def warp(image: Image.Image, rng: np.random.Generator, max_rotation: float, perspective: float,
         resample=Image.BILINEAR, fill=0) -> Image.Image:
    """Rotate by up to ``max_rotation`` degrees and move each corner by up to ``perspective`` x height,
    into a canvas just large enough to hold the result."""
    w, h = image.size
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)
    angle = np.deg2rad(rng.uniform(-max_rotation, max_rotation))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = corners.mean(0)
    moved = (corners - centre) @ rotation.T + centre + rng.uniform(-perspective, perspective, (4, 2)) * h
    moved -= moved.min(0)
    size = np.ceil(moved.max(0)).astype(int)
    coeffs = perspective_coefficients(moved, corners)
    return image.transform((int(size[0]), int(size[1])), Image.PERSPECTIVE, coeffs, resample, fillcolor=fill)


def curve(array: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Bend text along a sine arc: shift each column down by ``amplitude * sin(...)`` pixels (rows
    added above and below so nothing is cut)."""
    h, w = array.shape[:2]
    pad = int(np.ceil(abs(amplitude)))
    if pad == 0:
        return array
    phase = rng.uniform(0, 2 * np.pi)
    period = w * rng.uniform(1.0, 2.5)
    shift = np.rint(amplitude * np.sin(2 * np.pi * np.arange(w) / period + phase)).astype(int) + pad
    padded = np.zeros((h + 2 * pad, w) + array.shape[2:], dtype=array.dtype)
    rows = np.arange(h)[:, None] + shift[None, :]
    padded[rows, np.arange(w)[None, :]] = array
    return padded


def blur(image: Image.Image, radius: float) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(radius)) if radius > 0.05 else image


def motion_blur(image: Image.Image, rng: np.random.Generator, length: float) -> Image.Image:
    """Smear along a random direction over ``length`` pixels (at most 5: PIL's largest kernel), as a
    moving camera or vehicle blurs a sign: a line of weights splatted bilinearly into a 5 x 5 kernel."""
    angle = rng.uniform(0, np.pi)
    t = np.linspace(-min(length, 4.9) / 2, min(length, 4.9) / 2, 9)
    x, y = 2 + t * np.cos(angle), 2 + t * np.sin(angle)  # in [0.05, 3.95]: all 4 neighbours are inside
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    kernel = np.zeros((5, 5))
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        np.add.at(kernel, (y0 + dy, x0 + dx), (1 - np.abs(x - x0 - dx)) * (1 - np.abs(y - y0 - dy)))
    return image.filter(ImageFilter.Kernel((5, 5), kernel.reshape(-1).tolist(), float(kernel.sum())))


def uneven_light(image: Image.Image, rng: np.random.Generator, strength: float) -> Image.Image:
    """Light that falls unevenly on a sign: a shadow across it (a linear ramp) or a vignette (dark
    away from a centre) darkens text and background alike, keeping their contrast ratio; a glare spot
    lifts both towards white, washing the sign out. ``strength``: the largest change, a fraction."""
    w, h = image.size
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    kind = rng.integers(3)
    array = np.array(image, np.float32)
    if kind == 0:
        angle = rng.uniform(0, 2 * np.pi)
        ramp = np.cos(angle) * x + np.sin(angle) * y
        field = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-6)
    else:
        cx, cy = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)
        field = np.clip(((x - cx) ** 2 + ((y - cy) * h / max(w, 1)) ** 2) * 4, 0, 1)
    if kind == 2:  # glare: brightest at the spot
        array += (255 - array) * (np.float32(strength) * (1 - field))[..., None]
    else:
        array *= (1 - np.float32(strength) * field)[..., None]
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))


def low_resolution(image: Image.Image, rng: np.random.Generator, rows: int, quality: int) -> Image.Image:
    """A word ``rows`` pixels high in the scene photo: area-averaged down to it (the camera's pixels),
    JPEG-compressed there (the photo's own compression), then upscaled back with bilinear or bicubic,
    as a recogniser upscales a small crop (a 40 x 15 word read at 32 px high)."""
    w, h = image.size
    if rows >= h:
        return image
    small = image.resize((max(1, round(w * rows / h)), rows), Image.BOX)
    small = jpeg_artefacts(small, quality)
    return small.resize((w, h), (Image.BILINEAR, Image.BICUBIC)[rng.integers(2)])


def add_noise(array: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Gaussian pixel noise of standard deviation ``sigma`` (in 0..255 units), clipped to uint8."""
    if sigma <= 0:
        return array
    noisy = array.astype(np.float32) + np.float32(sigma) * rng.standard_normal(array.shape, dtype=np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def jpeg_bytes(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=int(quality))
    return buf.getvalue()


def jpeg_artefacts(image: Image.Image, quality: int) -> Image.Image:
    return Image.open(io.BytesIO(jpeg_bytes(image, quality))).convert(image.mode)
