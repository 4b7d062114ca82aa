import kaldiio
import numpy as np
import pytest

from cifasr.distill.io import (
    TeacherFeatureError,
    TeacherFeatureWriter,
    check_teacher_scp,
    read_teacher_shapes,
)


def write(tmp_path, dtype, mats):
    with TeacherFeatureWriter(tmp_path / dtype, dtype=dtype) as w:
        for k, v in mats.items():
            w.write(k, v)
    return tmp_path / dtype / "feats.scp"


MATS = {
    "utt_b": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    "utt_a": -np.ones((2, 4), dtype=np.float32) / 3,
}


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_written_matrices_read_back_with_their_dtype_in_sorted_scp(tmp_path, dtype):
    scp = write(tmp_path, dtype, MATS)
    lines = scp.read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["utt_a", "utt_b"]
    loaded = kaldiio.load_scp(str(scp))
    for k, v in MATS.items():
        assert loaded[k].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(loaded[k], v.astype(dtype))
    assert read_teacher_shapes(scp) == {"utt_a": (2, 4), "utt_b": (3, 4)}
    assert (scp.parent / "feats_shape").read_text() == "utt_a 2,4\nutt_b 3,4\n"


def test_float32_is_a_native_kaldi_matrix(tmp_path):
    scp = write(tmp_path, "float32", MATS)
    ark, offset = scp.read_text().split()[1].rsplit(":", 1)
    with open(ark, "rb") as f:
        f.seek(int(offset))
        assert f.read(5) == b"\0BFM "


def test_float16_halves_the_size(tmp_path):
    big = {f"u{i}": np.random.rand(20, 768).astype(np.float32) for i in range(3)}
    s16 = (write(tmp_path, "float16", big).parent / "feats.ark").stat().st_size
    s32 = (write(tmp_path, "float32", big).parent / "feats.ark").stat().st_size
    assert s16 < 0.51 * s32


def test_duplicate_utterance_is_an_error(tmp_path):
    with pytest.raises(TeacherFeatureError, match="'u' written twice"):
        with TeacherFeatureWriter(tmp_path) as w:
            w.write("u", np.zeros((1, 2)))
            w.write("u", np.zeros((1, 2)))


def test_check_names_the_missing_utterance_and_the_file(tmp_path):
    scp = write(tmp_path, "float16", MATS)
    with pytest.raises(TeacherFeatureError, match=f"{scp}: no teacher features for .*'utt_c'"):
        check_teacher_scp(scp, {"utt_a": 2, "utt_c": 4})
    kept, counts = check_teacher_scp(scp, {"utt_a": 2, "utt_c": 4}, drop_mismatched=True)
    assert kept == ["utt_a"] and counts == {"missing": 1, "wrong_rows": 0}


def test_check_rows_against_the_targets(tmp_path):
    scp = write(tmp_path, "float16", MATS)
    with pytest.raises(
        TeacherFeatureError, match="'utt_b' has 3 teacher rows but its target has 5"
    ):
        check_teacher_scp(scp, {"utt_a": 2, "utt_b": 5})
    kept, counts = check_teacher_scp(scp, {"utt_a": 2, "utt_b": 5}, drop_mismatched=True)
    assert kept == ["utt_a"] and counts == {"missing": 0, "wrong_rows": 1}


def test_check_dimension_against_the_config_always_raises(tmp_path):
    scp = write(tmp_path, "float16", MATS)
    with pytest.raises(TeacherFeatureError, match="4-dim teacher features but .* teacher_dim 768"):
        check_teacher_scp(scp, {"utt_a": 2}, dim=768, drop_mismatched=True)


def test_shapes_without_a_shape_file_are_read_from_the_matrices(tmp_path):
    scp = write(tmp_path, "float32", MATS)
    (scp.parent / "feats_shape").unlink()
    assert read_teacher_shapes(scp) == {"utt_a": (2, 4), "utt_b": (3, 4)}
