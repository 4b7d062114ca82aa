"""A seeded sentence generator for mini_zh: templates over the lexicon, with pinyin to synthesise.

Each template builds a meaningful sentence (who does what, where, when; buying, prices,
weather, abilities, ...) from word classes whose members fit together (you drink drinks, you
take a plane to a city). Homophones are placed where only context tells them apart:
他/她/它 refer back to a named person or animal, 在 (at) and 再 (again) take different frames,
的/得/地 follow possessors, verbs and adverbs.

>>> sents = generate_sentences(3, seed=1)
>>> [len(s.text) >= 6 for s in sents]
[True, True, True]
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from cifasr.corpus.mini_zh import lexicon as lx
from cifasr.corpus.mini_zh.lexicon import Word, parse_word, parse_words

T = TypeVar("T")
Token = Word | str  # a word, or punctuation "，" / "。" / "？" (spoken as a pause, not transcribed)

MIN_CHARS = 6
MAX_CHARS = 20


class Rng:
    """Choices built only on ``random.Random.random()``, whose sequence Python guarantees to keep
    across versions (``choice``/``randrange`` carry no such guarantee), so a seed gives the same
    corpus on every Python."""

    def __init__(self, seed: int | str) -> None:
        self._r = random.Random(seed)

    def random(self) -> float:
        return self._r.random()

    def below(self, n: int) -> int:
        return min(int(self._r.random() * n), n - 1)

    def choice(self, seq: Sequence[T]) -> T:
        return seq[self.below(len(seq))]

    def chance(self, p: float) -> bool:
        return self._r.random() < p

    def uniform(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self._r.random()

    def shuffle(self, items: list[T]) -> None:
        """Fisher-Yates with ``below``."""
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]


@dataclass(frozen=True)
class Sentence:
    """A generated sentence.

    text: the transcript (characters only, no punctuation or spaces).
    pinyin: the syllables spoken, one per character, after tone sandhi of 一 and 不.
    tts: the espeak-ng input (pinyin words with punctuation for prosody).
    template: which template produced it.
    """

    text: str
    pinyin: tuple[str, ...]
    tts: str
    template: str


# Fixed function words and phrases the templates use, looked up by their characters: F["买了"].
F: dict[str, Word] = {
    w.text: w
    for w in (
        parse_word(e)
        for e in (
            "要 yao4",
            "去 qu4",
            "在 zai4",
            "正在 zheng4zai4",
            "了 le5",
            "吗 ma5",
            "吧 ba5",
            "再 zai4",
            "的 de5",
            "得 de5",
            "地 de5",
            "是 shi4",
            "有 you3",
            "想 xiang3",
            "说 shuo1",
            "会 hui4",
            "给 gei3",
            "和 he2",
            "这 zhe4",
            "那 na4",
            "坐 zuo4",
            "骑 qi2",
            "走路 zou3lu4",
            "个 ge4",
            "只 zhi1",
            "匹 pi3",
            "两 liang3",
            "回 hui2",
            "半 ban4",
            "家 jia1",
            "请 qing3",
            "请问 qing3wen4",
            "外面 wai4mian4",
            "买了 mai3le5",
            "买的 mai3de5",
            "想买 xiang3mai3",
            "多少钱 duo1shao5qian2",
            "块钱 kuai4qian2",
            "常常去 chang2chang2 qu4",
            "已经 yi3jing1",
            "这是 zhe4shi4",
            "有很多事 you3 hen3duo1 shi4",
            "有事 you3shi4",
            "不能来了 bu4neng2 lai2le5",
            "问我 wen4wo3",
            "有什么事 you3 shen2me5 shi4",
            "考试 kao3shi4",
            "试试 shi4shi5",
            "考试以后 kao3shi4 yi3hou4",
            "唱了 chang4le5",
            "写了 xie3le5",
            "每天早上 mei3tian1 zao3shang5",
            "起床 qi3chuang2",
            "见 jian4",
            "现在几点了 xian4zai4 ji3dian3 le5",
            "什么时候 shen2me5 shi2hou5",
            "送给 song4gei3",
            "打电话 da3 dian4hua4",
            "看见了 kan4jian4le5",
            "笑了 xiao4le5",
            "要先洗手 yao4 xian1 xi3shou3",
            "自行车 zi4xing2che1",
        )
    )
}
AGAIN_REQUESTS = parse_words(
    "说一遍 shuo1 yi2bian4", "写一遍 xie3 yi2bian4", "唱一遍 chang4 yi2bian4", "看一看 kan4yi2kan4"
)
AGAIN_COMINGS = parse_words(
    "来 lai2", "回来 hui2lai2", "来我家 lai2 wo3jia1", "给你打电话 gei3ni3 da3 dian4hua4"
)
OUTSIDE_WEATHER = parse_words("下雨 xia4yu3", "下雪 xia4xue3", "刮风 gua1feng1")
AFTER_EVENTS = parse_words(
    "下课以后 xia4ke4 yi3hou4", "吃饭以后 chi1fan4 yi3hou4", "下班以后 xia4ban1 yi3hou4"
)
BEFORE_EVENTS = parse_words(
    "吃饭以前 chi1fan4 yi3qian2", "做饭以前 zuo4fan4 yi3qian2", "吃水果以前 chi1 shui3guo3 yi3qian2"
)
OTHER_PLACES = parse_words("饭店 fan4dian4", "银行 yin2hang2", "公司 gong1si1")
_PUNCT_TTS = {"，": ",", "。": ".", "？": "?"}
_TONE4 = "4"


def _tone(syllable: str) -> str:
    return syllable[-1]


def _render(tokens: Sequence[Token], template: str) -> Sentence:
    """Apply 一/不 tone sandhi, then build the transcript and the espeak-ng input."""
    words = [t for t in tokens if isinstance(t, Word)]
    spoken: list[Word] = []
    for i, w in enumerate(words):
        nxt = words[i + 1].syllables[0] if i + 1 < len(words) else None
        # espeak-ng applies the third-tone sandhi itself but not these two (checked with -x).
        if w.text == "不" and nxt is not None and _tone(nxt) == _TONE4:
            w = Word("不", ("bu2",), "bu2")
        elif w.text == "一" and nxt is not None and _tone(nxt) != "5":
            s = "yi2" if _tone(nxt) == _TONE4 else "yi4"
            w = Word("一", (s,), s)
        spoken.append(w)
    parts: list[str] = []
    it = iter(spoken)
    for t in tokens:
        parts.append(_PUNCT_TTS[t] if isinstance(t, str) else next(it).spelling)
    text = "".join(w.text for w in spoken)
    pinyin = tuple(s for w in spoken for s in w.syllables)
    return Sentence(text, pinyin, " ".join(parts), template)


def _number(n: int) -> Word:
    """Chinese numeral for 2..99 before a measure word, as one word (两, 十五, 二十五)."""
    if not 2 <= n <= 99:
        raise ValueError(f"cifasr/corpus/mini_zh/grammar.py: number {n} is outside 2..99")
    if n == 2:
        return F["两"]
    tens, ones = divmod(n, 10)
    parts: list[Word] = []
    if tens >= 2:
        parts.append(lx.DIGITS[tens - 1])
    if tens >= 1:
        parts.append(lx.TEN)
    if ones:
        parts.append(lx.DIGITS[ones - 1])
    syl = tuple(s for p in parts for s in p.syllables)
    return Word("".join(p.text for p in parts), syl, "".join(syl))


# --- noun phrases ---------------------------------------------------------------------------------
def _person(r: Rng, gendered: bool = False) -> tuple[list[Word], str]:
    """A person noun phrase and the pronoun that refers back to it ("" if 他/她 is unknown)."""
    pool = [p for p in lx.PEOPLE if p.pronoun] if gendered else lx.PEOPLE
    p = r.choice(pool)
    if p.kin and r.chance(0.6):
        return [r.choice(lx.POSSESSORS), p.word], p.pronoun
    if p.role and r.chance(0.3):
        return [r.choice(lx.ROLE_POSSESSORS), p.word], p.pronoun
    return [p.word], p.pronoun


def _subject(r: Rng) -> list[Word]:
    """Any subject except a bare 他/她/她们 (those only appear after an antecedent)."""
    k = r.random()
    if k < 0.25:
        return [r.choice(lx.PLAIN_SUBJECTS)]
    if k < 0.35:
        return [r.choice(lx.GROUPS)]
    return _person(r)[0]


def _counted(r: Rng, noun: lx.Noun, max_count: int = 10) -> list[Word]:
    """一/两/三... + measure word + noun."""
    k = r.below(max_count)
    num = lx.YI if k == 0 else lx.COUNTS[k - 1]
    return [num, r.choice(noun.measures), noun.word]


# Time words that take no 早上/下午 after them (a week, a year, "just now", "often").
_NO_DAY_PART = ("刚才", "去年", "明年", "常常", "上个星期", "下个星期", "每个周末")


def _time(r: Rng, kind: str) -> list[Word]:
    """A time phrase of the given kind (past/future/habit/today), with an optional part of day."""
    day = {
        "past": lx.PAST_DAYS,
        "future": lx.FUTURE_DAYS,
        "habit": lx.HABIT_TIMES,
        "today": (lx.TODAY,),
    }[kind]
    d = r.choice(day)
    if d.text in _NO_DAY_PART or not r.chance(0.5):
        return [d]
    return [d, r.choice(lx.DAY_PARTS)]


def _place_act(r: Rng) -> tuple[Word, Word]:
    place, acts = r.choice(lx.PLACES)
    return place, r.choice(acts)


def _go(place: Word) -> list[Word]:
    """去 + place, but 回家 (one goes back home, never 去家)."""
    return [F["回"] if place.text == "家" else F["去"], place]


# Places one travels to or meets at (not home or the kitchen).
_DESTINATIONS = tuple(p for p, _ in lx.PLACES if p.text not in ("家", "厨房"))


# --- templates ------------------------------------------------------------------------------------
def t_activity(r: Rng) -> list[Token]:
    """Who does what where and when, with tense marked by the time phrase (在 = at)."""
    s = _subject(r)
    place, act = _place_act(r)
    k = r.below(5)
    if k == 0:
        t = _time(r, "future")
        first, then = (t, s) if r.chance(0.3) else (s, t)
        return [*first, *then, F["要"], *_go(place), act]
    if k == 1:
        return [*s, *_time(r, "past"), *_go(place), act, F["了"]]
    if k == 2:
        return [*s, *_time(r, "habit"), F["在"], place, act]
    if k == 3:
        return [*s, lx.NOW, F["正在"], place, act]
    return [*s, *_time(r, "future"), *_go(place), act, F["吗"], "？"]


def t_travel(r: Rng) -> list[Token]:
    """Going somewhere by vehicle (坐 = sit/ride, a homophone of 做 and 作)."""
    s = _subject(r)
    if r.chance(0.5):
        how, dest = [F["坐"], r.choice(lx.FAR_VEHICLES)], r.choice(lx.CITIES)
    else:
        dest = r.choice(_DESTINATIONS)
        how = r.choice(([F["坐"], r.choice(lx.NEAR_VEHICLES)], [F["骑"], F["自行车"]], [F["走路"]]))
    if r.chance(0.5):
        return [*s, *_time(r, "past"), *how, F["去"], F["了"], dest]
    return [*s, *_time(r, "future"), *how, F["去"], dest]


def t_purchase(r: Rng) -> list[Token]:
    """Buying things, with counted nouns and their measure words."""
    s = _subject(r)
    noun = r.choice(lx.GOODS + lx.FOODS + lx.DRINKS[:-1])
    k = r.below(3)
    if k == 0:
        return [*s, *_time(r, "past"), F["买了"], *_counted(r, noun)]
    if k == 1:
        return [*s, F["在"], r.choice(lx.SHOPS), F["买了"], *_counted(r, noun)]
    return [*s, *_time(r, "future"), F["想买"], *_counted(r, noun)]


def t_price(r: Rng) -> list[Token]:
    """Asking or telling a price (块/快, 钱/前 are homophones)."""
    noun = r.choice(lx.GOODS + lx.FOODS[:8])
    this = [r.choice((F["这"], F["那"])), r.choice(noun.measures), noun.word]
    if r.chance(0.4):
        return [*this, F["多少钱"], "？"]
    n = 2 + r.below(98)
    return [*this, _number(n), F["块钱"]]


def t_describe(r: Rng) -> list[Token]:
    """This/that thing or place is (very) something."""
    deg = r.choice(lx.DEGREES)
    k = r.below(3)
    if k == 0:
        noun = r.choice(lx.GOODS)
        this = [r.choice((F["这"], F["那"])), r.choice(noun.measures), noun.word]
        return [*this, deg, r.choice(lx.ITEM_ADJS)]
    if k == 1:
        noun = r.choice(lx.FOODS + lx.DRINKS)
        adjs = lx.DRINK_ADJS if noun in lx.DRINKS else lx.FOOD_ADJS
        return [*_person(r)[0], F["买的"], noun.word, deg, r.choice(adjs)]
    place = r.choice(lx.SHOPS + OTHER_PLACES)
    return [r.choice((F["这"], F["那"])), F["家"], place, deg, r.choice(lx.PLACE_ADJS)]


def t_pronoun_state(r: Rng) -> list[Token]:
    """An antecedent's state, then 他/她/它 (all ta1) refers back to it."""
    if r.chance(0.3):
        a = r.choice(lx.ANIMALS)
        return [
            a.word,
            r.choice(lx.DEGREES),
            r.choice(lx.ANIMAL_STATES),
            "，",
            lx.PRONOUNS["它"],
            F["想"],
            r.choice(lx.ANIMAL_WANTS),
        ]
    s, pron = _person(r, gendered=True)
    return [
        *s,
        *_time(r, "today"),
        r.choice(lx.DEGREES),
        r.choice(lx.PERSON_STATES),
        "，",
        lx.PRONOUNS[pron],
        F["想"],
        r.choice(lx.PERSON_WANTS),
    ]


def t_pronoun_say(r: Rng) -> list[Token]:
    """Reported plans: 妹妹说她明天要去北京."""
    s, pron = _person(r, gendered=True)
    if r.chance(0.4):
        dest = [F["去"], r.choice(lx.CITIES)]
    else:
        place, act = _place_act(r)
        dest = [*_go(place), act]
    return [*s, F["说"], lx.PRONOUNS[pron], *_time(r, "future"), F["要"], *dest]


def t_pronoun_identity(r: Rng) -> list[Token]:
    """She is my sister / I have a brother, he works at ... (gender from the kin term)."""
    if r.chance(0.4):
        p = r.choice([p for p in lx.PEOPLE if p.kin])
        return [lx.PRONOUNS[p.pronoun], F["是"], r.choice(lx.POSSESSORS), p.word, "。"]
    # One "has" siblings and children, not parents.
    p = r.choice([p for p in lx.PEOPLE if p.word.text in _HAVE_KIN])
    place, act = _place_act(r)
    return [
        r.choice(lx.POSSESSORS),
        F["有"],
        lx.YI,
        F["个"],
        p.word,
        "，",
        lx.PRONOUNS[p.pronoun],
        r.choice((F["在"], F["常常去"])),
        place,
        act,
    ]


_HAVE_KIN = ("哥哥", "弟弟", "姐姐", "妹妹", "儿子", "女儿")


def t_pet(r: Rng) -> list[Token]:
    """Owning an animal, then 它 describes it."""
    a = r.choice(lx.ANIMALS)
    mw = F["匹"] if a.word.text == "小马" else F["只"]
    return [
        *_subject(r),
        F["有"],
        lx.YI,
        mw,
        a.word,
        "，",
        lx.PRONOUNS["它"],
        r.choice(lx.DEGREES),
        r.choice(lx.ANIMAL_TRAITS),
    ]


def t_again(r: Rng) -> list[Token]:
    """再 (again), in frames where 在 (at) cannot stand."""
    k = r.below(3)
    if k == 0:
        place, act = _place_act(r)
        return [*_subject(r), *_time(r, "future"), F["再"], *_go(place), act, F["吧"]]
    if k == 1:
        return [
            F["请"],
            r.choice(lx.PLAIN_SUBJECTS[1:2] + lx.PLAIN_SUBJECTS[3:4]),
            F["再"],
            r.choice(AGAIN_REQUESTS),
        ]
    return [*_person(r)[0], *_time(r, "future"), F["再"], r.choice(AGAIN_COMINGS)]


def t_weather(r: Rng) -> list[Token]:
    t = _time(r, r.choice(("future", "today")))
    if r.chance(0.2):
        return [lx.NOW, F["外面"], F["在"], r.choice(OUTSIDE_WEATHER)]
    return [*t, r.choice(lx.WEATHER)]


def t_ability(r: Rng) -> list[Token]:
    """会 / 不会 (不 becomes bu2 before the fourth tone of 会)."""
    skill = r.choice(lx.SKILLS)
    k = r.below(3)
    if k == 0:
        return [*_subject(r), F["会"], skill]
    if k == 1:
        return [*_subject(r), lx.BU, F["会"], skill]
    return [*_subject(r), F["会"], lx.BU, F["会"], skill, "？"]


def t_manner(r: Rng) -> list[Token]:
    """Verb + 得 + degree + adjective: 我弟弟跑得很快."""
    verb, adjs = r.choice(lx.MANNER)
    return [*_subject(r), verb, F["得"], r.choice(lx.DEGREES), r.choice(adjs)]


def t_adverbial(r: Rng) -> list[Token]:
    """Adverb + 地 + action: 孩子们高兴地唱歌."""
    s = _subject(r)
    if r.chance(0.2):
        return [*s, r.choice(lx.ADVERBIALS[:1] + lx.ADVERBIALS[4:]), F["地"], F["笑了"]]
    return [*s, r.choice(lx.ADVERBIALS), F["地"], r.choice(lx.ADVERBIAL_ACTS)]


def t_possession(r: Rng) -> list[Token]:
    """Possessive 的: 这是我哥哥的书包 / 老师的电脑很新."""
    owner, _ = _person(r)
    noun = r.choice(lx.GOODS)
    if r.chance(0.5):
        return [F["这是"], *owner, F["的"], noun.word]
    return [*owner, F["的"], noun.word, r.choice(lx.DEGREES), r.choice(lx.ITEM_ADJS)]


def t_matter(r: Rng) -> list[Token]:
    """事 (matter), a homophone of 是, 试, 市, 室, 视."""
    k = r.below(3)
    if k == 0:
        return [*_subject(r), *_time(r, r.choice(("today", "future"))), F["有很多事"]]
    if k == 1:
        s, pron = _person(r, gendered=True)
        return [*s, *_time(r, "today"), F["有事"], "，", lx.PRONOUNS[pron], F["不能来了"]]
    return [*_person(r)[0], F["问我"], F["有什么事"]]


def t_exam(r: Rng) -> list[Token]:
    """试 in 考试 and 试试."""
    k = r.below(3)
    if k == 0:
        return [*_subject(r), *_time(r, "future"), F["要"], F["考试"]]
    if k == 1:
        noun = r.choice(lx.CLOTHES)
        return [
            r.choice(lx.PLAIN_SUBJECTS[1:2]),
            F["试试"],
            F["这"],
            r.choice(noun.measures),
            noun.word,
            F["吧"],
        ]
    place, act = _place_act(r)
    return [F["考试以后"], *_subject(r), *_go(place), act]


def t_together(r: Rng) -> list[Token]:
    """和 (and) joins two people, a homophone of 河 (river) in 河边."""
    a, b = _person(r)[0], _person(r)[0]
    if [w.text for w in a] == [w.text for w in b]:
        b = [r.choice(lx.GROUPS)]
    place, act = _place_act(r)
    return [*a, F["和"], *b, *_time(r, "future"), *_go(place), act]


def t_song_letter(r: Rng) -> list[Token]:
    """首 (measure for songs, a homophone of 手) and 封 (for letters, a homophone of 风)."""
    s = _subject(r)
    if r.chance(0.5):
        return [*s, *_time(r, "past"), F["唱了"], *_counted(r, lx.SONG, 3), "。"]
    who, _ = _person(r)
    return [*s, F["给"], *who, F["写了"], *_counted(r, lx.LETTER, 3)]


def t_clock(r: Rng) -> list[Token]:
    """Clock times (点/电/店) and meeting (见, a homophone of 件)."""
    hour = [r.choice(lx.HOURS)] + ([F["半"]] if r.chance(0.3) else [])
    k = r.below(4)
    if k == 0:
        wake = [r.choice(lx.HOURS[3:8])] + ([F["半"]] if r.chance(0.3) else [])  # 五点..九点
        return [*_subject(r), F["每天早上"], *wake, F["起床"]]
    if k == 1:
        return [*_subject(r), *_time(r, "future"), *hour, F["在"], r.choice(_DESTINATIONS), F["见"]]
    if k == 2:
        return [F["请问"], F["现在几点了"], "？"]
    return [*_subject(r), *hour, _place_act(r)[1]]


def t_done(r: Rng) -> list[Token]:
    """已经 (already, yi3 like 以 and 椅) and 以后 (after)."""
    if r.chance(0.5):
        return [*_subject(r), F["已经"], r.choice(lx.DONE_ACTS), F["了"]]
    place, act = _place_act(r)
    return [r.choice(AFTER_EVENTS), *_subject(r), *_go(place), act]


def t_when(r: Rng) -> list[Token]:
    """什么时候 (shi2 like 十 and 食)."""
    s = _subject(r)
    if r.chance(0.5):
        return [*s, F["什么时候"], F["去"], r.choice(lx.CITIES), "？"]
    place, act = _place_act(r)
    return [*s, F["什么时候"], *_go(place), act, "？"]


def t_container(r: Rng) -> list[Token]:
    """在/有: what is in the fridge, the schoolbag, on the table."""
    where, things = r.choice(lx.CONTAINERS)
    noun = r.choice(things)
    return [where, F["有"], *_counted(r, noun, 5)]


def t_gift(r: Rng) -> list[Token]:
    s = _subject(r)
    who, _ = _person(r)
    noun = r.choice(lx.GOODS)
    if r.chance(0.5):
        return [*s, F["给"], *who, F["买了"], *_counted(r, noun, 3)]
    return [*s, F["送给"], *who, *_counted(r, noun, 3)]


def t_phone(r: Rng) -> list[Token]:
    """在给 ... 打电话 / 看见了 ... (电/店, 见/件)."""
    s = _subject(r)
    who, _ = _person(r)
    if r.chance(0.5):
        return [*s, F["在"], F["给"], *who, F["打电话"]]
    return [*s, *_time(r, "past"), F["在"], r.choice(_DESTINATIONS), F["看见了"], *who]


def t_wash(r: Rng) -> list[Token]:
    """以前 (before, 前/钱) and 洗手 (手/首)."""
    before = r.choice(BEFORE_EVENTS)
    return [before, *_subject(r), F["要先洗手"]]


# (template, weight): weights favour the templates with the most varied output.
TEMPLATES: tuple[tuple[Callable[[Rng], list[Token]], float], ...] = (
    (t_activity, 5.0),
    (t_travel, 2.0),
    (t_purchase, 2.5),
    (t_price, 1.5),
    (t_describe, 2.0),
    (t_pronoun_state, 2.5),
    (t_pronoun_say, 1.5),
    (t_pronoun_identity, 1.5),
    (t_pet, 1.0),
    (t_again, 1.5),
    (t_weather, 1.0),
    (t_ability, 1.5),
    (t_manner, 1.5),
    (t_adverbial, 1.0),
    (t_possession, 1.5),
    (t_matter, 1.0),
    (t_exam, 1.0),
    (t_together, 1.5),
    (t_song_letter, 1.0),
    (t_clock, 1.0),
    (t_done, 1.0),
    (t_when, 0.8),
    (t_container, 1.0),
    (t_gift, 1.0),
    (t_phone, 1.0),
    (t_wash, 0.3),
)


def sample_sentence(r: Rng) -> Sentence:
    """One sentence of ``MIN_CHARS..MAX_CHARS`` characters (longer or shorter draws are redrawn)."""
    total = sum(w for _, w in TEMPLATES)
    while True:
        x, acc = r.random() * total, 0.0
        fn = TEMPLATES[-1][0]  # float round-off can leave x == total
        for candidate, w in TEMPLATES:
            acc += w
            if x < acc:
                fn = candidate
                break
        s = _render(fn(r), fn.__name__)
        if MIN_CHARS <= len(s.text) <= MAX_CHARS:
            return s


def iter_unique_sentences(seed: int | str) -> Iterator[Sentence]:
    """An endless stream of distinct sentences (by transcript) for a seed."""
    r = Rng(seed)
    seen: set[str] = set()
    misses = 0
    while True:
        s = sample_sentence(r)
        if s.text in seen:
            misses += 1
            # The grammar yields far more than any sensible corpus; a long run of repeats means
            # the request exceeds what it can produce.
            if misses > 100_000:
                raise RuntimeError(
                    f"cifasr/corpus/mini_zh/grammar.py: only {len(seen)} distinct sentences "
                    "could be drawn; ask for fewer utterances"
                )
            continue
        misses = 0
        seen.add(s.text)
        yield s


def generate_sentences(n: int, seed: int | str) -> list[Sentence]:
    """The first ``n`` distinct sentences of the stream for ``seed``."""
    it = iter_unique_sentences(seed)
    return [next(it) for _ in range(n)]


def defined_words() -> list[Word]:
    """Every word the lexicon and the templates can emit (numbers are built from ``lx.DIGITS``)."""
    found: dict[tuple[str, tuple[str, ...]], Word] = {}

    def walk(v: object) -> None:
        if isinstance(v, Word):
            found.setdefault((v.text, v.syllables), v)
        elif isinstance(v, lx.Person):
            walk(v.word)
        elif isinstance(v, lx.Noun):
            walk(v.word)
            walk(v.measures)
        elif isinstance(v, tuple | list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)

    for module_vars in (vars(lx), globals()):
        for name, value in module_vars.items():
            if not name.startswith("__"):
                walk(value)
    return sorted(found.values(), key=lambda w: (w.text, w.syllables))


def character_vocabulary() -> set[str]:
    """All characters a transcript can contain."""
    return {c for w in defined_words() for c in w.text}
