"""The images to tune on and their true texts, checked and read once per process.

A dataset is a folder with ``images/NAME.{jpg,jpeg,png,tif,tiff}`` and ``texts/NAME.txt``
(UTF-8), one text per image. ``load_dataset`` refuses a folder before any trial runs, with
``DatasetError`` listing every problem it found, each naming the file and the fix.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from shared.errors import DatasetError
from shared.pipeline import to_grayscale

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
TEXT_SUFFIX = ".txt"

# Smallest width and height accepted, in pixels. Tesseract's own guidance is that accuracy
# falls off below an x-height of about 10 px, so an image under 10 px on a side cannot hold
# one readable line; upscaling it in the pipeline would add no detail to read.
MIN_IMAGE_SIDE_PX = 10

GrayImage = NDArray[np.uint8]


@dataclass(frozen=True, eq=False)
class Sample:
    """One image, as 8-bit grayscale (read-only: it is shared by every trial), and its text."""

    name: str
    image: GrayImage
    text: str


@dataclass(frozen=True, eq=False)
class Dataset:
    """A checked dataset. ``fingerprint`` is a sha256 over every file's name and bytes.

    Two datasets with one fingerprint hold the same bytes, wherever they are mounted.
    """

    folder: Path
    samples: tuple[Sample, ...]
    fingerprint: str

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sample.name for sample in self.samples)


@dataclass(frozen=True)
class _Pair:
    name: str
    image_path: Path
    text_path: Path


# Resolved folder -> (size and mtime of every file, the dataset read from them). A worker
# loads its objective once, but tests and the coordinator may ask again for the same folder.
_cache: dict[Path, tuple[tuple[tuple[str, int, int], ...], Dataset]] = {}
_cache_lock = threading.Lock()


def load_dataset(folder: Path) -> Dataset:
    """Check and read the dataset in ``folder``; raises DatasetError listing every problem.

    Files are read again only when one was added or removed, or changed size or mtime, since
    the last call (a same-size rewrite within one tick of the file system clock goes unseen).
    """
    resolved = _check_layout(folder)
    signature = _signature(resolved)
    with _cache_lock:
        cached = _cache.get(resolved)
        if cached is not None and cached[0] == signature:
            return cached[1]
        dataset = _read(resolved)
        _cache[resolved] = (signature, dataset)
    logger.info("Read dataset %s: %s images, fingerprint %s.", resolved,
                len(dataset.samples), dataset.fingerprint[:12])
    return dataset


def _check_layout(folder: Path) -> Path:
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise DatasetError(f"dataset folder {folder} {what}; "
                           "pass the folder that holds images/ and texts/")
    missing = [sub for sub in ("images", "texts") if not (folder / sub).is_dir()]
    if missing:
        raise DatasetError(f"dataset folder {folder} has no {' and no '.join(missing)} "
                           "subfolder; put each image in images/NAME.png (or .jpg, .jpeg, "
                           ".tif, .tiff) and its true text in texts/NAME.txt")
    return folder.resolve()


def _entries(sub: Path) -> list[Path]:
    """What a subfolder holds, sorted; hidden files (.DS_Store, .gitkeep) are skipped."""
    return sorted(path for path in sub.iterdir() if not path.name.startswith("."))


def _listing(folder: Path) -> list[Path]:
    return _entries(folder / "images") + _entries(folder / "texts")


def _signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    stats = []
    for path in _listing(folder):
        try:
            stat = path.stat()
        except OSError:
            stat = None  # reading it will report the problem with its name
        stats.append((str(path), stat.st_size if stat else -1, stat.st_mtime_ns if stat else -1))
    return tuple(stats)


def _read(folder: Path) -> Dataset:
    problems: list[str] = []
    pairs = _pairs(folder, problems)
    contents: dict[Path, bytes] = {}
    samples = []
    for pair in pairs:
        image = _read_image(pair.image_path, contents, problems)
        text = _read_text(pair.text_path, contents, problems)
        if image is not None and text is not None:
            samples.append(Sample(pair.name, image, text))
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        count = "this problem" if len(problems) == 1 else f"these {len(problems)} problems"
        raise DatasetError(f"dataset folder {folder} cannot be used; fix {count}:\n{listed}")
    if not samples:
        raise DatasetError(f"dataset folder {folder} holds no images; put each image in "
                           "images/NAME.png (or .jpg, .jpeg, .tif, .tiff) and its true text "
                           "in texts/NAME.txt")
    return Dataset(folder, tuple(samples), _fingerprint(folder, contents))


def _pairs(folder: Path, problems: list[str]) -> list[_Pair]:
    """Match images to texts by name, reporting files without a partner or a usable name."""
    images, shared_images = _by_stem(folder / "images", IMAGE_SUFFIXES, problems)
    texts, shared_texts = _by_stem(folder / "texts", (TEXT_SUFFIX,), problems)
    # A name several files share was reported as such; its partner is not an orphan too.
    for name in sorted(set(images) - set(texts) - shared_texts):
        problems.append(f"{images[name]}: no true text for this image; write it in "
                        f"texts/{name}.txt, or remove the image")
    for name in sorted(set(texts) - set(images) - shared_images):
        problems.append(f"{texts[name]}: no image for this text; add images/{name}.png "
                        "(or .jpg, .jpeg, .tif, .tiff), or remove the text")
    return [_Pair(name, images[name], texts[name]) for name in sorted(set(images) & set(texts))]


def _by_stem(sub: Path, suffixes: Iterable[str], problems: list[str]
             ) -> tuple[dict[str, Path], set[str]]:
    """Each name held by one file, with its path, and the names several files share."""
    found: dict[str, list[Path]] = {}
    allowed = tuple(suffixes)
    for path in _entries(sub):
        if not path.is_file() or path.suffix.lower() not in allowed:
            problems.append(f"{path}: not a {' / '.join(allowed)} file; the {sub.name}/ "
                            "folder may only hold those: move or remove it")
            continue
        found.setdefault(path.stem, []).append(path)
    shared = {stem for stem, paths in found.items() if len(paths) > 1}
    for stem in sorted(shared):
        problems.append(f"{', '.join(map(str, found[stem]))}: several files share the name "
                        f"{stem!r}, so which one is meant is unclear; keep only one")
    return {stem: paths[0] for stem, paths in found.items() if stem not in shared}, shared


def _read_bytes(path: Path, contents: dict[Path, bytes], problems: list[str]) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError as err:
        problems.append(f"{path}: cannot be read ({err.strerror}); check its permissions")
        return None
    contents[path] = data
    return data


def _read_image(path: Path, contents: dict[Path, bytes], problems: list[str]
                ) -> GrayImage | None:
    data = _read_bytes(path, contents, problems)
    if data is None:
        return None
    # imdecode (like imread) returns None for a corrupt or unknown image instead of raising.
    color = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if color is None:
        problems.append(f"{path}: OpenCV cannot decode it (empty, corrupt or not an image); "
                        "re-export it as PNG or JPEG, or remove it and its text")
        return None
    height, width = color.shape[:2]
    if min(height, width) < MIN_IMAGE_SIDE_PX:
        problems.append(f"{path}: {width}x{height} px is too small to read; each side needs "
                        f"at least {MIN_IMAGE_SIDE_PX} px: use a larger scan or crop")
        return None
    # Decoded in colour and converted, as the write-up did, rather than decoded as gray:
    # libjpeg's own gray decoding can differ by a level, and that changes what OCR reads.
    gray = to_grayscale(np.asarray(color, dtype=np.uint8))
    gray.flags.writeable = False
    return gray


def _read_text(path: Path, contents: dict[Path, bytes], problems: list[str]) -> str | None:
    data = _read_bytes(path, contents, problems)
    if data is None:
        return None
    try:
        text = data.decode("utf-8-sig")  # tolerate the byte-order mark some editors write
    except UnicodeDecodeError as err:
        problems.append(f"{path}: not UTF-8 (byte {err.start} is {data[err.start]:#04x}); "
                        "save it with UTF-8 encoding")
        return None
    if not text.strip():
        problems.append(f"{path}: empty; write the image's true text in it")
        return None
    return text


def _fingerprint(folder: Path, contents: dict[Path, bytes]) -> str:
    """sha256 over each file's path relative to the folder and its bytes, in sorted order.

    Lengths are hashed before names and bytes so that no two different datasets can
    produce the same stream of bytes.
    """
    digest = hashlib.sha256()
    for path in sorted(contents):
        name = path.relative_to(folder).as_posix().encode()
        for part in (name, contents[path]):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()
