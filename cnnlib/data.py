"""MNIST for cnnlib: an IDX reader/writer, an embedded sample, and a checksummed download.

Every loader returns images as float32 in [0, 1] with shape (N, 1, 28, 28) (NCHW, one channel)
and labels as int64 with shape (N,).

Where ``load_mnist`` looks, in order:

1. the ``data_dir`` argument,
2. the environment variable ``CNNLIB_MNIST_DIR``,
3. the download cache that ``download_mnist`` fills (see ``default_cache_dir``), if it holds all four files,
4. the embedded default: the 10,000 real digits of the MNIST test set, shipped inside cnnlib
   (``cnnlib/embedded_mnist/``, checked against their md5) and split into 8,000 train / 2,000 test
   (stratified, 200 test digits per class, always the same split).

A directory holds the four canonical IDX files, each plain or gzip-compressed:
``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte`` (optionally ending in ``.gz``).

IDX format (big-endian): two zero bytes, a type byte (0x08 = uint8), a byte with the number of
dimensions D, then D uint32 sizes, then prod(sizes) data bytes.
"""

import gzip
import hashlib
import http.client
import importlib.resources
import os
import struct
import tempfile
import urllib.request
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

IMAGE_SIZE = 28
NUM_CLASSES = 10

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
MNIST_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

# md5 of the UNCOMPRESSED files of the original distribution (gzip wrappers differ between mirrors).
MNIST_MD5 = {
    TRAIN_IMAGES: "6bbc9ace898e44ae57da46a324031adb",
    TRAIN_LABELS: "a25bea736e30d166cdddb491f175f624",
    TEST_IMAGES: "2646ac647ad5339dbf082846283269ea",
    TEST_LABELS: "27ae3e4e09519cfbb04c329615203637",
}

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

ENV_DATA_DIR = "CNNLIB_MNIST_DIR"
ENV_CACHE_DIR = "CNNLIB_CACHE_DIR"

# The embedded set: MNIST's canonical test files, shipped as package data (CC BY-SA 3.0, see its README.md).
EMBEDDED_DIR = "embedded_mnist"
EMBEDDED_ROWS = 10000
EMBEDDED_TEST_PER_CLASS = 200
EMBEDDED_SPLIT_SEED = 10000  # fixed, so every user gets the same 8,000 / 2,000 split

_IDX_UINT8 = 0x08
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 16


class MnistSource(NamedTuple):
    """Where ``load_mnist_with_source`` found the data.

    kind:     "data_dir", "env" (CNNLIB_MNIST_DIR), "cache" (download cache) or "embedded" (shipped in cnnlib)
    location: the directory of the IDX files (for "embedded", cnnlib's own embedded_mnist folder)
    """

    kind: str
    location: str


# ---------------------------------------------------------------------------------------------
# IDX files
# ---------------------------------------------------------------------------------------------


def _read_bytes(path):
    """Return the content of ``path``, decompressed if it starts with the gzip magic bytes 1f 8b."""
    raw = Path(path).read_bytes()
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"read_idx: {path} is a broken gzip stream ({type(err).__name__}: {err})") from err


def _parse_idx(raw, path, ndim=None):
    """Parse IDX bytes into a uint8 array of the shape in the header; ``path`` is only for messages."""
    if len(raw) < 4:
        raise ValueError(f"read_idx: {path} is truncated: expected a 4-byte IDX header, found {len(raw)} bytes")
    if raw[:2] != b"\x00\x00":
        raise ValueError(f"read_idx: {path} has a bad magic number: expected first two bytes 00 00, "
                         f"found {raw[:2].hex(' ')}")
    if raw[2] != _IDX_UINT8:
        raise ValueError(f"read_idx: {path} has data type 0x{raw[2]:02x}, expected 0x08 (uint8)")
    found_ndim = raw[3]
    if ndim is not None and found_ndim != ndim:
        raise ValueError(f"read_idx: {path} has {found_ndim} dimensions in its header, expected {ndim}")
    header_len = 4 + 4 * found_ndim
    if len(raw) < header_len:
        raise ValueError(f"read_idx: {path} is truncated: expected a {header_len}-byte header, "
                         f"found {len(raw)} bytes")
    dims = struct.unpack(f">{found_ndim}I", raw[4:header_len])
    expected_len = header_len + int(np.prod(dims, dtype=np.int64))
    if len(raw) < expected_len:
        raise ValueError(f"read_idx: {path} is truncated: header says {dims}, so expected {expected_len} bytes, "
                         f"found {len(raw)}")
    if len(raw) > expected_len:
        raise ValueError(f"read_idx: {path} has {len(raw) - expected_len} trailing bytes: header says {dims}, "
                         f"so expected {expected_len} bytes, found {len(raw)}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(dims).copy()


def read_idx(path, ndim=None):
    """Read an IDX file of uint8 data, plain or gzip-compressed (detected by its first bytes).

    path: file path (str or os.PathLike)
    ndim: if given, the number of dimensions the header must declare (3 for images, 1 for labels)
    Returns a uint8 array with the shape given in the header, e.g. (N, 28, 28) or (N,).
    Raises ValueError naming the file if it is corrupt, truncated, or has trailing bytes.
    """
    return _parse_idx(_read_bytes(path), path, ndim)


def write_idx(path, array):
    """Write a uint8 array of any shape (1 to 255 dimensions) as an IDX file; gzip it if ``path`` ends in .gz.

    Returns the path as a pathlib.Path.
    """
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8:
        found = array.dtype if isinstance(array, np.ndarray) else type(array).__name__
        raise TypeError(f"write_idx expected a numpy uint8 array, got {found}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"write_idx expected 1 to 255 dimensions, got shape {array.shape}")
    header = bytes([0, 0, _IDX_UINT8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    content = header + np.ascontiguousarray(array).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        content = gzip.compress(content, mtime=0)
    path.write_bytes(content)
    return path


# ---------------------------------------------------------------------------------------------
# Loading a directory of IDX files
# ---------------------------------------------------------------------------------------------


def _to_float(images):
    """(N, 28, 28) uint8 -> (N, 1, 28, 28) float32 in [0, 1]."""
    return (images.astype(np.float32) / np.float32(255))[:, None, :, :]


def _idx_files_in(directory):
    """Map each canonical name to its file in ``directory`` (the .gz one if both exist); list the missing names."""
    found, missing = {}, []
    for name in MNIST_FILES:
        candidates = [directory / (name + ".gz"), directory / name]
        existing = [p for p in candidates if p.is_file()]
        if existing:
            found[name] = existing[0]
        else:
            missing.append(name)
    return found, missing


def _require_idx_files(directory, origin):
    """Like ``_idx_files_in`` but an error if the directory or any file is missing. ``origin`` names the setting."""
    if not directory.is_dir():
        raise FileNotFoundError(f"load_mnist: MNIST directory {directory} (from {origin}) does not exist")
    found, missing = _idx_files_in(directory)
    if missing:
        listed = ", ".join(f"{name}[.gz]" for name in missing)
        raise FileNotFoundError(f"load_mnist: {directory} (from {origin}) lacks {len(missing)} of the 4 MNIST "
                                f"files: {listed}")
    return found


def _load_pair(images_path, labels_path):
    """Read one images/labels pair: -> x (N, 1, 28, 28) float32, y (N,) int64."""
    images = read_idx(images_path, ndim=3)
    if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"load_mnist: {images_path} holds images of {images.shape[1]}x{images.shape[2]} pixels, "
                         f"expected {IMAGE_SIZE}x{IMAGE_SIZE}")
    labels = read_idx(labels_path, ndim=1)
    if len(labels) != len(images):
        raise ValueError(f"load_mnist: {images_path.name} holds {len(images)} images but {labels_path.name} "
                         f"holds {len(labels)} labels ({images_path.parent})")
    if labels.size and labels.max() >= NUM_CLASSES:
        bad = int(np.argmax(labels >= NUM_CLASSES))
        raise ValueError(f"load_mnist: {labels_path} has label {labels[bad]} at index {bad}, expected 0..9")
    return _to_float(images), labels.astype(np.int64)


def _load_idx_dir(files):
    """Load the four files of ``_idx_files_in`` -> ((x_train, y_train), (x_test, y_test))."""
    train = _load_pair(files[TRAIN_IMAGES], files[TRAIN_LABELS])
    test = _load_pair(files[TEST_IMAGES], files[TEST_LABELS])
    return train, test


# ---------------------------------------------------------------------------------------------
# The embedded set (MNIST's 10,000 test digits, shipped inside cnnlib)
# ---------------------------------------------------------------------------------------------


def embedded_dir():
    """The folder inside the installed package that holds the embedded IDX files. -> pathlib.Path"""
    return Path(str(importlib.resources.files("cnnlib") / EMBEDDED_DIR))


def _read_verified(path, md5, ndim):
    """Read an IDX file after checking the md5 of its uncompressed bytes; ValueError naming the file if it differs."""
    if not path.is_file():
        raise FileNotFoundError(f"load_mnist: the embedded MNIST file {path} is missing; reinstall cnnlib, or pass "
                                f"data_dir=... pointing at the four MNIST IDX files")
    raw = _read_bytes(path)
    found = hashlib.md5(raw).hexdigest()
    if found != md5:
        raise ValueError(f"read_idx: {path} is corrupted: md5 of its uncompressed bytes is {found}, expected {md5}; "
                         f"reinstall cnnlib, or pass data_dir=...")
    return _parse_idx(raw, path, ndim)


def _read_embedded(directory):
    """The embedded files -> images (10000, 28, 28) uint8, labels (10000,) int64, both checksummed."""
    images = _read_verified(directory / (TEST_IMAGES + ".gz"), MNIST_MD5[TEST_IMAGES], ndim=3)
    labels = _read_verified(directory / (TEST_LABELS + ".gz"), MNIST_MD5[TEST_LABELS], ndim=1)
    return images, labels.astype(np.int64)


def stratified_split(labels, n_test_per_class, rng):
    """Split indices so that each class puts exactly ``n_test_per_class`` examples in the test set.

    labels: (N,) int, values 0..NUM_CLASSES-1
    rng:    np.random.Generator, the only source of randomness
    Returns (train_idx, test_idx), int arrays of shapes (N - 10 * n_test_per_class,) and (10 * n_test_per_class,),
    each in shuffled order (so classes are mixed even if ``labels`` is sorted).
    """
    train_parts, test_parts = [], []
    for digit in range(NUM_CLASSES):
        members = rng.permutation(np.flatnonzero(labels == digit))
        if len(members) < n_test_per_class:
            raise ValueError(f"stratified_split: class {digit} has {len(members)} examples, "
                             f"expected at least {n_test_per_class}")
        test_parts.append(members[:n_test_per_class])
        train_parts.append(members[n_test_per_class:])
    train_idx = rng.permutation(np.concatenate(train_parts))
    test_idx = rng.permutation(np.concatenate(test_parts))
    return train_idx, test_idx


def _load_embedded(directory):
    """The embedded set as ((x_train, y_train), (x_test, y_test)): 8,000 / 2,000, 200 per class in test."""
    images, labels = _read_embedded(directory)
    rng = np.random.default_rng(EMBEDDED_SPLIT_SEED)
    train_idx, test_idx = stratified_split(labels, EMBEDDED_TEST_PER_CLASS, rng)
    train = _to_float(images[train_idx]), labels[train_idx]
    test = _to_float(images[test_idx]), labels[test_idx]
    return train, test


# ---------------------------------------------------------------------------------------------
# Public loaders
# ---------------------------------------------------------------------------------------------


def default_cache_dir():
    """Where download_mnist stores files: $CNNLIB_CACHE_DIR, else $XDG_CACHE_HOME/cnnlib/mnist,
    else ~/.cache/cnnlib/mnist. Returns a pathlib.Path (not created here)."""
    if os.environ.get(ENV_CACHE_DIR):
        return Path(os.environ[ENV_CACHE_DIR]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "cnnlib" / "mnist"
    return Path.home() / ".cache" / "cnnlib" / "mnist"


def _check_dir_argument(data_dir):
    """data_dir as a Path; TypeError if it is not a str or os.PathLike."""
    if not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(f"load_mnist expected data_dir to be a str or path, got {type(data_dir).__name__}")
    return Path(data_dir).expanduser()


def load_mnist_with_source(data_dir=None):
    """Like ``load_mnist`` but silent, and also says where the data came from.

    Returns ((x_train, y_train), (x_test, y_test)), source
        x_*: (N, 1, 28, 28) float32 in [0, 1];  y_*: (N,) int64 in 0..9
        source: MnistSource(kind, location), kind one of "data_dir", "env", "cache", "embedded"
    """
    if data_dir is not None:
        directory = _check_dir_argument(data_dir)
        files = _require_idx_files(directory, "the data_dir argument")
        return _load_idx_dir(files), MnistSource("data_dir", str(directory))
    if os.environ.get(ENV_DATA_DIR):
        directory = Path(os.environ[ENV_DATA_DIR]).expanduser()
        files = _require_idx_files(directory, f"${ENV_DATA_DIR}")
        return _load_idx_dir(files), MnistSource("env", str(directory))
    cache = default_cache_dir()
    files, missing = _idx_files_in(cache)
    if not missing:
        return _load_idx_dir(files), MnistSource("cache", str(cache))
    directory = embedded_dir()
    return _load_embedded(directory), MnistSource("embedded", str(directory))


def _describe(source, n_train, n_test):
    """One line for the user, e.g. 'using IDX files in /data (60,000 train / 10,000 test)'."""
    if source.kind == "embedded":
        where = "the embedded MNIST test set, split into train and test"
    else:
        note = {"data_dir": "", "env": f" (from ${ENV_DATA_DIR})", "cache": " (download cache)"}[source.kind]
        where = f"IDX files in {source.location}{note}"
    return f"load_mnist: using {where} ({n_train:,} train / {n_test:,} test)"


def load_mnist(data_dir=None, *, verbose=True):
    """Load MNIST: the full set from IDX files if available, else the 10,000 embedded digits.

    data_dir: directory with the four IDX files (plain or .gz); overrides $CNNLIB_MNIST_DIR and the cache.
    verbose:  print one line saying which source was used.
    Returns (x_train, y_train), (x_test, y_test)
        x_*: (N, 1, 28, 28) float32 in [0, 1];  y_*: (N,) int64 in 0..9
        full set: N = 60,000 / 10,000;  embedded set: N = 8,000 / 2,000.
    Use ``load_mnist_with_source`` to get the source programmatically.
    """
    (train, test), source = load_mnist_with_source(data_dir)
    if verbose:
        print(_describe(source, len(train[1]), len(test[1])))
    return train, test


# ---------------------------------------------------------------------------------------------
# Download
# ---------------------------------------------------------------------------------------------


def _md5_uncompressed(path):
    """md5 hex digest of the file's content after gunzip (if it is gzipped)."""
    return hashlib.md5(_read_bytes(path)).hexdigest()


def _is_present_and_valid(dest, name, md5):
    """True if dest holds name or name.gz whose uncompressed md5 is ``md5``."""
    for path in (dest / (name + ".gz"), dest / name):
        if path.is_file():
            try:
                if _md5_uncompressed(path) == md5:
                    return True
            except ValueError:  # broken gzip: download it again
                pass
    return False


def _fetch(url, out, timeout, progress, desc):
    """Stream ``url`` into the open binary file ``out``, with a tqdm bar if ``progress``."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        bar = None
        if progress:
            from tqdm.auto import tqdm  # imported here so `import cnnlib.data` stays fast

            bar = tqdm(total=total, unit="B", unit_scale=True, desc=desc)
        try:
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()


def _download_one(name, dest, mirrors, md5, timeout, progress):
    """Fetch ``name``.gz from the first mirror that serves it with the right md5; RuntimeError if none does."""
    target = dest / (name + ".gz")
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name + ".gz"
        # The temp file lives in dest so os.replace is atomic; it is removed whatever happens.
        fd, tmp_name = tempfile.mkstemp(dir=dest, prefix=f".{name}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                _fetch(url, out, timeout, progress, desc=name)
            found = _md5_uncompressed(tmp)
            if found != md5:
                raise ValueError(f"checksum mismatch: md5 of uncompressed data is {found}, expected {md5}")
            os.replace(tmp, target)
            return target
        except (OSError, ValueError, http.client.HTTPException) as err:
            # OSError covers HTTPError, URLError (refused, DNS) and timeouts.
            failures.append(f"{url}: {type(err).__name__}: {err}")
        finally:
            tmp.unlink(missing_ok=True)
    listed = "\n  ".join(failures) if failures else "(no mirrors given)"
    raise RuntimeError(f"download_mnist: could not fetch {name}.gz from any mirror:\n  {listed}")


def download_mnist(dest=None, mirrors=None, progress=True, *, checksums=None, timeout=30.0):
    """Download the four MNIST IDX files (.gz) into ``dest`` and verify them.

    dest:      directory (created if needed); default ``default_cache_dir()``, where load_mnist looks.
    mirrors:   base URLs tried in order for each file; default ``MIRRORS``.
    progress:  show a tqdm progress bar and one line per file already present.
    checksums: {name: md5 of the uncompressed file} for the four names; default ``MNIST_MD5``.
    timeout:   seconds for connecting and for each read (urllib).
    Files already present (plain or .gz) with the right md5 are skipped. A failed or mismatching
    download moves on to the next mirror and leaves no file behind. Returns ``dest`` as a Path.
    Raises RuntimeError listing every mirror and its error if no mirror serves a valid file.
    """
    dest = default_cache_dir() if dest is None else Path(dest).expanduser()
    mirrors = MIRRORS if mirrors is None else mirrors
    if isinstance(mirrors, str) or not all(isinstance(m, str) for m in mirrors):
        raise TypeError(f"download_mnist expected mirrors to be a list of URL strings, got {mirrors!r}")
    checksums = MNIST_MD5 if checksums is None else dict(checksums)
    missing = [name for name in MNIST_FILES if name not in checksums]
    if missing:
        raise ValueError(f"download_mnist: checksums lacks entries for {missing}; expected keys {list(MNIST_FILES)}")
    dest.mkdir(parents=True, exist_ok=True)
    for name in MNIST_FILES:
        if _is_present_and_valid(dest, name, checksums[name]):
            if progress:
                print(f"download_mnist: {name} already in {dest} and verified")
            continue
        _download_one(name, dest, mirrors, checksums[name], timeout, progress)
    return dest
