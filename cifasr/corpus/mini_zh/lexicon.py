"""The mini_zh lexicon: a few hundred common Mandarin words with the pinyin that is synthesised.

Every entry is written ``"<characters> <pinyin>"``, e.g. ``"学校 xue2xiao4"``: tone digits
1-4, 5 for the neutral tone, ``v`` for u-umlaut (``nv3``). The pinyin is what espeak-ng is
given, so a polyphonic character is read as this entry says (银行 yin2hang2, 自行车
zi4xing2che1) and the transcript is always exactly what is said. Spaces inside the pinyin mark
word boundaries for the synthesiser's prosody; syllables are counted by their tone digits and
must match the characters.

Homophones (same syllable and tone, different characters) are placed where context decides them;
``HOMOPHONE_SETS`` lists the ones the grammar is built around.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SYLLABLE = re.compile(r"[a-z]+[1-5]")
_ENTRY = re.compile(r"^(\S+) ([a-z1-5 ]+)$")


@dataclass(frozen=True)
class Word:
    """A word or fixed phrase: its characters and the pinyin syllables that are spoken.

    >>> w = parse_word("学校 xue2xiao4")
    >>> w.text, w.syllables, w.spelling
    ('学校', ('xue2', 'xiao4'), 'xue2xiao4')
    """

    text: str
    syllables: tuple[str, ...]
    spelling: str  # the pinyin as written in the entry (word boundaries kept), for espeak-ng


def parse_word(entry: str) -> Word:
    """Parse ``"<characters> <pinyin>"``; raise ValueError naming the entry when it is malformed."""
    m = _ENTRY.match(entry)
    if m is None:
        raise ValueError(
            f"cifasr/corpus/mini_zh/lexicon.py: bad entry {entry!r}: write '<characters> <pinyin>' "
            "with lower-case pinyin and tone digits 1-5"
        )
    text, spelling = m.group(1), m.group(2).strip()
    syllables = tuple(_SYLLABLE.findall(spelling))
    if "".join(syllables) != spelling.replace(" ", "") or len(syllables) != len(text):
        raise ValueError(
            f"cifasr/corpus/mini_zh/lexicon.py: entry {entry!r} has {len(text)} characters but "
            f"pinyin {syllables}: give one syllable with a tone digit per character"
        )
    return Word(text, syllables, spelling)


def parse_words(*entries: str) -> tuple[Word, ...]:
    """Parse several entries (see ``parse_word``)."""
    return tuple(parse_word(e) for e in entries)


@dataclass(frozen=True)
class Person:
    """A person (or animal) that can be a subject; ``pronoun`` is the one that refers back to it."""

    word: Word
    pronoun: str  # "他" / "她" / "它" (all ta1: context is the only cue), "" if either fits
    kin: bool = False  # kinship terms take a bare possessor: 我妈妈
    role: bool = False  # a role without a name takes 的: 我的老师 (not 我的王老师)


@dataclass(frozen=True)
class Noun:
    """A countable thing with the measure words it takes (一本书, 两杯茶)."""

    word: Word
    measures: tuple[Word, ...]


# --- function words, pronouns, numbers ------------------------------------------------------------
PRONOUNS = {
    p.text: p for p in parse_words("他 ta1", "她 ta1", "它 ta1", "他们 ta1men5", "她们 ta1men5")
}
# Subjects that raise no homophone trouble (他/她 only appear where an antecedent decides them).
PLAIN_SUBJECTS = parse_words("我 wo3", "你 ni3", "我们 wo3men5", "你们 ni3men5", "大家 da4jia1")
POSSESSORS = parse_words("我 wo3", "你 ni3")

# Numbers before a measure word; 一 and 不 change tone before other syllables (handled in grammar).
YI = parse_word("一 yi1")
BU = parse_word("不 bu4")
COUNTS = parse_words(
    "两 liang3", "三 san1", "四 si4", "五 wu3", "六 liu4", "七 qi1", "八 ba1", "九 jiu3", "十 shi2"
)
DIGITS = parse_words(
    "一 yi1", "二 er4", "三 san1", "四 si4", "五 wu3", "六 liu4", "七 qi1", "八 ba1", "九 jiu3"
)
TEN = parse_word("十 shi2")
HOURS = parse_words(
    "两点 liang3dian3",
    "三点 san1dian3",
    "四点 si4dian3",
    "五点 wu3dian3",
    "六点 liu4dian3",
    "七点 qi1dian3",
    "八点 ba1dian3",
    "九点 jiu3dian3",
    "十点 shi2dian3",
    "十一点 shi2yi1dian3",
    "十二点 shi2er4dian3",
)

# --- people and animals ---------------------------------------------------------------------------
PEOPLE = (
    *(
        Person(w, "他", kin=True)
        for w in parse_words(
            "爸爸 ba4ba5",
            "哥哥 ge1ge5",
            "弟弟 di4di5",
            "爷爷 ye2ye5",
            "叔叔 shu1shu5",
            "儿子 er2zi5",
        )
    ),
    *(
        Person(w, "她", kin=True)
        for w in parse_words(
            "妈妈 ma1ma5",
            "姐姐 jie3jie5",
            "妹妹 mei4mei5",
            "奶奶 nai3nai5",
            "阿姨 a1yi2",
            "女儿 nv3er2",
        )
    ),
    *(
        Person(w, "他")
        for w in parse_words(
            "小明 xiao3ming2", "小刚 xiao3gang1", "大伟 da4wei3", "那个男孩 na4ge5 nan2hai2"
        )
    ),
    *(
        Person(w, "她")
        for w in parse_words(
            "小红 xiao3hong2", "小丽 xiao3li4", "小芳 xiao3fang1", "那个女孩 na4ge5 nv3hai2"
        )
    ),
    *(
        Person(w, "")
        for w in parse_words(
            "王老师 wang2 lao3shi1", "李老师 li3 lao3shi1", "张医生 zhang1 yi1sheng1"
        )
    ),
    *(
        Person(w, "", role=True)
        for w in parse_words(
            "老师 lao3shi1",
            "医生 yi1sheng1",
            "同学 tong2xue2",
            "朋友 peng2you5",
            "邻居 lin2ju1",
            "司机 si1ji1",
            "学生 xue2sheng5",
        )
    ),
)
GROUPS = parse_words("孩子们 hai2zi5men5", "学生们 xue2sheng5men5", "同学们 tong2xue2men5")
ANIMALS = tuple(
    Person(w, "它")
    for w in parse_words("小狗 xiao3gou3", "小猫 xiao3mao1", "小鸟 xiao3niao3", "小马 xiao3ma3")
)
# Possessors for roles: 我的老师, 你的朋友.
ROLE_POSSESSORS = parse_words("我的 wo3de5", "你的 ni3de5")

# --- things ---------------------------------------------------------------------------------------
_MW = {
    w.text: w
    for w in parse_words(
        "个 ge4",
        "本 ben3",
        "件 jian4",
        "双 shuang1",
        "顶 ding3",
        "条 tiao2",
        "张 zhang1",
        "把 ba3",
        "台 tai2",
        "支 zhi1",
        "辆 liang4",
        "朵 duo3",
        "杯 bei1",
        "瓶 ping2",
        "碗 wan3",
        "块 kuai4",
        "斤 jin1",
        "只 zhi1",
        "首 shou3",
        "封 feng1",
        "部 bu4",
        "盘 pan2",
        "份 fen4",
        "家 jia1",
    )
}


def _nouns(*entries: str) -> tuple[Noun, ...]:
    """``"书 shu1 | 本"``: a noun and its measure words."""
    out = []
    for e in entries:
        word, measures = e.split("|")
        out.append(Noun(parse_word(word.strip()), tuple(_MW[m] for m in measures.split())))
    return tuple(out)


FOODS = _nouns(
    "苹果 ping2guo3 | 个 斤",
    "香蕉 xiang1jiao1 | 斤",
    "西瓜 xi1gua1 | 个",
    "包子 bao1zi5 | 个",
    "饺子 jiao3zi5 | 盘 碗",
    "鸡蛋 ji1dan4 | 个 斤",
    "蛋糕 dan4gao1 | 块 个",
    "面包 mian4bao1 | 个 块",
    "米饭 mi3fan4 | 碗",
    "面条 mian4tiao2 | 碗",
    "鱼 yu2 | 条",
    "烤鸭 kao3ya1 | 只",
    "鸡肉 ji1rou4 | 斤 盘",
    "青菜 qing1cai4 | 斤 盘",
)
DRINKS = _nouns(
    "水 shui3 | 杯 瓶",
    "茶 cha2 | 杯",
    "牛奶 niu2nai3 | 杯 瓶",
    "咖啡 ka1fei1 | 杯",
    "果汁 guo3zhi1 | 杯 瓶",
    "汤 tang1 | 碗",
)
GOODS = _nouns(
    "衣服 yi1fu5 | 件",
    "毛衣 mao2yi1 | 件",
    "裙子 qun2zi5 | 条",
    "裤子 ku4zi5 | 条",
    "鞋子 xie2zi5 | 双",
    "袜子 wa4zi5 | 双",
    "帽子 mao4zi5 | 顶",
    "书 shu1 | 本",
    "小说 xiao3shuo1 | 本",
    "词典 ci2dian3 | 本",
    "本子 ben3zi5 | 本",
    "笔 bi3 | 支",
    "书包 shu1bao1 | 个",
    "雨伞 yu3san3 | 把",
    "椅子 yi3zi5 | 把",
    "桌子 zhuo1zi5 | 张",
    "手机 shou3ji1 | 个 部",
    "电脑 dian4nao3 | 台",
    "电视 dian4shi4 | 台",
    "自行车 zi4xing2che1 | 辆",
    "汽车 qi4che1 | 辆",
    "花 hua1 | 朵",
    "杯子 bei1zi5 | 个",
    "碗 wan3 | 个",
    "筷子 kuai4zi5 | 双",
    "票 piao4 | 张",
    "报纸 bao4zhi3 | 份",
    "礼物 li3wu4 | 件 份",
    "照片 zhao4pian4 | 张",
)
CLOTHES = GOODS[:7]
READING = parse_words("书 shu1", "小说 xiao3shuo1", "报纸 bao4zhi3", "词典 ci2dian3")
SONG = Noun(parse_word("歌 ge1"), (_MW["首"],))
LETTER = Noun(parse_word("信 xin4"), (_MW["封"],))
MOVIE = Noun(parse_word("电影 dian4ying3"), (_MW["部"],))
# What a thing is like; item adjectives fit every GOODS noun.
ITEM_ADJS = parse_words(
    "新 xin1",
    "旧 jiu4",
    "贵 gui4",
    "便宜 pian2yi5",
    "漂亮 piao4liang5",
    "好看 hao3kan4",
    "干净 gan1jing4",
    "大 da4",
    "小 xiao3",
)
FOOD_ADJS = parse_words("好吃 hao3chi1", "新鲜 xin1xian1", "便宜 pian2yi5", "贵 gui4")
DRINK_ADJS = parse_words("好喝 hao3he1", "热 re4", "便宜 pian2yi5", "贵 gui4")

# --- places and what people do there --------------------------------------------------------------
# Activity phrases, written as verb-object words so the synthesiser groups them naturally.
_ACT = {
    w.text: w
    for w in parse_words(
        "上课 shang4ke4",
        "学汉语 xue2 han4yu3",
        "学英语 xue2 ying1yu3",
        "踢足球 ti1 zu2qiu2",
        "打篮球 da3 lan2qiu2",
        "考试 kao3shi4",
        "唱歌 chang4ge1",
        "跳舞 tiao4wu3",
        "学习 xue2xi2",
        "写字 xie3zi4",
        "写作业 xie3 zuo4ye4",
        "做作业 zuo4 zuo4ye4",
        "画画 hua4hua4",
        "开会 kai1hui4",
        "看书 kan4shu1",
        "看报纸 kan4 bao4zhi3",
        "复习 fu4xi2",
        "看小说 kan4 xiao3shuo1",
        "做饭 zuo4fan4",
        "看电视 kan4 dian4shi4",
        "睡觉 shui4jiao4",
        "休息 xiu1xi5",
        "洗衣服 xi3 yi1fu5",
        "打扫房间 da3sao3 fang2jian1",
        "听音乐 ting1 yin1yue4",
        "打电话 da3 dian4hua4",
        "吃饭 chi1fan4",
        "跑步 pao3bu4",
        "散步 san4bu4",
        "拍照片 pai1 zhao4pian4",
        "工作 gong1zuo4",
        "看病 kan4bing4",
        "吃烤鸭 chi1 kao3ya1",
        "吃饺子 chi1 jiao3zi5",
        "喝茶 he1cha2",
        "买东西 mai3 dong1xi5",
        "买水果 mai3 shui3guo3",
        "买菜 mai3cai4",
        "上班 shang4ban1",
        "用电脑 yong4 dian4nao3",
        "吃面条 chi1 mian4tiao2",
        "吃包子 chi1 bao1zi5",
        "喝汤 he1tang1",
        "钓鱼 diao4yu2",
        "洗碗 xi3wan3",
        "做蛋糕 zuo4 dan4gao1",
        "包饺子 bao1 jiao3zi5",
        "看电影 kan4 dian4ying3",
        "取钱 qu3qian2",
        "等火车 deng3 huo3che1",
        "买票 mai3piao4",
        "等朋友 deng3 peng2you5",
        "等飞机 deng3 fei1ji1",
        "游泳 you2yong3",
        "看熊猫 kan4 xiong2mao1",
        "看老虎 kan4 lao3hu3",
        "看比赛 kan4 bi3sai4",
    )
}


def _place(entry: str, *activities: str) -> tuple[Word, tuple[Word, ...]]:
    return parse_word(entry), tuple(_ACT[a] for a in activities)


# (place, activities that make sense there)
PLACES = (
    _place(
        "学校 xue2xiao4", "上课", "学汉语", "学英语", "踢足球", "打篮球", "考试", "唱歌", "学习"
    ),
    _place("教室 jiao4shi4", "上课", "考试", "写字", "写作业", "学习", "画画", "开会"),
    _place("图书馆 tu2shu1guan3", "看书", "看报纸", "学习", "写作业", "复习", "看小说"),
    _place(
        "家 jia1",
        "做饭",
        "看电视",
        "睡觉",
        "休息",
        "写作业",
        "洗衣服",
        "打扫房间",
        "看书",
        "听音乐",
        "打电话",
        "吃饭",
        "包饺子",
    ),
    _place("公园 gong1yuan2", "跑步", "散步", "踢足球", "画画", "唱歌", "跳舞", "打篮球", "拍照片"),
    _place("医院 yi1yuan4", "工作", "看病", "休息"),
    _place("饭店 fan4dian4", "吃饭", "工作", "吃烤鸭", "吃饺子", "喝茶"),
    _place("商店 shang1dian4", "买东西", "工作"),
    _place("超市 chao1shi4", "买东西", "买水果", "买菜", "工作"),
    _place("书店 shu1dian4", "看书", "看小说", "工作"),
    _place("公司 gong1si1", "上班", "工作", "开会", "打电话", "用电脑"),
    _place("办公室 ban4gong1shi4", "工作", "开会", "打电话", "用电脑", "休息"),
    _place("食堂 shi2tang2", "吃饭", "吃面条", "吃包子", "喝汤"),
    _place("河边 he2bian1", "钓鱼", "散步", "跑步", "画画", "拍照片"),
    _place("厨房 chu2fang2", "做饭", "洗碗", "做蛋糕", "包饺子"),
    _place("电影院 dian4ying3yuan4", "看电影"),
    _place("银行 yin2hang2", "工作", "取钱"),
    _place("火车站 huo3che1zhan4", "等火车", "买票", "等朋友"),
    _place("机场 ji1chang3", "等飞机", "等朋友"),
    _place("体育馆 ti3yu4guan3", "打篮球", "游泳", "看比赛"),
    _place("动物园 dong4wu4yuan2", "看熊猫", "看老虎", "拍照片"),
)
SHOPS = parse_words("商店 shang1dian4", "超市 chao1shi4", "书店 shu1dian4")
CITIES = parse_words(
    "北京 bei3jing1",
    "上海 shang4hai3",
    "南京 nan2jing1",
    "西安 xi1an1",
    "杭州 hang2zhou1",
    "广州 guang3zhou1",
    "天津 tian1jin1",
)
# Vehicles: long-distance ones go to cities, local ones to places in town.
FAR_VEHICLES = parse_words("飞机 fei1ji1", "火车 huo3che1")
NEAR_VEHICLES = parse_words(
    "公共汽车 gong1gong4 qi4che1", "地铁 di4tie3", "出租车 chu1zu1che1", "汽车 qi4che1"
)
# Containers for "<container>里有<things>", with the nouns that fit in them.
_NOUNS = {n.word.text: n for n in GOODS + FOODS + DRINKS}
CONTAINERS = tuple(
    (parse_word(where), tuple(_NOUNS[t] for t in things.split()))
    for where, things in (
        ("冰箱里 bing1xiang1li3", "苹果 鸡蛋 西瓜 牛奶 果汁 水 蛋糕"),
        ("书包里 shu1bao1li3", "书 本子 笔 词典 雨伞 苹果 面包"),
        ("桌子上 zhuo1zi5shang5", "书 杯子 碗 电脑 花 报纸 笔 照片"),
        ("房间里 fang2jian1li3", "桌子 椅子 电视 电脑 花"),
    )
)

# --- time -----------------------------------------------------------------------------------------
PAST_DAYS = parse_words(
    "昨天 zuo2tian1",
    "前天 qian2tian1",
    "上个星期 shang4ge5 xing1qi1",
    "去年 qu4nian2",
    "刚才 gang1cai2",
)
FUTURE_DAYS = parse_words(
    "明天 ming2tian1",
    "后天 hou4tian1",
    "下个星期 xia4ge5 xing1qi1",
    "明年 ming2nian2",
    "星期一 xing1qi1yi1",
    "星期二 xing1qi1er4",
    "星期三 xing1qi1san1",
    "星期四 xing1qi1si4",
    "星期五 xing1qi1wu3",
    "星期六 xing1qi1liu4",
    "星期天 xing1qi1tian1",
    "周末 zhou1mo4",
)
HABIT_TIMES = parse_words("每天 mei3tian1", "常常 chang2chang2", "每个周末 mei3ge5 zhou1mo4")
TODAY = parse_word("今天 jin1tian1")
NOW = parse_word("现在 xian4zai4")
DAY_PARTS = parse_words(
    "早上 zao3shang5", "上午 shang4wu3", "中午 zhong1wu3", "下午 xia4wu3", "晚上 wan3shang5"
)

# --- states and qualities -------------------------------------------------------------------------
PERSON_STATES = parse_words(
    "高兴 gao1xing4",
    "开心 kai1xin1",
    "累 lei4",
    "饿 e4",
    "渴 ke3",
    "忙 mang2",
    "困 kun4",
    "生气 sheng1qi4",
)
ANIMAL_STATES = parse_words("饿 e4", "渴 ke3", "累 lei4", "高兴 gao1xing4", "开心 kai1xin1")
ANIMAL_TRAITS = parse_words("可爱 ke3ai4", "聪明 cong1ming5", "漂亮 piao4liang5", "小 xiao3")
PLACE_ADJS = parse_words(
    "远 yuan3",
    "近 jin4",
    "大 da4",
    "干净 gan1jing4",
    "漂亮 piao4liang5",
    "安静 an1jing4",
    "热闹 re4nao5",
)
DEGREES = parse_words("很 hen3", "非常 fei1chang2", "真 zhen1", "特别 te4bie2", "比较 bi3jiao4")
# What a tired/hungry person or animal wants to do next.
PERSON_WANTS = parse_words(
    "回家 hui2jia1",
    "睡觉 shui4jiao4",
    "吃饭 chi1fan4",
    "喝水 he1shui3",
    "休息 xiu1xi5",
    "去公园 qu4 gong1yuan2",
    "看电视 kan4 dian4shi4",
    "吃面条 chi1 mian4tiao2",
    "听音乐 ting1 yin1yue4",
)
ANIMAL_WANTS = parse_words(
    "吃肉 chi1rou4", "喝水 he1shui3", "睡觉 shui4jiao4", "出去玩 chu1qu4 wan2", "吃鱼 chi1yu2"
)
# Skills for 会 / 不会.
SKILLS = parse_words(
    "游泳 you2yong3",
    "开车 kai1che1",
    "做饭 zuo4fan4",
    "唱歌 chang4ge1",
    "跳舞 tiao4wu3",
    "说汉语 shuo1 han4yu3",
    "说英语 shuo1 ying1yu3",
    "骑自行车 qi2 zi4xing2che1",
    "画画 hua4hua4",
    "写汉字 xie3 han4zi4",
    "包饺子 bao1 jiao3zi5",
    "打篮球 da3 lan2qiu2",
)
# Verb + 得 + degree + adjective: how someone does something (的/得/地 are all de5).
MANNER = (
    (parse_word("跑 pao3"), parse_words("快 kuai4", "慢 man4")),
    (parse_word("走 zou3"), parse_words("快 kuai4", "慢 man4")),
    (parse_word("唱 chang4"), parse_words("好听 hao3ting1", "好 hao3")),
    (parse_word("跳 tiao4"), parse_words("好 hao3", "高 gao1")),
    (parse_word("写 xie3"), parse_words("好看 hao3kan4", "认真 ren4zhen1", "快 kuai4")),
    (parse_word("说 shuo1"), parse_words("快 kuai4", "慢 man4", "好 hao3")),
    (parse_word("吃 chi1"), parse_words("多 duo1", "少 shao3", "快 kuai4", "慢 man4")),
    (parse_word("来 lai2"), parse_words("早 zao3", "晚 wan3")),
    (parse_word("睡 shui4"), parse_words("早 zao3", "晚 wan3", "好 hao3")),
    (parse_word("做 zuo4"), parse_words("好 hao3", "快 kuai4", "认真 ren4zhen1")),
)
# Adverb + 地 + action.
ADVERBIALS = parse_words(
    "高兴 gao1xing4", "慢慢 man4man4", "认真 ren4zhen1", "安静 an1jing4", "开心 kai1xin1"
)
ADVERBIAL_ACTS = parse_words(
    "唱歌 chang4ge1",
    "写作业 xie3 zuo4ye4",
    "走回家 zou3 hui2jia1",
    "看书 kan4shu1",
    "吃饭 chi1fan4",
    "跳舞 tiao4wu3",
    "说话 shuo1hua4",
    "画画 hua4hua4",
    "听音乐 ting1 yin1yue4",
)
DONE_ACTS = parse_words(
    "回家 hui2jia1",
    "吃饭 chi1fan4",
    "睡觉 shui4jiao4",
    "写完作业 xie3wan2 zuo4ye4",
    "下课 xia4ke4",
    "下班 xia4ban1",
    "到学校 dao4 xue2xiao4",
    "到北京 dao4 bei3jing1",
    "起床 qi3chuang2",
    "做好饭 zuo4hao3 fan4",
    "买好票 mai3hao3 piao4",
)
WEATHER = parse_words(
    "会下雨 hui4 xia4yu3",
    "会下雪 hui4 xia4xue3",
    "天气很好 tian1qi4 hen3hao3",
    "天气很冷 tian1qi4 hen3leng3",
    "天气很热 tian1qi4 hen3re4",
    "风很大 feng1 hen3da4",
    "天气非常好 tian1qi4 fei1chang2 hao3",
    "风不大 feng1 bu2da4",
)

# Sets of characters with identical pinyin (tone included) that the grammar puts in contexts
# that tell them apart; the recipe test checks that each member occurs with the shared sound.
HOMOPHONE_SETS = (
    ("ta1", "他她它"),
    ("zai4", "在再"),
    ("shi4", "是事试市室视"),
    ("zuo4", "做坐作"),
    ("de5", "的得地"),
    ("hua4", "话画"),
    ("jian4", "见件"),
    ("dian4", "电店"),
    ("kuai4", "快块筷"),
    ("qian2", "钱前"),
    ("xin1", "新心"),
    ("wan3", "晚碗"),
    ("he2", "和河"),
    ("shou3", "手首"),
    ("fei1", "飞非"),
    ("wu3", "午五舞"),
    ("ji1", "机鸡"),
    ("shu1", "书叔"),
    ("yi3", "以已椅"),
    ("qi4", "汽气"),
    ("gong1", "公工"),
    ("shi2", "十时食"),
    ("xiao4", "校笑"),
    ("feng1", "风封"),
)
