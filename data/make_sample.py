"""Make the sample dataset: public-domain prose, typeset and damaged like a phone photo.

Each pair is ``images/NAME.jpg`` and ``texts/NAME.txt`` (one printed line per text line).
Everything random is drawn from ``--seed``: the same seed gives the same texts and, with the
same Pillow, FreeType, OpenCV and libjpeg, the same pixels.

Run from the repository root::

    python data/make_sample.py --seed 7 --out data
"""

from __future__ import annotations

import enum
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import click
import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

# Run as a plain script, Python puts data/ on sys.path, not the repository root that holds
# the project's packages; add the root so the project's exceptions can be imported.
_REPO_ROOT = Path(__file__).resolve().parent.parent
if str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

from shared.errors import DatasetError  # noqa: E402

logger = logging.getLogger(__name__)

DEFAULT_SEED = 7
Gray = npt.NDArray[np.float32]
Rgb = npt.NDArray[np.uint8]

# Text is drawn this many times larger, warped, then shrunk with area averaging, so the glyph
# edges come out soft like a camera's rather than hinted and pixel-snapped like a screen's.
SUPERSAMPLE = 3
PAPER_RGB = (236, 229, 214)
INK_RGB = (38, 34, 31)


@dataclass(frozen=True)
class FontFace:
    """A TrueType face and the Debian package that installs it."""

    name: str
    path: Path
    apt_package: str


_TTF = Path("/usr/share/fonts/truetype")
FONTS = (
    FontFace("DejaVu Serif", _TTF / "dejavu/DejaVuSerif.ttf", "fonts-dejavu-core"),
    FontFace("DejaVu Sans", _TTF / "dejavu/DejaVuSans.ttf", "fonts-dejavu-core"),
    FontFace("Liberation Serif", _TTF / "liberation2/LiberationSerif-Regular.ttf",
             "fonts-liberation2"),
    FontFace("Liberation Sans", _TTF / "liberation2/LiberationSans-Regular.ttf",
             "fonts-liberation2"),
    FontFace("FreeSerif", _TTF / "freefont/FreeSerif.ttf", "fonts-freefont-ttf"),
    FontFace("FreeSans", _TTF / "freefont/FreeSans.ttf", "fonts-freefont-ttf"),
)


@dataclass(frozen=True)
class Passage:
    """An excerpt of a public-domain book; ``line_chars`` sets the column width."""

    name: str
    title: str
    author: str
    year: int
    line_chars: int
    text: str


PASSAGES = (
    Passage("tolstoy_anna_karenina", "Anna Karenina (tr. Constance Garnett)", "Leo Tolstoy",
            1878, 90,
            "Happy families are all alike; every unhappy family is unhappy in its own way."),
    Passage("austen_pride_and_prejudice", "Pride and Prejudice", "Jane Austen", 1813, 68,
            "It is a truth universally acknowledged, that a single man in possession of a "
            "good fortune, must be in want of a wife."),
    Passage("melville_moby_dick", "Moby-Dick", "Herman Melville", 1851, 64,
            "Call me Ishmael. Some years ago\u2014never mind how long precisely\u2014having "
            "little or no money in my purse, and nothing particular to interest me on "
            "shore, I thought I would sail about a little and see the watery part of the "
            "world."),
    Passage("bronte_jane_eyre", "Jane Eyre", "Charlotte Bront\u00eb", 1847, 62,
            "There was no possibility of taking a walk that day. We had been wandering, "
            "indeed, in the leafless shrubbery an hour in the morning; but since dinner "
            "(Mrs. Reed, when there was no company, dined early) the cold winter wind had "
            "brought with it clouds so sombre, and a rain so penetrating, that further "
            "out-door exercise was now out of the question."),
    Passage("carroll_alice", "Alice's Adventures in Wonderland", "Lewis Carroll", 1865, 54,
            "Alice was beginning to get very tired of sitting by her sister on the bank, "
            "and of having nothing to do: once or twice she had peeped into the book her "
            "sister was reading, but it had no pictures or conversations in it, 'and what "
            "is the use of a book,' thought Alice 'without pictures or conversations?'"),
    Passage("dickens_tale_of_two_cities", "A Tale of Two Cities", "Charles Dickens", 1859, 50,
            "It was the best of times, it was the worst of times, it was the age of wisdom, "
            "it was the age of foolishness, it was the epoch of belief, it was the epoch of "
            "incredulity, it was the season of Light, it was the season of Darkness, it was "
            "the spring of hope, it was the winter of despair, we had everything before us, "
            "we had nothing before us,"),
)


@dataclass(frozen=True)
class Layout:
    """How one passage is set: face, size, column and spacing, in final-image pixels."""

    font: FontFace
    size_px: int
    column_px: float
    line_spacing: float
    margin_px: tuple[int, int]


class ShadowSide(enum.Enum):
    """The side of the page the shadow falls on (a hand, or the book's curve at the spine)."""

    LEFT = "left"
    RIGHT = "right"


@dataclass(frozen=True)
class Damage:
    """The camera-like damage given to one page.

    ``corner_shift`` moves each corner (top-left, top-right, bottom-right, bottom-left)
    inwards by these fractions of the width and height. The shadow falls on
    ``shadow_side``; ``shadow_edge`` is where its soft edge lies, as a fraction of the
    page measured from that side. ``veil`` is stray light, in grey levels, that fills the
    shadow and flattens its contrast.
    """

    corner_shift: tuple[tuple[float, float], ...]
    shadow_side: ShadowSide
    shadow_edge: float
    shadow_softness: float
    shadow_depth: float
    veil: float
    blur_sigma_px: float
    read_noise: float
    shot_noise: float
    jpeg_quality: int


@dataclass(frozen=True)
class SamplePair:
    """One written pair."""

    name: str
    image_path: Path
    text_path: Path
    lines: tuple[str, ...]
    font: FontFace


def missing_fonts() -> tuple[FontFace, ...]:
    """The faces this script sets text in whose files are not installed."""
    return tuple(face for face in FONTS if not face.path.is_file())


def require_fonts() -> None:
    """Raise DatasetError naming each missing font file and the package that installs it."""
    missing = missing_fonts()
    if missing:
        files = ", ".join(str(face.path) for face in missing)
        packages = " ".join(sorted({face.apt_package for face in missing}))
        raise DatasetError(f"font file(s) not found: {files}. Install them with "
                           f"`apt-get install {packages}` and run again.")


def draw_layout(rng: np.random.Generator, font: FontFace, passage: Passage) -> Layout:
    """Draw a type size, column, spacing and margins for ``passage`` set in ``font``.

    The column is ``passage.line_chars`` of this face's average characters (give or take
    8 %), so a passage takes about the same number of lines whichever face it gets.
    """
    size_px = int(rng.integers(15, 19))
    face = _truetype(font, size_px)
    mean_char_px = face.getlength(passage.text) / len(passage.text)
    return Layout(
        font=font,
        size_px=size_px,
        column_px=passage.line_chars * mean_char_px * float(rng.uniform(0.92, 1.08)),
        line_spacing=float(rng.uniform(1.25, 1.5)),
        margin_px=(int(rng.integers(16, 32)), int(rng.integers(12, 24))),
    )


def draw_damage(rng: np.random.Generator) -> Damage:
    """Draw one page's damage.

    The ranges were tuned by measuring: with them, plain Tesseract's loss summed over the
    six pairs came out between 1.2 and 2.4 for the seeds tried, and 2x upscaling plus an
    adaptive threshold brought it under 0.3 (numbers in data/README.md).
    """
    shifts = rng.uniform(0.0, 0.06, size=(4, 2))
    return Damage(
        corner_shift=tuple((float(x), float(y)) for x, y in shifts),
        shadow_side=ShadowSide(str(rng.choice([side.value for side in ShadowSide]))),
        shadow_edge=float(rng.uniform(0.25, 0.5)),
        shadow_softness=float(rng.uniform(0.04, 0.12)),
        shadow_depth=float(rng.uniform(0.45, 0.65)),
        veil=float(rng.uniform(15.0, 35.0)),
        blur_sigma_px=float(rng.uniform(0.5, 1.0)),
        read_noise=float(rng.uniform(2.0, 4.0)),
        shot_noise=float(rng.uniform(3.0, 6.0)),
        jpeg_quality=int(rng.integers(50, 71)),
    )


def _truetype(font: FontFace, size_px: int) -> ImageFont.FreeTypeFont:
    # BASIC layout: no dependence on whether this Pillow was built with libraqm, so the
    # same seed sets the same glyphs on every machine.
    return ImageFont.truetype(str(font.path), size_px, layout_engine=ImageFont.Layout.BASIC)


def wrap_words(text: str, face: ImageFont.FreeTypeFont, column_px: float) -> tuple[str, ...]:
    """Break ``text`` at spaces into lines no wider than ``column_px`` (greedy)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and face.getlength(candidate) > column_px:
            lines.append(current)
            candidate = word
        current = candidate
    lines.append(current)
    return tuple(lines)


def set_lines(lines: tuple[str, ...], layout: Layout) -> Gray:
    """The page's reflectance (0 ink, 1 paper), drawn ``SUPERSAMPLE`` times too large."""
    scale = SUPERSAMPLE
    face = _truetype(layout.font, layout.size_px * scale)
    ascent, descent = face.getmetrics()
    pitch = round(layout.size_px * layout.line_spacing) * scale
    margin_x, margin_y = (m * scale for m in layout.margin_px)
    width = max(face.getlength(line) for line in lines) + 2 * margin_x
    height = (len(lines) - 1) * pitch + ascent + descent + 2 * margin_y
    # Whole final pixels, so shrinking by SUPERSAMPLE averages complete blocks.
    size = (_round_up(int(width), scale), _round_up(height, scale))
    page = Image.new("L", size, 255)
    draw = ImageDraw.Draw(page)
    for index, line in enumerate(lines):
        draw.text((margin_x, margin_y + index * pitch), line, font=face, fill=0)
    return np.asarray(page, dtype=np.float32) / np.float32(255.0)


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step


def warp_perspective(page: Gray, corner_shift: tuple[tuple[float, float], ...]) -> Gray:
    """Pull each corner inwards, as when the phone is not held parallel to the page."""
    height, width = page.shape
    src = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    inwards = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=np.float32)
    scale = np.array([width, height], dtype=np.float32)
    dst = src + inwards * np.array(corner_shift, dtype=np.float32) * scale
    matrix = cv2.getPerspectiveTransform(src, dst)
    # Replicating the border extends the blank margin, so no dark wedge appears.
    warped = cv2.warpPerspective(page, matrix, (width, height), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
    return warped.astype(np.float32, copy=False)


def photograph(page: Gray, damage: Damage, rng: np.random.Generator) -> Rgb:
    """Warp, shrink, colour, light, blur and add noise to a supersampled reflectance page."""
    warped = warp_perspective(page, damage.corner_shift)
    height, width = warped.shape
    small = cv2.resize(warped, (width // SUPERSAMPLE, height // SUPERSAMPLE),
                       interpolation=cv2.INTER_AREA)
    ink, paper = np.array(INK_RGB, np.float32), np.array(PAPER_RGB, np.float32)
    rgb = ink + (paper - ink) * small[..., None]
    lit = light_unevenly(rgb, damage)
    blurred = cv2.GaussianBlur(lit, (0, 0), damage.blur_sigma_px)
    # Sensor noise: a constant read noise plus shot noise that grows with brightness.
    sigma = np.sqrt(damage.read_noise**2 + damage.shot_noise**2 * blurred / 255.0)
    noisy: Gray = blurred + rng.standard_normal(blurred.shape, dtype=np.float32) * sigma
    photo: Rgb = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    return photo


def light_unevenly(rgb: Gray, damage: Damage) -> Gray:
    """Darken one side under a soft-edged shadow and lift it with a veil of stray light.

    Both the darkening and the veil shrink the gap between ink and paper in the shadow, so
    that side ends up dim and low in contrast while the other stays bright.
    """
    width = rgb.shape[1]
    across = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    if damage.shadow_side is ShadowSide.RIGHT:
        across = across[:, ::-1]
    shadow = 1.0 / (1.0 + np.exp((across - damage.shadow_edge) / damage.shadow_softness))
    light = 1.0 - damage.shadow_depth * shadow
    lit: Gray = (rgb * light[..., None] + damage.veil * shadow[..., None]).astype(np.float32)
    return lit


def make_pair(passage: Passage, font: FontFace, rng: np.random.Generator
              ) -> tuple[tuple[str, ...], Rgb, Damage]:
    """Set one passage in ``font`` and photograph it: its printed lines, image and damage."""
    layout = draw_layout(rng, font, passage)
    lines = wrap_words(passage.text, _truetype(font, layout.size_px), layout.column_px)
    damage = draw_damage(rng)
    return lines, photograph(set_lines(lines, layout), damage, rng), damage


def generate(out_dir: Path, *, seed: int = DEFAULT_SEED) -> tuple[SamplePair, ...]:
    """Write every pair under ``out_dir``/images and ``out_dir``/texts; return what was written.

    Each passage gets its own face (the seed shuffles which) and its own random stream
    derived from (seed, index), so one pair's draws never shift another's.
    """
    require_fonts()
    images, texts = out_dir / "images", out_dir / "texts"
    images.mkdir(parents=True, exist_ok=True)
    texts.mkdir(parents=True, exist_ok=True)
    order = np.random.default_rng(seed).permutation(len(FONTS))
    pairs = []
    for index, passage in enumerate(PASSAGES):
        font = FONTS[int(order[index % len(FONTS)])]
        lines, image, damage = make_pair(passage, font, np.random.default_rng([seed, index]))
        pair = SamplePair(passage.name, images / f"{passage.name}.jpg",
                          texts / f"{passage.name}.txt", lines, font)
        Image.fromarray(image, mode="RGB").save(pair.image_path, quality=damage.jpeg_quality)
        pair.text_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        logger.info("Wrote %s: %d line(s) in %s, shadow on the %s, JPEG quality %d.",
                    pair.image_path, len(lines), font.name, damage.shadow_side.value,
                    damage.jpeg_quality)
        pairs.append(pair)
    return tuple(pairs)


@click.command()
@click.option("--seed", type=click.IntRange(min=0), default=DEFAULT_SEED, show_default=True,
              help="Seed of every random choice: the same seed gives the same dataset.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path(__file__).resolve().parent, show_default="data/",
              help="Folder to write images/ and texts/ into.")
def main(seed: int, out_dir: Path) -> None:
    """Make the sample dataset of damaged photos of public-domain prose."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        pairs = generate(out_dir, seed=seed)
    except DatasetError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"Wrote {len(pairs)} image/text pairs under {out_dir} with seed {seed}.")


if __name__ == "__main__":
    main()
