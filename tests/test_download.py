"""``udabench data download``: mirrors, md5, resume, unpacking, and the offline message.

Archives are built here and served from 127.0.0.1 by a small HTTP server that honours
Range requests (and can fail, or answer with a web page, on chosen paths).
"""

from __future__ import annotations

import hashlib
import io
import socket
import tarfile
import threading
import types
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import udabench.cli
from udabench import DataError
from udabench.data.download import MIRRORS_ENV, Archive, download, fetch
from udabench_plugins.datasets.office31 import Office31

TIMEOUT = 5.0


# -- a local server ------------------------------------------------------------------------------
class Served:
    """What the server serves, how it misbehaves, and what it was asked."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.failing: set[str] = set()   # answer 500
        self.web_pages: set[str] = set()  # answer an HTML page, as a confirmation page does
        self.cut: set[str] = set()  # announce the whole file, send half of it, hang up
        self.ignore_range = False
        self.requests: list[tuple[str, str | None]] = []


def handler_for(served: Served):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            served.requests.append((self.path, self.headers.get("Range")))
            if self.path in served.failing:
                self.send_error(500, "mirror broken")
                return
            if self.path in served.web_pages:
                self._send(200, b"<html><body>Confirm download</body></html>", "text/html; charset=utf-8")
                return
            data = served.files.get(self.path)
            if data is None:
                self.send_error(404)
                return
            start = int(self.headers["Range"][6:].rstrip("-")) if self.headers.get("Range") else 0
            if self.path in served.cut:
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.close_connection = True
                return
            size = len(data)
            if start and not served.ignore_range:
                if start >= size:
                    self._send(416, b"", extra={"Content-Range": f"bytes */{size}"})
                else:
                    self._send(206, data[start:], extra={"Content-Range": f"bytes {start}-{size - 1}/{size}"})
            else:
                self._send(200, data)

        def _send(self, code, body, ctype="application/octet-stream", extra=None):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def server():
    served = Served()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(served))
    httpd.timeout = TIMEOUT
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(TIMEOUT)


@pytest.fixture
def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens: a connection is refused, as offline."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def no_user_mirrors(monkeypatch):
    monkeypatch.delenv(MIRRORS_ENV, raising=False)


# -- archives ------------------------------------------------------------------------------------
def tar_gz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def fake_dataset(archives) -> types.SimpleNamespace:
    return types.SimpleNamespace(name="fake", downloads={"test": archives}, source_info="the fake page")


BIG = bytes(range(256)) * 4096  # 1 MiB, more than one read chunk


# -- unpacking into the layout -------------------------------------------------------------------
def test_tar_with_its_own_top_folder_lands_in_place_once(server, tmp_path, capsys):
    base, served = server
    served.files["/amazon.tgz"] = tar_gz({"amazon/images/bike/frame_0001.jpg": b"jpg",
                                          "amazon/images/mug/frame_0001.jpg": b"jpg"})
    spec = {"name": "amazon.tgz", "into": "office31/amazon", "urls": [f"{base}/amazon.tgz"]}
    download(fake_dataset([spec]), tmp_path, progress=True)
    assert (tmp_path / "office31/amazon/images/bike/frame_0001.jpg").read_bytes() == b"jpg"
    assert not (tmp_path / "office31/amazon/amazon").exists()
    assert not (tmp_path / ".downloads/office31/amazon.tgz").exists()  # unpacked, then deleted
    assert "amazon.tgz" in capsys.readouterr().err  # the progress bar
    download(fake_dataset([spec]), tmp_path, progress=False)
    assert "amazon.tgz: already unpacked" in capsys.readouterr().out
    assert len(served.requests) == 1


def test_zip_without_a_top_folder_and_a_plain_file(server, tmp_path):
    base, served = server
    served.files["/splits_mini.zip"] = zip_of({"clipart_train.txt": b"clipart/ant/a.jpg 0\n"})
    served.files["/clipart_test.txt"] = b"clipart/ant/b.jpg 6\n"
    download(fake_dataset([
        {"name": "splits_mini.zip", "into": "domainnet/splits_mini", "urls": [f"{base}/splits_mini.zip"]},
        {"name": "clipart_test.txt", "into": "domainnet", "urls": [f"{base}/clipart_test.txt"]},
    ]), tmp_path, keep_archives=True, progress=False)
    assert (tmp_path / "domainnet/splits_mini/clipart_train.txt").read_bytes() == b"clipart/ant/a.jpg 0\n"
    assert (tmp_path / "domainnet/clipart_test.txt").read_bytes() == b"clipart/ant/b.jpg 6\n"
    assert (tmp_path / ".downloads/domainnet/splits_mini.zip").is_file()  # --keep-archives


def test_a_damaged_archive_says_so(server, tmp_path):
    base, served = server
    served.files["/train.tar"] = b"\x00garbage" * 100
    with pytest.raises(DataError, match=r"train.tar is neither a tar nor a zip archive.*download it again"):
        download(fake_dataset([{"name": "train.tar", "into": "visda2017/train", "urls": [f"{base}/train.tar"]}]),
                 tmp_path, progress=False)


def test_an_archive_escaping_its_folder_is_refused(server, tmp_path):
    base, served = server
    served.files["/evil.tgz"] = tar_gz({"../../outside.txt": b"x"})
    with pytest.raises(DataError, match=r"cannot unpack .*evil.tgz"):
        download(fake_dataset([{"name": "evil.tgz", "into": "x", "urls": [f"{base}/evil.tgz"]}]), tmp_path,
                 progress=False)
    assert not (tmp_path.parent / "outside.txt").exists()


# -- checksums -----------------------------------------------------------------------------------
def test_good_checksum_is_accepted(server, tmp_path):
    base, served = server
    served.files["/a.bin"] = BIG
    path = fetch(Archive("a.bin", (f"{base}/a.bin",), md5=md5(BIG)), tmp_path, progress=False, timeout=TIMEOUT)
    assert path.read_bytes() == BIG


def test_bad_checksum_is_refused_and_the_file_deleted(server, tmp_path):
    base, served = server
    served.files["/a.bin"] = BIG
    with pytest.raises(DataError) as err:
        fetch(Archive("a.bin", (f"{base}/a.bin",), md5="0" * 32), tmp_path, progress=False, timeout=TIMEOUT)
    msg = str(err.value)
    assert f"md5 {md5(BIG)}, expected {'0' * 32}" in msg and f"{base}/a.bin" in msg
    assert not (tmp_path / "a.bin").exists() and not (tmp_path / "a.bin.part").exists()


def test_a_file_put_there_by_hand_is_used_and_checked(server, tmp_path):
    base, served = server
    (tmp_path / "a.bin").write_bytes(BIG)
    assert fetch(Archive("a.bin", (f"{base}/a.bin",), md5=md5(BIG)), tmp_path, progress=False) == tmp_path / "a.bin"
    assert served.requests == []
    with pytest.raises(DataError, match=r"a.bin is already there, but its md5 is .*Delete it to download it again"):
        fetch(Archive("a.bin", (f"{base}/a.bin",), md5="1" * 32), tmp_path, progress=False)


# -- resuming ------------------------------------------------------------------------------------
def test_a_partial_download_is_resumed_with_a_range_request(server, tmp_path):
    base, served = server
    served.files["/a.bin"] = BIG
    (tmp_path / "a.bin.part").write_bytes(BIG[:300_000])
    path = fetch(Archive("a.bin", (f"{base}/a.bin",), md5=md5(BIG)), tmp_path, progress=False, timeout=TIMEOUT)
    assert served.requests == [("/a.bin", "bytes=300000-")]
    assert path.read_bytes() == BIG and not (tmp_path / "a.bin.part").exists()


def test_a_download_cut_off_is_resumed_from_the_next_mirror(server, tmp_path):
    base, served = server
    served.files["/cut/a.bin"] = served.files["/whole/a.bin"] = BIG
    served.cut.add("/cut/a.bin")
    path = fetch(Archive("a.bin", (f"{base}/cut/a.bin", f"{base}/whole/a.bin"), md5=md5(BIG)), tmp_path,
                 progress=False, timeout=TIMEOUT)
    assert served.requests == [("/cut/a.bin", None), ("/whole/a.bin", f"bytes={len(BIG) // 2}-")]
    assert path.read_bytes() == BIG


def test_a_download_cut_off_everywhere_keeps_its_part_and_says_run_again(server, tmp_path):
    base, served = server
    served.files["/cut/a.bin"] = BIG
    served.cut.add("/cut/a.bin")
    with pytest.raises(DataError, match=r"run the command again to resume"):
        fetch(Archive("a.bin", (f"{base}/cut/a.bin",)), tmp_path, progress=False, timeout=TIMEOUT)
    assert (tmp_path / "a.bin.part").stat().st_size == len(BIG) // 2


def test_a_complete_part_file_is_finished_without_downloading_again(server, tmp_path):
    base, served = server
    served.files["/a.bin"] = BIG
    (tmp_path / "a.bin.part").write_bytes(BIG)
    path = fetch(Archive("a.bin", (f"{base}/a.bin",), md5=md5(BIG)), tmp_path, progress=False, timeout=TIMEOUT)
    assert path.read_bytes() == BIG and served.requests == [("/a.bin", f"bytes={len(BIG)}-")]


def test_a_server_without_ranges_restarts_the_file(server, tmp_path):
    base, served = server
    served.files["/a.bin"] = BIG
    served.ignore_range = True
    (tmp_path / "a.bin.part").write_bytes(b"stale bytes of another attempt")
    path = fetch(Archive("a.bin", (f"{base}/a.bin",)), tmp_path, progress=False, timeout=TIMEOUT)
    assert path.read_bytes() == BIG


# -- mirrors and the offline message -------------------------------------------------------------
def test_mirrors_are_tried_in_order_until_one_delivers(server, tmp_path, closed_port_url):
    base, served = server
    served.failing.add("/first/a.bin")
    served.web_pages.add("/second/a.bin")
    served.files["/third/a.bin"] = BIG
    urls = (f"{closed_port_url}/a.bin", f"{base}/first/a.bin", f"{base}/second/a.bin", f"{base}/third/a.bin")
    path = fetch(Archive("a.bin", urls, md5=md5(BIG)), tmp_path, progress=False, timeout=TIMEOUT)
    assert path.read_bytes() == BIG
    assert [p for p, _ in served.requests] == ["/first/a.bin", "/second/a.bin", "/third/a.bin"]


def test_every_mirror_failing_names_each_reason(server, tmp_path):
    base, served = server
    served.failing.add("/a.bin")
    served.web_pages.add("/b.bin")
    with pytest.raises(DataError) as err:
        fetch(Archive("x.bin", (f"{base}/a.bin", f"{base}/b.bin")), tmp_path, progress=False, timeout=TIMEOUT)
    msg = str(err.value)
    assert f"{base}/a.bin: HTTP 500" in msg and f"{base}/b.bin: served a web page instead of the file" in msg
    assert "offline" not in msg


def test_user_mirrors_come_first(server, tmp_path, monkeypatch):
    base, served = server
    served.files["/lab/office31/amazon.tgz"] = BIG
    served.files["/env/office31/webcam.tgz"] = BIG
    fetch(Archive("amazon.tgz", ("http://public.invalid/amazon.tgz",), into="office31/amazon"), tmp_path,
          mirrors=[f"{base}/lab/"], progress=False, timeout=TIMEOUT)
    monkeypatch.setenv(MIRRORS_ENV, f"{base}/env")
    fetch(Archive("webcam.tgz", ("http://public.invalid/webcam.tgz",), into="office31/webcam"), tmp_path,
          progress=False, timeout=TIMEOUT)
    assert [p for p, _ in served.requests] == ["/lab/office31/amazon.tgz", "/env/office31/webcam.tgz"]


def test_offline_says_so_and_how_to_bring_the_file(tmp_path, closed_port_url, capsys):
    dataset = fake_dataset([{"name": "train.tar", "into": "visda2017/train", "md5": "a" * 32,
                             "urls": [f"{closed_port_url}/train.tar", f"{closed_port_url}/mirror/train.tar"]}])
    with pytest.raises(DataError) as err:
        download(dataset, tmp_path, progress=False)
    msg = str(err.value)
    assert "cannot download train.tar" in msg and f"{closed_port_url}/mirror/train.tar" in msg
    assert "No mirror could be reached: this machine seems to be offline." in msg
    assert f"copy it to {tmp_path / '.downloads' / 'visda2017' / 'train.tar'}" in msg
    assert "checks and unpacks it without a network" in msg


# -- the command line ----------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::udabench.data.folders.CountMismatchWarning")
def test_cli_downloads_office31_from_a_mirror_into_a_loadable_tree(server, tmp_path, capsys):
    """The tllib packaging, served by a lab mirror: four archives, unpacked into the layout
    the office31 plugin reads."""
    base, served = server
    classes = Office31.classes[:2]
    lines = []
    for d in Office31.domains:
        members = {f"{d}/images/{c}/frame_0001.jpg": _jpeg() for c in classes}
        served.files[f"/mirror/office31/{d}.tgz"] = tar_gz(members)
        lines += [f"{d}/images/{c}/frame_0001.jpg {i}\n" for i, c in enumerate(classes)]
    served.files["/mirror/office31/image_list.zip"] = zip_of(
        {f"image_list/{d}.txt": "".join(l for l in lines if l.startswith(d)).encode() for d in Office31.domains})
    argv = ["data", "download", "office31", "--root", str(tmp_path), "--from", "tllib",
            "--mirror", f"{base}/mirror", "--no-progress"]
    assert udabench.cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "4 file(s) of the 'tllib' packaging" in out and "amazon.tgz: unpacked into" in out
    assert "2 images  (the benchmark has 2,817)" in out
    images = Office31(tmp_path).load("webcam", "all")
    assert list(images.labels) == [0, 1] and (tmp_path / "office31/image_list/webcam.txt").is_file()
    assert images.source.load(0).size == (8, 8)


def test_cli_unknown_packaging(tmp_path, capsys):
    assert udabench.cli.main(["data", "download", "office31", "--root", str(tmp_path), "--from", "tlib"]) == 2
    assert "Did you mean 'tllib'" in capsys.readouterr().err
    # digits has no packaging: it is generated, so `data download` draws it (tests/test_messages.py)


def test_cli_info_on_an_empty_root(tmp_path, capsys):
    assert udabench.cli.main(["data", "info", "visda2017", "--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "tasks:   train2val" in out and "headline metric mean_class_acc" in out
    assert "Expected layout:" in out and "train/image_list.txt" in out
    assert "http://csr.bu.edu/ftp/visda17/clf/train.tar" in out
    assert "validation   all    missing:" in out and "no folder for domain 'validation'" in out


def _jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="JPEG")
    return buf.getvalue()
