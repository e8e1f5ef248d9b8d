"""seqattn.io.video_info: a file that is no video, or none at all, is one line."""

import pytest

from seqattn.inference.predict import main as predict_main


@pytest.mark.parametrize("content", [b"this is not a video\n" * 50, None], ids=["not-a-video", "truncated"])
def test_a_file_that_is_no_video_is_one_line_and_writes_nothing(checkpoint, video, tmp_path, capsys, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content if content is not None else video[0].read_bytes()[: video[0].stat().st_size // 2])
    with pytest.raises(SystemExit) as stopped:
        predict_main([checkpoint, str(bad), "--out", str(tmp_path / "out")])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "bad.mp4" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_missing_video_is_one_line(checkpoint, tmp_path, capsys):
    with pytest.raises(SystemExit):
        predict_main([checkpoint, str(tmp_path / "nothing.mp4")])
    assert "nothing.mp4" in capsys.readouterr().err
