"""Tests for cnnlib.data: IDX reading/writing, load_mnist's sources, the embedded sample, download_mnist.

No test touches the internet: downloads go to an http.server on 127.0.0.1.
"""

import functools
import gzip
import hashlib
import http.server
import socket
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from cnnlib import data
from cnnlib.data import download_mnist, load_mnist, load_mnist_with_source, read_idx, write_idx

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "mnist"


# ---------------------------------------------------------------------------------------------
# Helpers and fixtures
# ---------------------------------------------------------------------------------------------


def idx_bytes(array):
    """IDX encoding written out by hand, independent of cnnlib.data.write_idx."""
    header = b"\x00\x00\x08" + bytes([array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def synthetic_mnist(rng, n_train=20, n_test=10):
    """{name: uint8 array} for the four MNIST files: random images (N, 28, 28) and labels (N,)."""
    return {
        NAMES[0]: rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        NAMES[1]: rng.integers(0, 10, size=n_train, dtype=np.uint8),
        NAMES[2]: rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        NAMES[3]: rng.integers(0, 10, size=n_test, dtype=np.uint8),
    }


def write_dir(directory, arrays, gz=True):
    """Write {name: array} as IDX files into directory (created); returns directory."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        raw = idx_bytes(array)
        if gz:
            (directory / (name + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (directory / name).write_bytes(raw)
    return directory


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path_factory):
    """No test sees the user's $CNNLIB_MNIST_DIR or real cache: the cache is an empty temp dir."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.delenv("CNNLIB_MNIST_DIR", raising=False)
    monkeypatch.setenv("CNNLIB_CACHE_DIR", str(cache))
    return cache


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_root(tmp_path):
    """Serve tmp_path/'www' on 127.0.0.1 from a thread; yields (base_url, directory)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def silent_server_url():
    """A URL whose socket accepts connections (via the backlog) but never answers: a timeout."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    yield f"http://127.0.0.1:{s.getsockname()[1]}/"
    s.close()


def serve_gz(root, arrays):
    """Write .gz IDX files into the served directory; return {name: md5 of uncompressed bytes} via hashlib."""
    checksums = {}
    for name, array in arrays.items():
        raw = idx_bytes(array)
        (root / (name + ".gz")).write_bytes(gzip.compress(raw))
        checksums[name] = hashlib.md5(raw).hexdigest()
    return checksums


# ---------------------------------------------------------------------------------------------
# read_idx / write_idx
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("shape", [(7,), (5, 28, 28), (2, 3, 4, 5)])
def test_idx_round_trip(tmp_path, rng, suffix, shape):
    array = rng.integers(0, 256, size=shape, dtype=np.uint8)
    path = write_idx(tmp_path / ("a.idx" + suffix), array)
    back = read_idx(path)
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, array)
    raw = gzip.decompress(path.read_bytes()) if suffix else path.read_bytes()
    assert raw == idx_bytes(array)  # byte-exact against the hand-written encoding


def test_read_idx_detects_gzip_by_magic_not_extension(tmp_path, rng):
    array = rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    gz_without_suffix = tmp_path / "images"
    gz_without_suffix.write_bytes(gzip.compress(idx_bytes(array)))
    plain_with_suffix = tmp_path / "images.gz"
    plain_with_suffix.write_bytes(idx_bytes(array))
    np.testing.assert_array_equal(read_idx(gz_without_suffix), array)
    np.testing.assert_array_equal(read_idx(plain_with_suffix), array)


def test_write_idx_rejects_non_uint8(tmp_path):
    with pytest.raises(TypeError, match="uint8.*float64"):
        write_idx(tmp_path / "x", np.zeros((2, 2)))


def test_read_idx_checks_ndim(tmp_path, rng):
    path = write_idx(tmp_path / "labels", rng.integers(0, 10, size=(4, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"labels has 2 dimensions.*expected 1"):
        read_idx(path, ndim=1)


# ---------------------------------------------------------------------------------------------
# load_mnist from a directory
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_round_trip(tmp_path, rng, gz):
    arrays = synthetic_mnist(rng)
    write_dir(tmp_path / "mnist", arrays, gz=gz)
    (x_train, y_train), (x_test, y_test) = load_mnist(data_dir=tmp_path / "mnist", verbose=False)
    assert x_train.shape == (20, 1, 28, 28) and x_test.shape == (10, 1, 28, 28)
    assert y_train.shape == (20,) and y_test.shape == (10,)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert x_test.dtype == np.float32 and y_test.dtype == np.int64
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    np.testing.assert_array_equal(x_train[:, 0], arrays[NAMES[0]].astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(x_test[:, 0], arrays[NAMES[2]].astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(y_train, arrays[NAMES[1]])
    np.testing.assert_array_equal(y_test, arrays[NAMES[3]])


def test_load_mnist_prints_source(tmp_path, rng, capsys):
    directory = write_dir(tmp_path / "mnist", synthetic_mnist(rng))
    load_mnist(directory)
    out = capsys.readouterr().out
    assert out == f"load_mnist: using IDX files in {directory} (20 train / 10 test)\n"
    load_mnist(directory, verbose=False)
    assert capsys.readouterr().out == ""


def _rewrite(directory, name, change):
    """Apply change(bytes) -> bytes to the uncompressed content of directory/name.gz."""
    path = directory / (name + ".gz")
    path.write_bytes(gzip.compress(change(gzip.decompress(path.read_bytes()))))


def _replace_array(directory, name, array):
    (directory / (name + ".gz")).write_bytes(gzip.compress(idx_bytes(array)))


CORRUPTIONS = {
    "bad magic": (NAMES[0], lambda d: _rewrite(d, NAMES[0], lambda b: b"\x01" + b[1:]), "magic"),
    "wrong type byte": (NAMES[2], lambda d: _rewrite(d, NAMES[2], lambda b: b[:2] + b"\x0d" + b[3:]), "0x0d"),
    "wrong ndim": (NAMES[1], lambda d: _replace_array(d, NAMES[1], np.zeros((20, 1), np.uint8)), "dimensions"),
    "wrong image dims": (NAMES[0], lambda d: _replace_array(d, NAMES[0], np.zeros((20, 27, 28), np.uint8)),
                         "27x28"),
    "truncated": (NAMES[2], lambda d: _rewrite(d, NAMES[2], lambda b: b[:-5]), "truncated"),
    "truncated header": (NAMES[3], lambda d: _rewrite(d, NAMES[3], lambda b: b[:6]), "truncated"),
    "trailing bytes": (NAMES[0], lambda d: _rewrite(d, NAMES[0], lambda b: b + b"xyz"), "3 trailing bytes"),
    "broken gzip (cut)": (NAMES[0], lambda d: (d / (NAMES[0] + ".gz")).write_bytes(
        (d / (NAMES[0] + ".gz")).read_bytes()[:-200]), "gzip"),
    "broken gzip (crc)": (NAMES[1], lambda d: (d / (NAMES[1] + ".gz")).write_bytes(
        (d / (NAMES[1] + ".gz")).read_bytes()[:-8] + b"\x00" * 8), "gzip"),
    "label out of range": (NAMES[3], lambda d: _replace_array(d, NAMES[3], np.full(10, 10, np.uint8)), "0..9"),
    "count mismatch": (NAMES[1], lambda d: _replace_array(d, NAMES[1], np.zeros(19, np.uint8)), "19 labels"),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_corrupt_file_is_a_value_error_naming_it(tmp_path, rng, case):
    name, corrupt, detail = CORRUPTIONS[case]
    directory = write_dir(tmp_path / "mnist", synthetic_mnist(rng))
    corrupt(directory)
    with pytest.raises(ValueError) as info:
        load_mnist(data_dir=directory, verbose=False)
    message = str(info.value)
    assert name in message
    assert detail in message


def test_count_mismatch_names_both_files(tmp_path, rng):
    directory = write_dir(tmp_path / "mnist", synthetic_mnist(rng))
    _replace_array(directory, NAMES[3], np.zeros(11, np.uint8))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.*10 images.*t10k-labels-idx1-ubyte.*11 labels"):
        load_mnist(data_dir=directory, verbose=False)


def test_missing_files_are_all_listed(tmp_path, rng):
    arrays = synthetic_mnist(rng)
    directory = write_dir(tmp_path / "mnist", {NAMES[2]: arrays[NAMES[2]]})
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(data_dir=directory, verbose=False)
    message = str(info.value)
    assert str(directory) in message
    for name in (NAMES[0], NAMES[1], NAMES[3]):
        assert name in message
    assert NAMES[2] not in message


def test_missing_data_dir_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist(data_dir=tmp_path / "nowhere", verbose=False)


def test_env_dir_with_missing_files_is_an_error(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("CNNLIB_MNIST_DIR", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="CNNLIB_MNIST_DIR") as info:
        load_mnist(verbose=False)
    assert all(name in str(info.value) for name in NAMES)


def test_data_dir_type_is_checked():
    with pytest.raises(TypeError, match="data_dir.*int"):
        load_mnist(data_dir=3, verbose=False)


# ---------------------------------------------------------------------------------------------
# Source order: data_dir > $CNNLIB_MNIST_DIR > cache > embedded
# ---------------------------------------------------------------------------------------------


def test_source_order(tmp_path, rng, monkeypatch, isolated_env):
    given = write_dir(tmp_path / "given", synthetic_mnist(rng, n_train=3, n_test=2))
    env = write_dir(tmp_path / "env", synthetic_mnist(rng, n_train=4, n_test=2))
    cache = write_dir(isolated_env, synthetic_mnist(rng, n_train=5, n_test=2), gz=False)
    monkeypatch.setenv("CNNLIB_MNIST_DIR", str(env))

    (train, _), source = load_mnist_with_source(given)
    assert source == ("data_dir", str(given)) and len(train[1]) == 3

    (train, _), source = load_mnist_with_source()
    assert source == ("env", str(env)) and len(train[1]) == 4

    monkeypatch.delenv("CNNLIB_MNIST_DIR")
    (train, _), source = load_mnist_with_source()
    assert source == ("cache", str(cache)) and len(train[1]) == 5

    (cache / NAMES[1]).unlink()  # an incomplete cache is skipped, not an error
    (train, _), source = load_mnist_with_source()
    assert source.kind == "embedded" and len(train[1]) == 8000


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNLIB_CACHE_DIR", str(tmp_path / "c"))
    assert data.default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("CNNLIB_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.default_cache_dir() == tmp_path / "xdg" / "cnnlib" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.default_cache_dir() == tmp_path / "home" / ".cache" / "cnnlib" / "mnist"


# ---------------------------------------------------------------------------------------------
# The embedded set: MNIST's 10,000 test digits, shipped in the package
# ---------------------------------------------------------------------------------------------

# typed in from the MNIST distribution, independently of cnnlib.data
T10K_MD5 = {"t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
            "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637"}
T10K_CLASS_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _rows(x):
    """(N, 1, 28, 28) float32 in [0, 1] -> list of N byte strings of the uint8 pixels."""
    pixels = np.rint(x.reshape(len(x), -1) * 255).astype(np.uint8)
    return [row.tobytes() for row in pixels]


def _raw_embedded():
    """The embedded files parsed by hand: (10000, 784) uint8 rows and (10000,) labels."""
    folder = Path(data.__file__).parent / "embedded_mnist"
    images = gzip.decompress((folder / "t10k-images-idx3-ubyte.gz").read_bytes())
    labels = gzip.decompress((folder / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert hashlib.md5(images).hexdigest() == T10K_MD5["t10k-images-idx3-ubyte"]
    assert hashlib.md5(labels).hexdigest() == T10K_MD5["t10k-labels-idx1-ubyte"]
    # IDX: a 16-byte header for images (magic + 3 sizes), 8 bytes for labels (magic + 1 size)
    return np.frombuffer(images, np.uint8, offset=16).reshape(10000, 784), np.frombuffer(labels, np.uint8, offset=8)


def test_embedded_split(capsys):
    (x_train, y_train), (x_test, y_test) = load_mnist()
    assert capsys.readouterr().out == ("load_mnist: using the embedded MNIST test set, split into train and test "
                                       "(8,000 train / 2,000 test)\n")
    assert x_train.shape == (8000, 1, 28, 28) and x_test.shape == (2000, 1, 28, 28)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert 0.0 <= min(x_train.min(), x_test.min()) and max(x_train.max(), x_test.max()) <= 1.0
    assert x_train.max() == 1.0  # scaled by 255, not left in 0..255 or rescaled per image
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), np.full(10, 200))
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), np.array(T10K_CLASS_COUNTS) - 200)
    assert not set(_rows(x_train)) & set(_rows(x_test))
    assert len(set(y_test[:50])) > 5  # shuffled, not grouped by class

    (x_train2, y_train2), (x_test2, y_test2) = load_mnist(verbose=False)
    np.testing.assert_array_equal(x_train, x_train2)
    np.testing.assert_array_equal(y_train, y_train2)
    np.testing.assert_array_equal(x_test, x_test2)
    np.testing.assert_array_equal(y_test, y_test2)


def test_plain_import_reaches_the_loader(capsys):
    import cnnlib

    cnnlib.data.load_mnist()
    assert "embedded MNIST test set" in capsys.readouterr().out


def test_embedded_is_the_mnist_test_set():
    rows, labels = _raw_embedded()
    reference = {row.tobytes(): int(label) for row, label in zip(rows, labels)}
    (x_train, y_train), (x_test, y_test) = load_mnist(verbose=False)
    ours = list(zip(_rows(x_train), y_train)) + list(zip(_rows(x_test), y_test))
    assert len(ours) == 10000
    assert sorted(ours) == sorted(zip((r.tobytes() for r in rows), labels.astype(np.int64)))
    assert all(reference[row] == label for row, label in ours)


@pytest.fixture
def embedded_copy(tmp_path, monkeypatch):
    """A writable copy of the embedded folder that load_mnist uses instead of the installed one."""
    folder = tmp_path / "embedded_mnist"
    folder.mkdir()
    for name in T10K_MD5:
        (folder / (name + ".gz")).write_bytes((Path(data.__file__).parent / "embedded_mnist" / (name + ".gz")).read_bytes())
    monkeypatch.setattr(data, "embedded_dir", lambda: folder)
    return folder


def test_corrupted_embedded_copy_is_a_clear_error(embedded_copy, isolated_env):
    path = embedded_copy / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[100] = (raw[100] + 1) % 10  # one label changed: still a valid IDX file, but not MNIST
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(ValueError, match=r"read_idx: .*t10k-labels-idx1-ubyte.gz is corrupted: md5 .* expected "
                                         r"27ae3e4e09519cfbb04c329615203637"):
        load_mnist(verbose=False)


def test_truncated_embedded_copy_is_a_clear_error(embedded_copy, isolated_env):
    path = embedded_copy / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"read_idx: .*t10k-images-idx3-ubyte.gz is a broken gzip stream"):
        load_mnist(verbose=False)


def test_missing_embedded_file_is_a_clear_error(embedded_copy, isolated_env):
    (embedded_copy / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"embedded MNIST file .*t10k-images-idx3-ubyte.gz is missing"):
        load_mnist(verbose=False)


def test_embedded_set_is_credited_and_licensed():
    readme = (Path(data.__file__).parent / "embedded_mnist" / "README.md").read_text()
    for needle in ("LeCun", "Cortes", "Burges", "CC BY-SA 3.0"):
        assert needle in readme
    assert "CC BY-SA 3.0" in (Path(data.__file__).parents[1] / "README.md").read_text()


def test_stratified_split_is_seeded_by_rng():
    labels = np.repeat(np.arange(10), 7)
    a = data.stratified_split(labels, 2, np.random.default_rng(1))
    b = data.stratified_split(labels, 2, np.random.default_rng(1))
    c = data.stratified_split(labels, 2, np.random.default_rng(2))
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    np.testing.assert_array_equal(np.bincount(labels[a[1]]), np.full(10, 2))
    assert sorted(np.concatenate(a)) == list(range(70))


# ---------------------------------------------------------------------------------------------
# download_mnist against a local http.server
# ---------------------------------------------------------------------------------------------


def test_download_skips_broken_mirrors(http_root, silent_server_url, tmp_path, rng, capsys):
    base, root = http_root
    arrays = synthetic_mnist(rng)
    checksums = serve_gz(root, arrays)
    dest = tmp_path / "dest"
    mirrors = [closed_port_url(), silent_server_url, base + "missing/", base]

    assert download_mnist(dest, mirrors=mirrors, progress=True, checksums=checksums, timeout=0.5) == dest

    assert sorted(p.name for p in dest.iterdir()) == sorted(name + ".gz" for name in NAMES)
    for name in NAMES:
        assert hashlib.md5(gzip.decompress((dest / (name + ".gz")).read_bytes())).hexdigest() == checksums[name]
    (x_train, y_train), (x_test, y_test) = load_mnist(data_dir=dest, verbose=False)
    np.testing.assert_array_equal(y_train, arrays[NAMES[1]])
    np.testing.assert_array_equal(np.rint(x_test[:, 0] * 255), arrays[NAMES[2]])

    # A second call finds every file present and verified, so it needs no working mirror.
    capsys.readouterr()
    download_mnist(dest, mirrors=[closed_port_url()], progress=True, checksums=checksums)
    assert capsys.readouterr().out.count("already in") == 4


def test_download_defaults_to_cache_that_load_mnist_reads(http_root, rng, isolated_env):
    base, root = http_root
    checksums = serve_gz(root, synthetic_mnist(rng, n_train=6, n_test=3))
    assert download_mnist(mirrors=[base], progress=False, checksums=checksums) == isolated_env
    (train, test), source = load_mnist_with_source()
    assert source == ("cache", str(isolated_env))
    assert len(train[1]) == 6 and len(test[1]) == 3


@pytest.mark.parametrize("corrupt_name", [NAMES[0] + ".gz", NAMES[0]])
def test_download_replaces_a_corrupt_file(http_root, rng, tmp_path, corrupt_name):
    base, root = http_root
    checksums = serve_gz(root, synthetic_mnist(rng))
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / corrupt_name).write_bytes(b"\x1f\x8b garbage")  # load_mnist prefers the .gz download if both exist
    download_mnist(dest, mirrors=[base], progress=False, checksums=checksums)
    assert load_mnist(data_dir=dest, verbose=False)[0][0].shape == (20, 1, 28, 28)


def test_download_with_bad_checksum_everywhere_leaves_nothing(http_root, rng, tmp_path):
    base, root = http_root
    serve_gz(root, synthetic_mnist(rng))
    (root / "copy").mkdir()
    serve_gz(root / "copy", synthetic_mnist(rng))
    wrong = {name: "0" * 32 for name in NAMES}
    dest = tmp_path / "dest"
    with pytest.raises(RuntimeError) as info:
        download_mnist(dest, mirrors=[base, base + "copy/"], progress=False, checksums=wrong)
    message = str(info.value)
    assert NAMES[0] in message
    assert base in message and base + "copy/" in message
    assert message.count("checksum mismatch") == 2
    assert list(dest.iterdir()) == []


def test_download_all_mirrors_down_lists_each_reason(tmp_path, http_root):
    base, _ = http_root
    dead = closed_port_url()
    with pytest.raises(RuntimeError) as info:
        download_mnist(tmp_path / "d", mirrors=[dead, base + "nothing/"], progress=False)
    message = str(info.value)
    assert dead in message and "refused" in message.lower()
    assert base + "nothing/" in message and "404" in message
    assert list((tmp_path / "d").iterdir()) == []


# ---------------------------------------------------------------------------------------------
# The real full MNIST (developers and CI only: ../shared/mnist beside the checkout)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_mnist():
    if not SHARED_MNIST.is_dir():
        pytest.skip(f"full MNIST not found at {SHARED_MNIST}")
    return SHARED_MNIST


def test_full_mnist_checksums_and_shapes(shared_mnist):
    for name in NAMES:
        path = next(p for p in (shared_mnist / (name + ".gz"), shared_mnist / name) if p.exists())
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        assert hashlib.md5(raw).hexdigest() == data.MNIST_MD5[name], name
    (x_train, y_train), (x_test, y_test) = load_mnist(data_dir=shared_mnist, verbose=False)
    assert x_train.shape == (60000, 1, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 1, 28, 28) and y_test.shape == (10000,)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y_test), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])


def test_embedded_digits_are_real_mnist_digits(shared_mnist):
    (x_train, y_train), (x_test, y_test) = load_mnist(data_dir=shared_mnist, verbose=False)
    full = dict(zip(_rows(x_train), y_train)) | dict(zip(_rows(x_test), y_test))
    (e_train, ey_train), (e_test, ey_test) = load_mnist(verbose=False)
    ours = list(zip(_rows(e_train), ey_train)) + list(zip(_rows(e_test), ey_test))
    assert all(full.get(row) == label for row, label in ours)
