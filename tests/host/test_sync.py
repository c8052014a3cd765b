"""retrostep sync against the virtual board: verified, resumable, and never fooled by a
board that lies."""

import hashlib
import os

import pytest

from retrostep.device import sync as syncmod
from mpremote.transport import Transport

from retrostep.device.board import Board, BoardError, connect
from retrostep.device.deploy import write_file
from retrostep.errors import RetrostepError
from retrostep.vm.vboard import VirtualBoard


def make_logs(fs_dir, sizes, seed=0):
    """Session-log files on the board's flash (random bytes: sync does not parse)."""
    import random

    rnd = random.Random(seed)
    logs = fs_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, size in enumerate(sizes, start=1):
        data = bytes(rnd.getrandbits(8) for _ in range(size))
        (logs / f"s{i:05d}.rsl").write_bytes(data)
        out[f"s{i:05d}.rsl"] = hashlib.sha256(data).hexdigest()
    return out


@pytest.fixture
def board_fs(tmp_path):
    fs = tmp_path / "flash"
    fs.mkdir()
    return fs


def lib_files(lib):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in lib.rglob("*") if p.is_file() and not p.name.startswith(".")}


@pytest.mark.vm
def test_sync_copies_verifies_and_removes(board_fs, tmp_path):
    want = make_logs(board_fs, [5000, 123, 20000])
    lib = tmp_path / "lib"
    with VirtualBoard(board_fs, serve=True) as vb:
        rep = syncmod.sync(vb.url, str(lib))
        assert sorted(rep.fetched) == sorted(want)
        assert lib_files(lib) == want
        again = syncmod.sync(vb.url, str(lib))  # nothing left, nothing duplicated
        assert again.fetched == [] and again.already == []
    assert not list((board_fs / "logs").glob("*.rsl"))  # removed only after verifying


@pytest.mark.vm
def test_keep_leaves_the_board_copy_and_a_second_sync_fetches_nothing(board_fs, tmp_path):
    want = make_logs(board_fs, [3000, 4000])
    lib = tmp_path / "lib"
    with VirtualBoard(board_fs, serve=True) as vb:
        syncmod.sync(vb.url, str(lib), keep=True)
        rep = syncmod.sync(vb.url, str(lib), keep=True)
        assert rep.fetched == [] and sorted(rep.already) == sorted(want)
    assert len(list((board_fs / "logs").glob("*.rsl"))) == 2
    assert lib_files(lib) == want


class CutCable(Exception):
    pass


@pytest.mark.vm
@pytest.mark.slow
def test_interrupted_at_every_chunk_boundary_resumes_identically(board_fs, tmp_path,
                                                                monkeypatch):
    monkeypatch.setattr(syncmod, "CHUNK", 256)
    want = make_logs(board_fs, [1800, 700])
    lib = tmp_path / "lib"
    chunks = -(-1800 // 256) + -(-700 // 256)
    cuts = 0
    with VirtualBoard(board_fs, serve=True) as vb:
        # every sync is cut right after one more chunk arrived, until one gets through
        for _ in range(chunks + 5):
            board = connect(vb.url)
            real_stream = board.stream

            def stream(code, consumer, **kw):
                def one_chunk(data):
                    consumer(data)
                    if b"\n" in data:
                        raise CutCable()
                real_stream(code, one_chunk, **kw)

            board.stream = stream
            try:
                rep = syncmod.sync(library=str(lib), board=board)
                break
            except CutCable:
                cuts += 1
            finally:
                board.close()
        assert cuts >= chunks - 1
        assert sorted(rep.fetched + rep.already) == sorted(want) or lib_files(lib) == want
        # and cut between the copy and the removal of the board's file
        data2 = os.urandom(900)
        want2 = {"s00001.rsl": hashlib.sha256(data2).hexdigest()}
        with connect(vb.url) as b:
            write_file(b, "/logs/s00001.rsl", data2)
        real_remove = syncmod._remove_or_keep

        def remove_fails(*a, **k):
            raise CutCable()
        monkeypatch.setattr(syncmod, "_remove_or_keep", remove_fails)
        with pytest.raises(CutCable):
            syncmod.sync(vb.url, str(lib))
        monkeypatch.setattr(syncmod, "_remove_or_keep", real_remove)
        rep = syncmod.sync(vb.url, str(lib))
        assert rep.fetched == [] and rep.already == ["s00001.rsl"]
    files = lib_files(lib)
    assert files["s00002.rsl"] == want["s00002.rsl"]
    assert files["s00001.rsl"] == want["s00001.rsl"]
    renamed = [n for n in files if n.startswith("s00001-")]
    assert [files[n] for n in renamed] == [want2["s00001.rsl"]]  # same name, new content
    assert not [p for p in lib.rglob("*") if p.name.endswith(".part")]
    assert not list((board_fs / "logs").glob("*.rsl"))


class LyingTransport(Transport):
    """A real board connection whose answers are rewritten on the wire: every exec, also
    the ones inside mpremote's own Transport.fs_* methods (rewrite(code, out) -> out)."""

    def __init__(self, inner, rewrite):
        self.inner, self.rewrite = inner, rewrite

    def exec(self, code, data_consumer=None):
        out = self.rewrite(code, self.inner.exec(code).decode()).encode()
        if data_consumer:
            data_consumer(out)
        return out

    def __getattr__(self, name):
        return getattr(self.inner, name)


class LyingBoard(Board):
    """A real board connection whose answers are rewritten: the untrusted peer."""

    def __init__(self, inner, rewrite):
        super().__init__(LyingTransport(inner.t, rewrite), inner.port)


@pytest.mark.vm
def test_a_board_that_lies_never_writes_outside_nor_loses_its_copy(board_fs, tmp_path):
    want = make_logs(board_fs, [2000])
    lib = tmp_path / "lib"
    outside = tmp_path / "evil.rsl"
    with VirtualBoard(board_fs, serve=True) as vb:
        # 1. names that are paths
        def names(code, out):
            if "listdir" in code:  # os.ilistdir entries, as mpremote asks for them
                return ("('../../evil.rsl', 32768, 0, 10),('/tmp/abs.rsl', 32768, 0, 10),"
                        "('s00001.rsl/../../x', 32768, 0, 5),('s00001.rsl', 32768, 0, 2000),")
            return out
        with connect(vb.url) as inner:
            rep = syncmod.sync(library=str(lib), keep=True, board=LyingBoard(inner, names))
        assert [n for n, _ in rep.refused] == ["../../evil.rsl", "/tmp/abs.rsl",
                                                "s00001.rsl/../../x"]
        assert not outside.exists() and not os.path.exists("/tmp/abs.rsl")

        # 2. a wrong hash: nothing kept here, nothing removed there
        lib2 = tmp_path / "lib2"

        def bad_hash(code, out):
            if "sha256" in code:
                return out.replace(out.split()[-1], "0" * 64) if out.split() else out
            return out
        with connect(vb.url) as inner:
            rep = syncmod.sync(library=str(lib2), board=LyingBoard(inner, bad_hash))
        assert rep.fetched == [] and "SHA-256" in rep.refused[0][1]
        assert lib_files(lib2) == {}

        # 3. a size that changes between the list and the copy
        def grows(code, out):
            if "listdir" in code:
                return "('s00001.rsl', 32768, 0, 1500),"
            return out
        with connect(vb.url) as inner:
            rep = syncmod.sync(library=str(lib2), board=LyingBoard(inner, grows))
        assert rep.fetched == [] and "size changed" in rep.refused[0][1]
    assert (board_fs / "logs" / "s00001.rsl").exists()  # the board kept its copy throughout
    assert hashlib.sha256((board_fs / "logs" / "s00001.rsl").read_bytes()).hexdigest() == \
        want["s00001.rsl"]


@pytest.mark.vm
def test_board_listdir_and_remove_are_mpremotes_with_one_line_errors(board_fs):
    make_logs(board_fs, [10, 20])
    (board_fs / "logs" / "sub").mkdir()
    with VirtualBoard(board_fs, serve=True) as vb:
        with connect(vb.url) as b:
            assert sorted(b.listdir("/logs")) == [("s00001.rsl", 10), ("s00002.rsl", 20)]
            assert b.listdir("/nothing") == []  # absent folder: nothing to sync
            b.remove("/logs/s00001.rsl")
            assert b.listdir("/logs") == [("s00002.rsl", 20)]
            with pytest.raises(BoardError) as e:
                b.remove("/logs/s00001.rsl")
            assert str(e.value).endswith("could not remove /logs/s00001.rsl: ENOENT")
        with connect(vb.url) as inner:
            garbled = LyingBoard(inner, lambda code, out: "('s1', 327" if "listdir" in code
                                 else out)
            with pytest.raises(BoardError, match="list of /logs is not readable"):
                syncmod.sync(library=str(board_fs.parent / "lib"), board=garbled)
    assert (board_fs / "logs" / "s00002.rsl").exists()


def test_sync_cli_without_a_board_is_one_line_exit_2(tmp_path):
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "retrostep.cli", "sync", "--port",
                        "socket://127.0.0.1:9", "--library", str(tmp_path)],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_unusable_board_id_is_refused():
    class Fake(Board):
        def __init__(self):
            self.port = "fake"
            self._id = None

        def run(self, code):
            return "../etc\n"

    with pytest.raises(RetrostepError, match="unusable id"):
        Fake().board_id()
