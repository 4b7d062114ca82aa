"""Which characters espeak-ng can say, and how (its Mandarin dictionary, espeak-ng 1.51)."""

from __future__ import annotations

import shutil

import pytest

from cifasr.corpus import espeak

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")


def test_each_character_gets_its_own_dictionary_reading() -> None:
    got = espeak.character_readings(["你", "女", "略", "行", "银", "拓", "拔", "\U00020000", "呣"])
    # 行 keeps its default reading also where 银行 would want hang2; 拓 and 拔 are asked apart,
    # so the dictionary's word entry 拓拔 (tuo4ba2) does not change 拓's own reading (ta4).
    assert got == {
        "你": "ni3",
        "女": "nv3",
        "略": "lve4",
        "行": "xing2",
        "银": "yin2",
        "拓": "ta4",
        "拔": "ba2",
    }
    # U+20000 and 呣 are unknown to it: it would spell the code point or say nothing.


def test_the_pinyin_voice_says_a_syllable_only_with_its_tone() -> None:
    ok = espeak.speakable_syllables(["ni3", "lve4", "de5", "er2", "m2", "zzz3", "xyz"])
    assert ok == {"ni3", "lve4", "de5", "er2"}  # m2: no tone; zzz3: spelt; xyz: not pinyin
