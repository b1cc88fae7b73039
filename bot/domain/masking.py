"""Hide card secrets before a message is stored, logged or echoed.

Banks never ask for a full card number, CVV, PIN, SMS code or expiry date, and
PCI DSS forbids keeping them, so the channel masks every incoming message
before Rasa sees it. A card number keeps its last four digits in the mask,
which ``bot.domain.normalise.find_entities`` still reads as ``card_last4``.

How people type numbers in Chinese chat, and what is read as one number:

- digit groups joined by any of space, ``-``, ``.``, ``,``, ``，``, ``/``,
  ``_``, ``·``, ``、`` (runs of up to three, so double spaces too), in
  full-width or half-width: "6222，0212，3456，7890", "6222  021234567890";
- Chinese numerals read digit by digit ("六五四三二一", "幺三八…", "一 二 三"),
  once three or more stand together and no 十/百/千/万 makes them a quantity
  ("两千五" stays an amount);
- a cue before the number ("验证码，654321", "OTP=123456", "我的密码，123456",
  "验证码刚收到，是654321", "验证码→4719", "the code they sent is 123456": an
  English word counts as one word between them) or after it ("654321是验证码", "123是卡背面的三位数",
  "755268 这个验证码是谁发的"), also in the next clause, named by whoever said it
  ("收到短信 786302，说是验证码", "11/29 这个是卡的有效期") unless money, another
  number's label or a denial stands between ("3000元，说是验证码错了", "不是验证码");
- a later number of the same message brought in as another of the secret a cue
  named earlier ("验证码过期了，让我再报一个，第二个是 284615", "密码是 258037，
  但他总记错成 258073": 第二个是, 新的是, 正确的应该是, 记错成, 还是, 不对 …),
  unless money, another number's label or another number (but for a count, "输错3次")
  stands between;
- cues in traditional characters ("驗證碼", "卡號", "簡訊"), read through a
  character-for-character map; cue words with a digit ("CVV2 904": the secret is
  904); the IME's slips and loose names of codes ("验证吗", "密马", "yzm", "银行发
  的码", "这个码", and the "退款码" or "取消码" a scammer asks for); cue words with
  characters typed as pinyin when the IME is switched mid-word ("yan证码",
  "验zheng码", "mi码", "密ma"), read as written in characters;
- English descriptions: "the 3 digits on the back are 906", "my PIN is 1234",
  "security code 123", "expires 07/27";
- a digit told as a count: "密码是六个八", "验证码四个1";
- a card pasted from a form: "6222 0212 3456 7894 09/27 123" (number, expiry, CVV),
  or with its labels first: "卡号/有效期/CVV：5240 7036 2943 1311 / 07/27 / 483"
  (each value, in order, is what its label names).

Card numbers are 13–19 digits: masked when a card cue names them, when they
pass the Luhn check, or when they look like a card (printed 4-4-4-4 grouping,
or 16/19 digits starting like an issuer's number), whatever mix of separators
joins the groups (one that is neither printed nor Luhn-valid needs the same
separator throughout). A transaction id's label (参考号, 订单号, 流水号 …) keeps
a number as typed; after a phone's or a tail's cue (客服, 电话, 拨打, 尾号) only
a Luhn-valid 16/19-digit number is a card ("@客服 6226 2228 0699 1092"). PINs
and SMS codes need a cue, since a bare six-digit number is as often an amount
or a reference. A cue right before the number masks it whatever it looks like
("密码 3000"); a cue a few words away or after the number is weaker, and there
a round number or a decimal ("密码忘了，卡里有20000", "3000是密码错了吗") is
taken for money; but three digits attached to a CVV cue ("500是安全码") are a
CVV, since nobody prices anything in 安全码. A number right after 卡号 is a card
number whatever follows it ("卡号6225… 商户说…").

An expiry is a month and a year named by a cue: 有效期 (效期, 有效至), 到期日,
到期年月, EXP, valid thru, a form's "月/年" or "MM/YY" label, before or after it,
written in digits or in numerals ("有效期是二八年九月"), a few words away
("对方问我卡的有效期，我说了05/32"), or standing among a pasted card's details.
到期 and 期限 alone also name due dates, so they take only an expiry written as
on a card ("06/32到期", "2029年7月到期的卡"). A month and year named as a bill's,
loan's or coupon's ("2026年12月到期的账单", "还款到期日 12/20") and a day
something happened on ("11/20在超市刷的") are dates and stay. The trade-off: a
"12/20到期" with nothing around it is masked, though it may be a due date.

Amounts, dates, times, phone numbers, hotlines, case numbers, card last-4 and
transaction ids named by their cue (参考号, 凭证号, 流水号, 商户号, 终端号,
批次号, 授权码, 订单号, a slip's "APPR CODE" …) are not secrets and stay exactly
as typed.

``mask_continuing`` adds what one message cannot know: a card number typed
over two messages (see ``SplitState``); ``clean_metadata`` keeps a channel's
client-supplied metadata out of storage.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any, Literal, NamedTuple, Protocol

from bot.domain.normalise import money_cued, normalise_with_offsets

SECRET_KINDS = ("card_number", "cvv", "pin", "sms_code", "expiry")
HIDDEN = "[已隐藏]"
MASKED_METADATA_KEY = "masked_secrets"


@dataclass(frozen=True)
class MaskResult:
    text: str
    kinds: tuple[str, ...]


def _card_mask(last4: str) -> str:
    return f"[卡号已隐藏，尾号{last4}]"


# --- the digit view: one character per normalised character, Chinese numerals as digits ----

_CN_DIGIT_VALUES = {
    "零": "0", "〇": "0", "○": "0", "一": "1", "壹": "1", "幺": "1", "二": "2", "贰": "2",
    "两": "2", "三": "3", "叁": "3", "四": "4", "肆": "4", "五": "5", "伍": "5", "六": "6",
    "陆": "6", "七": "7", "柒": "7", "八": "8", "捌": "8", "九": "9", "玖": "9",
}  # fmt: skip
_CN_DIGITS = "".join(_CN_DIGIT_VALUES)
_TO_DIGITS = str.maketrans(_CN_DIGIT_VALUES)
# Traditional characters of the cue, money and unit words, read as their simplified forms, one for
# one so offsets hold: "驗證碼", "卡號", "這個碼", "後面是", "金額". 簡訊 and 短訊 are Taiwan's and
# Hong Kong's 短信.
_TRADITIONAL = (
    "個个 們们 這这 運运 過过 遞递 還还 為为 爲为 郵邮 價价 億亿 優优 儲储 "
    "態态 兩两 憑凭 熱热 凍冻 臨临 臺台 舊旧 別别 戶户 剛刚 銀银 銷销 動动 "
    "錄录 錢钱 鍾钟 鐘钟 參参 叄叁 現现 萬万 著着 瑪玛 撥拨 員员 當当 數数 "
    "開开 間间 單单 嗎吗 時时 號号 陸陆 發发 險险 隱隐 電电 會会 圓圆 執执 "
    "預预 頭头 塊块 額额 條条 確确 碼码 裏里 裡里 餘余 祕秘 馬马 駕驾 訂订 "
    "計计 記记 樣样 註注 積积 驗验 證证 証证 機机 詢询 話话 認认 檢检 欄栏 "
    "權权 筆笔 歐欧 歲岁 護护 讓让 籤签 簽签 沒没 財财 貳贰 買买 貸贷 費费 "
    "資资 賬账 帳账 購购 終终 組组 結结 給给 綁绑 網网 線线 編编 總总 幣币 "
    "繳缴 繼继 幾几 續续 點点 張张 轉转 來来 後后 從从 週周 簡短 訊信 "
)
_TO_SIMPLIFIED = str.maketrans(dict(_TRADITIONAL.split()))
# ``str.translate`` looks up every character (about 15 µs a message); finding none first is 30 times faster.
_A_TRADITIONAL = re.compile(f"[{''.join(pair[0] for pair in _TRADITIONAL.split())}]")


def _simplified(normalised: str) -> str:
    return normalised.translate(_TO_SIMPLIFIED) if _A_TRADITIONAL.search(normalised) else normalised


# Every other digit-like character, full-width or Chinese, is ``str.isnumeric``.
_NOT_NUMERIC_DIGITS = frozenset(char for char in _CN_DIGIT_VALUES if not char.isnumeric())
# NFKC has already folded "，" to ",", "－" to "-", "．" to ".", "／" to "/", "＿" to "_" and "　" to " ".
# Any dash, a tilde, and the zero-width spaces pasted from web pages join digit groups too.
_SEP = r"[ \t\r\n\-.,/_·、・•‧—–‐‒―−⁃─~〜\u200b\u2060\ufeff]"
# "两千五", "三四十": numerals next to these count a quantity, not digits.
_QUANTITY = "十百千万亿拾佰仟点"
_CN_RUN = re.compile(
    rf"(?<![0-9{_CN_DIGITS}{_QUANTITY}])[{_CN_DIGITS}]+(?:{_SEP}{{1,3}}[{_CN_DIGITS}]+)*"
    rf"(?![0-9{_CN_DIGITS}{_QUANTITY}])"
)
# Fewer stand in words ("一直", "三四天", "一、二"); three or more are read out digits.
_MIN_CN_DIGITS = 3


def _digit_view(normalised: str) -> str:
    if not any(char in _CN_DIGIT_VALUES for char in normalised):
        return normalised
    parts: list[str] = []
    last = 0
    for match in _CN_RUN.finditer(normalised):
        run = match.group()
        if sum(char in _CN_DIGIT_VALUES for char in run) >= _MIN_CN_DIGITS:
            parts += [normalised[last : match.start()], run.translate(_TO_DIGITS)]
            last = match.end()
    return "".join([*parts, normalised[last:]])


# People switch the IME mid-word and type a character of a cue as its pinyin: "yan证码", "验zheng码",
# "mi码", "密ma", "ka号", "有效qi". Written back in characters, they are read as the cue.
_CUE_PINYIN = {
    "验": "yan", "证": "zheng", "码": "ma", "密": "mi", "安": "an", "全": "quan", "卡": "ka",
    "号": "hao", "有": "you", "效": "xiao", "期": "qi", "校": "jiao|xiao", "动": "dong", "态": "tai",
}  # fmt: skip
_TYPED_WORDS = ("验证码", "校验码", "动态码", "安全码", "有效期", "密码", "卡号")


def _typed(word: str) -> str:
    """``word`` with any of its characters typed as pinyin ("yan zheng 码" too); a pinyin at either end
    is a whole word."""
    parts = []
    for index, char in enumerate(word):
        pinyin = _CUE_PINYIN[char]
        if index == 0:
            pinyin = f"(?<![a-z])(?:{pinyin})"
        if index == len(word) - 1:
            pinyin = f"(?:{pinyin})(?![a-z])"
        parts.append(f"(?:{char}|{pinyin})")
    return " ?".join(parts)


_TYPED_CUES = "|".join(f"(?P<w{index}>{_typed(word)})" for index, word in enumerate(_TYPED_WORDS))
_TYPED_CUE = re.compile(f"(?=[{''.join(_TYPED_WORDS)}a-z])(?:{_TYPED_CUES})", re.IGNORECASE)
_A_LETTER = re.compile("[a-z]", re.IGNORECASE)


def _cue_view(view: str, origin: list[int]) -> tuple[str, list[int]]:
    """``view`` with cue words typed partly in pinyin written in characters, and each character's origin."""
    parts: list[str] = []
    origins: list[int] = []
    last = 0
    for match in _TYPED_CUE.finditer(view):
        word = _TYPED_WORDS[int((match.lastgroup or "w0")[1:])]
        if match.group() == word:
            continue
        starts, position = [], match.start()
        for char in word:
            if view[position] == " ":
                position += 1
            starts.append(position)
            if view[position] == char:
                position += 1
                continue
            spelled = view[position : position + 5].lower()
            position += next(len(py) for py in _CUE_PINYIN[char].split("|") if spelled.startswith(py))
        parts += [view[last : match.start()], word]
        origins += [*origin[last : match.start()], *(origin[start] for start in starts)]
        last = match.end()
    if not parts:
        return view, origin
    return "".join([*parts, view[last:]]), [*origins, *origin[last:]]


# --- cues ---------------------------------------------------------------------------------

# Named groups, tried in this order at each position; a longer, more specific cue
# starting at the same place must come first ("卡号后四位" is a tail, "动态密码" an SMS code).
_CUE_PATTERNS = (
    (
        "sms",
        r"(?:短信|手机)?(?:验证码|校验码|效验码|动态码|动态密码|动态口令|短信密码|短信码"
        r"|认证码|确认码|动态令牌|令牌"
        # The IME's slips for 验证码 (yanzhengma), its pinyin initials, and what a scammer calls it.
        r"|验证[吗嘛马玛妈]|验正码)|(?<![a-z])yzm(?![a-z])"
        r"|(?:退款|取消|撤销|解冻|解除|注销|核验|解绑)码"
        r"|(?:收到|发来|短信里|短信上|短信中)的?(?:码|数字|那串数字?)"
        # A bare 码 someone sent or asked for: "银行发的码", "这个码", "把码报给他".
        r"|(?<=[这那个串组把])码|(?<=[发给要来报问说信我你他]的)码|(?<!\w)码"
        r"|(?<![a-z])(?:otp|sms\s*code|verification\s*code|verify\s*code|passcode"
        # "the code on the back" is the CVV.
        r"|one[\s-]*time\s*(?:password|code)|code(?!\s+(?:on|at)\s))(?![a-z])",
    ),
    (
        "pin",
        r"(?:取款|支付|交易|查询|登录|登陆|网银|银行卡|信用卡|储蓄卡|卡|开机|主管|管理员|原|新|旧)?(?:密码|密马|秘码|(?<!保)密吗)"
        r"|(?<![a-z])(?:pin|password|passwd|pwd)(?![a-z])(?:\s*(?:码|code|number|no\.?)(?![a-z]))?|口令",
    ),
    (
        "cvv",
        r"(?<![a-z])(?:cvv2|cvv|cvn2|cvn|cvc2|cvc|cav2|security\s*code)(?![a-z])(?:\s*(?:码|code|number|no\.?)(?![a-z]))?"
        r"|安全码"
        # "the 3 digits on the back", "code on the back of the card", "back of card".
        r"|(?<![a-z])(?:(?:digits?|numbers?|code)\s+(?:on|at)\s+(?:the\s+)?back(?:\s+of\s+(?:the\s+|my\s+)?card)?"
        r"|back\s+of\s+(?:the\s+|my\s+)?card)(?![a-z])"
        r"|(?:银行卡|信用卡|卡片?)?(?:背面|背后|反面|签名栏|签名条)(?:上|后面)?(?:的|那)?(?:最?后)?[3三][位个](?:数字|数|码)?"
        # On the back of the card, a 验证码 or 校验码 is the CVV: "卡背面的验证码787".
        r"|(?:银行卡|信用卡|卡片?)?(?:背面|背后|反面)(?:上|后面)?的?(?:验证码|校验码|数字|号码|码)?"
        r"|卡背(?:面|后)?的?(?:验证码|校验码)?",
    ),
    (
        "expiry",
        r"有效期(?:至|到|截止)?|有效日期|有效至|有效截[止至]|到期日期?|到期时间|过期日期?|过期时间|失效日期|截止日期"
        # Shortened: "效期 07/27", "到期年月：07/27".
        r"|效期(?:至|到)?|(?:到期|有效|截止)年月"
        # A form's column label: "有效期（月/年）：09/27", "MM/YY 09/27".
        r"|月份?\s*/\s*年份?|年份?\s*/\s*月份?"
        r"|(?<![a-z])(?:exp(?:iry|iration|ires|iring)?(?:\s*date)?|valid\s*(?:thru|through|until|till|to)|good\s*(?:thru|through|till)"
        r"|mm\s*/\s*yy(?:yy)?|yy\s*/\s*mm)(?![a-z])",
    ),
    (
        "tail",
        r"(?:卡号?|卡片)?(?:尾号|尾数|末尾|(?:最后|末尾|后|末)[4四6六]位(?:数字|数|号码|号)?|结尾)",
    ),
    # The card's first digits, shown as typed ("卡号前六位 622202"); the next message may hold its rest.
    ("head", r"(?:卡号?|卡片)?(?:前[4四6六]位(?:数字|数|号码|号)?|开头|打头)"),
    (
        # Who to call: these name phone numbers, which a Luhn-valid card-length number never is.
        "contact",
        r"手机号?码?|电话(?:号码?)?|号码|热线|客服|拨打|致电|打给|座机|qq号?|微信号?"
        r"|(?<![a-z])(?:tel|phone|mobile)(?![a-z])",
    ),
    (
        # Labels of transaction ids and other numbers: what they name is never a card number.
        "other",
        r"(?:检索)?参考号?|凭证号?|流水号?|商户(?:编)?号?|终端(?:编)?号?|批次号?|(?:授权|批准|核准)(?:码|号)|订单号?|交易(?:单)?号"
        r"|单号|编号|工号|案件号|受理号"
        r"|身份证(?:号码?)?|证件号码?|邮编|发票号?|快递单?号?|运单号?|会员(?:卡)?号|券码"
        # Any other "…号" names some other number ("房间号", "工单号"); not a day ("20号").
        r"|(?<=[\u4e00-\u9fff])(?<![卡账帐尾])号码?"
        # A slip's approval code ("APPR CODE 772031") is a transaction id, not an SMS code.
        r"|(?<![a-z])(?:(?:auth(?:ori[sz]ation)?|appr(?:oval)?|approve|ref(?:erence)?|order|booking|tracking"
        r"|transaction|trace|batch|invoice|voucher|coupon|zip|postal|error|promo|qr|response|return|reason|swift|area)"
        r"\s*(?:code|no\.?|number|id|#)|ref(?:erence)?|rrn|order|mid|tid"
        r")(?![a-z])",
    ),
    (
        "cardno",
        r"(?:银行|信用|储蓄|借记|贷记)?卡(?:号码?|的号码|片号码?|面号码?)|账号|帐号|账户号码?|帐户号码?"
        r"|(?<![a-z])(?:card\s*(?:number|no\.?|num|#)|account\s*(?:number|no\.?)|pan)(?![a-z])",
    ),
    # "the CVV on my card is 381": a card the secret is on names no number.
    (
        "card",
        r"(?:银行|信用|储蓄|借记|贷记|工资|社保)?卡片?"
        r"|(?<![a-z])(?<!on my )(?<!on the )(?<!on your )card(?![a-z])",
    ),
)
_CUES = "|".join(f"(?P<{name}>{pattern})" for name, pattern in _CUE_PATTERNS)


def _cue_start(cues: str) -> str:
    """Every cue starts with one of its Chinese characters or a letter: a position that cannot start
    one is passed over at once instead of trying each alternative (six times faster)."""
    chinese = "".join(sorted(set(re.findall("[\u4e00-\u9fff]", cues))))
    return f"(?=[{chinese}a-z])"


_CUE_START = _cue_start(_CUES)
_CUE = re.compile(f"{_CUE_START}(?:{_CUES})", re.IGNORECASE)
_SECRET_CUES = {"sms": "sms_code", "pin": "pin", "cvv": "cvv"}
_SECRET_KINDS_OF = {**_SECRET_CUES, "expiry": "expiry"}
_DIGIT_RANGES = {"sms": (4, 8), "pin": (4, 8), "cvv": (3, 4)}
_CARD_CUES = ("cardno", "head", "card")
_NOT_SECRET_CUES = ("tail", "contact", "other")

# Between a cue and its number: "：", "=", "#", "，", "是", "为", brackets, spaces, an arrow ("验证码→4719").
_ARROWS = "←→⇐⇒⟵⟶➔➜➡⬅👉👈☞☜—–"  # and the dashes of "709215——验证码"
_FILLER = rf"(?:[\s:=#,.、\-()\[\]【】「」“”\"'<>《》{_ARROWS}]|是|为|即|(?<![a-z])(?:is|are|was)(?![a-z]))"
_DIRECT = re.compile(rf"{_FILLER}{{0,12}}\Z", re.IGNORECASE)
# "验证码刚收到，是654321", "验证码是多少？123456": a few words between cue and number.
_GAP = re.compile(r"(?:[^0-9。！!;；\n]|[0-9]{1,2}\s?位){1,12}\Z")
_MAX_GAP_WORDS = 8
# ... unless they move on to money or to another number's name; digits in between end the gap anyway.
_MONEY = r"元|块|钱|刷|扣|付|转|退|费|额|取|存|(?<!补)充|缴|买|卡里|笔"
_MONEY_OR_LABEL = rf"{_MONEY}|号|尾|电话|手机|热线|\["
_GAP_FORBIDDEN = re.compile(
    rf"{_MONEY_OR_LABEL}|客服|拨|打|(?<![a-z])(?:charg|paid|pay|refund|amount|price|cost|balance|total|fee|yuan|rmb"
    r"|usd|dollar|phone|call|order|ref|tracking|case|ending|last)",
    re.IGNORECASE,
)
# An English word counts as one word between a cue and its number, as a Chinese character does.
_LATIN_WORD = re.compile(r"[a-z]+", re.IGNORECASE)
_CUE_WINDOW = 28
_LATIN_OR_SPACE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ ")
# Between a number and a cue after it: "654321是验证码", "123456（短信验证码）", "1234 这张卡",
# "755268 请问这个验证码是谁发的" (a demonstrative a few words on points back at the number).
# The cue may come in the next clause, named by who said it: "786302，短信说是验证码", "846213 其实就是
# 验证码", "11/29 这个是卡的有效期" (``said``, checked by ``_said_plainly``).
_GLUE = (
    rf"[\s,:=)）\]】」”\"'<>\-{_ARROWS}]*(?:[(（\[【「“\"']\s*)?"
    r"(?:(?P<said>(?:[^\W\d_]{1,6}[\s,]{1,2})?[^\W\d_]{0,6}?)(?:是|为|叫)|即)?\s*"
    r"(?:(?<![a-z])(?:is|was|are)\s+(?:(?:the|my|your)\s+)?)?"
    r"(?:我的|我们的|你的|您的|我|刚刚?|刚才)?\s*"
    r"(?:银行|短信|手机)?(?:刚?收到的|发来的|发的|给的|里的|中的|上的)?"
    r"(?:(?:银行|信用|储蓄)?卡片?(?:上|面|背面)?的)?"
    r"(?:[^\W\d_]{0,3}?[这那](?:张|个|条|串))?的?\s*"
)
_AFTER = re.compile(f"{_GLUE}(?:{_CUES})", re.IGNORECASE)
# "说是3000元的那笔", "不是验证码": money, another number's name or a denial is no naming.
_SAID_FORBIDDEN = re.compile(rf"{_MONEY_OR_LABEL}|不|没|非|别")
_OWN_NUMBER = re.compile(rf"{_FILLER}{{0,4}}[0-9]+", re.IGNORECASE)


def _said_plainly(glue: re.Match[str]) -> bool:
    said = glue.groupdict().get("said")
    return not said or not _SAID_FORBIDDEN.search(said)


def _names_next_number(view: str, position: int) -> bool:
    """A number follows the cue, so the cue names it ("卡号6222 0212，验证码654321"), not a count
    ("说是验证码，5分钟有效")."""
    match = _OWN_NUMBER.match(view, position)
    return match is not None and not _UNIT_AFTER.match(view, match.end())


class _Cue(NamedTuple):
    kind: str
    direct: bool  # nothing but filler between cue and number
    rest: str  # what is between them
    start: int  # where the cue starts


def _window_start(view: str, start: int, reach: int = _CUE_WINDOW) -> int:
    """``reach`` before ``start``, moved back out of an English phrase: read from "VAL CODE",
    "APPROVAL CODE 772031" would name an SMS code."""
    first = max(0, start - reach)
    limit = max(0, first - _CUE_WINDOW)
    while first > limit and view[first - 1] in _LATIN_OR_SPACE:
        first -= 1
    return first


def _cue_before(view: str, start: int) -> _Cue | None:
    cues = list(_CUE.finditer(view, _window_start(view, start), start))
    last = cues[-1] if cues else None  # the nearest cue is the one that names the number
    if last is None or last.lastgroup is None:
        return None
    rest = view[last.end() : start]
    if _DIRECT.match(rest):
        return _Cue(last.lastgroup, True, rest, last.start())
    if _few_words(rest):
        return _Cue(last.lastgroup, False, rest, last.start())
    return None


def _few_words(rest: str) -> bool:
    """What stands between a cue and its number is a few words, not money or another number's name."""
    compact = _LATIN_WORD.sub("w", rest)
    words = re.sub(_FILLER, "", compact, flags=re.IGNORECASE)
    return bool(_GAP.match(compact)) and len(words) <= _MAX_GAP_WORDS and not _GAP_FORBIDDEN.search(rest)


# Words of the "other" kind that, after a number, say who acts rather than what it is:
# "6225215294415260 商户说已经撤销了" names no merchant id.
_ACTORS = frozenset({"商户", "终端", "客服", "拨打", "致电", "打给"})
# A cue "directly" after its number: "500是安全码", "123 (CVV)"; not "755268 这个验证码".
_ATTACHED = re.compile(rf"[\s(\[【「“\"'<>\-{_ARROWS}]*(?:(?:就|也)?是|为)?\s*\Z")


def _cue_after(view: str, end: int) -> _Cue | None:
    match = _AFTER.match(view, end)
    if match is None or _names_next_number(view, match.end()) or not _said_plainly(match):
        return None
    kind = match.lastgroup or ""
    if match.group(kind) in _ACTORS:
        return None
    rest = view[end : match.start(kind)]
    return _Cue(kind, bool(_ATTACHED.match(rest)), rest, match.start(kind))


def _kind(cue: _Cue | None) -> str | None:
    return None if cue is None else cue.kind


def _named_card(before: _Cue | None, after: _Cue | None) -> bool:
    """Named as a card number: "卡号是…", "我的卡：…", "…是我的卡号"; 卡号 may be a few words away."""
    if _kind(after) in _CARD_CUES:
        return True
    return before is not None and (before.kind == "cardno" or (before.kind in _CARD_CUES and before.direct))


def _names_other_number(cue: _Cue | None) -> bool:
    """A transaction id, phone number or card tail is named right before: "参考号", "都是"."""
    if cue is None or cue.kind not in _NOT_SECRET_CUES:
        return False
    return cue.direct or (len(cue.rest) <= 4 and "," not in cue.rest)


def _named_other(before: _Cue | None, after: _Cue | None) -> bool:
    """Named as some other number before or after it, unless 卡号 stands right before it.

    "卡号6225215294415260 参考号…" is a card number whatever follows it.
    """
    if before is not None and before.kind == "cardno" and before.direct:
        return False
    return _names_other_number(before) or _kind(after) in _NOT_SECRET_CUES


def _id_labelled(before: _Cue | None, after: _Cue | None) -> bool:
    """A transaction id's label names the number ("参考号 …", "… 是订单号"), not a phone's or a tail's."""
    labelled_before = before is not None and before.kind == "other" and _names_other_number(before)
    return labelled_before or _kind(after) == "other"


# --- what a number is not -----------------------------------------------------------------

_UNIT_AFTER = re.compile(
    r"\s*(?:元|块|圆|角|毛|分(?!别)|万|千|百|亿|[kw](?![a-z])|%|‰|次|天|日|号(?!码)|月|年|笔|个|张|位|条|台|家"
    r"|小时|钟|秒|周|岁|人|件|期|倍|点|多|余|来|左右|rmb|cny|usd|美元|港币|欧元|日元|刀)"
    r"|\.[0-9]{1,2}(?![0-9])",  # the yuan of "1299.00"
    re.IGNORECASE,
)
_CURRENCY_BEFORE = re.compile(
    r"(?:[¥$€£]|rmb|cny|usd|人民币|余额|额度|价格|单价|总价)\s*:?\s*\Z", re.IGNORECASE
)
_PHONE = re.compile(
    r"(?:0{0,2}86)?1[3-9][0-9]{9}|(?:400|800)[0-9]{7}|(?:95|96)[0-9]{3}|100[0-9]{2}|123[0-9]{2}"
)
_YEAR_MONTH_DAY = r"(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_DATE_START = re.compile(_YEAR_MONTH_DAY)
# 18 digits: region, birth date, serial and check digit.
_ID_NUMBER = re.compile(rf"[1-8][0-9]{{5}}{_YEAR_MONTH_DAY}[0-9]{{4}}")
# Card numbers start 2221-2720 (Mastercard), 3, 4, 5, 6 (UnionPay 62) or 9 (older domestic cards);
# merchant ids (8…), dates (20…) and phone numbers (1…) do not.
_ISSUER = re.compile(r"2[2-7]|[3-69]")
_CARD_LENGTHS = (16, 19)
_UNIONPAY = re.compile(r"62[0-9]{14,17}")  # 16 to 19 digits
_LETTER = re.compile(r"[A-Za-z]")


def _money_before(view: str, start: int) -> bool:
    return money_cued(view, start) or bool(_CURRENCY_BEFORE.search(view, max(0, start - 8), start))


def _amount_or_count(view: str, start: int, end: int) -> bool:
    return _money_before(view, start) or bool(_UNIT_AFTER.match(view, end))


def _part_of_word(view: str, start: int, end: int) -> bool:
    """ "WS-2026…", "No12…", "+86 138…", "…123X": digits inside a code or a phone number."""
    before = view[max(0, start - 2) : start]
    if (
        before[-1:] == "+"
        or _LETTER.match(before[-1:])
        or (before[-1:] in "-_" and _LETTER.match(before[:1]))
    ):
        return True
    return bool(_LETTER.match(view[end : end + 1]))


def _is_date(values: list[str], keys: list[str]) -> bool:
    """ "2026-11-20", "11/20", "2026.11.20", "11-20-2026"."""
    if len(values) not in (2, 3) or any(key not in "-/." for key in keys):
        return False
    numbers = [int(value) for value in values]
    if len(values) == 3 and len(values[0]) == 4:
        return 1 <= numbers[1] <= 12 and 1 <= numbers[2] <= 31
    if len(values) == 3:
        return len(values[2]) == 4 and 1 <= numbers[0] <= 12 and 1 <= numbers[1] <= 31
    return max(map(len, values)) <= 2 and 1 <= numbers[0] <= 12 and 1 <= numbers[1] <= 31


def _due_date(view: str, first: int, last: int, weak: bool) -> bool:
    """A bill, loan or coupon is named right before or after the cue and its month and year.

    After 到期 or 期限 alone, one named anywhere in the message will do: "预授权…，11/30到期".
    """
    if weak and _DUE_WORD.search(view):
        return True
    return bool(_DUE_BEFORE.search(view, max(0, first - 8), first) or _DUE_AFTER.match(view, last))


def _luhn_sum(digits: str, following: int = 0) -> int:
    """The Luhn sum of ``digits`` when ``following`` more digits come after them."""
    total = 0
    for position, char in enumerate(reversed(digits), start=following):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10


def _luhn_valid(digits: str) -> bool:
    return _luhn_sum(digits) == 0


# --- scanning one message -----------------------------------------------------------------

_CHAIN = re.compile(rf"(?<![0-9])[0-9]+(?:{_SEP}{{1,3}}[0-9]+)*")
_DIGITS = re.compile(r"[0-9]+")
_DIGITS_EACH = re.compile(r"[0-9]")
# Earlier masks (so masking twice changes nothing), case numbers and the digit of a cue word
# ("CVC2 802": the secret is 802, not 2802) stay as they are.
_PROTECTED = re.compile(
    r"\[(?:卡号已隐藏[,，]尾号[0-9]{4}|已隐藏)\]|(?<![A-Za-z0-9])WS\s*-\s*[0-9]{8}\s*-\s*[0-9]{4}(?![0-9])"
    r"|(?<![a-z])(?:cv[vnc]|cav)2(?![0-9])",
    re.IGNORECASE,
)
_CARD_MASK = re.compile(r"\[卡号已隐藏[,，]尾号[0-9]{4}\]")
_CUT_MASK = re.compile(r"(?<=[0-9])\[已隐藏\]")
_MONTH = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:20)?[2-4][0-9]"  # cards issued now expire in the 2020s-2040s
# An expiry is a month and a year: "09/27", "2027-09", "0927", "2029年7月", "7月/29年".
_EXPIRY_VALUE = re.compile(
    # The look-ahead passes over a position without a digit at once (several times faster).
    r"(?=[0-9])(?<![0-9])(?<![0-9][/\-.])"
    rf"(?:(?P<slashed>{_MONTH}\s*[/\-.·、 ]\s*{_YEAR}|{_YEAR}\s*[/\-.]\s*{_MONTH})"
    rf"|(?P<packed>(?:0[1-9]|1[0-2]){_YEAR})|(?P<written>{_YEAR}\s*年\s*{_MONTH}\s*月份?|{_MONTH}\s*月\s*/?\s*{_YEAR}\s*年?))"
    # Not part of a full date (a card's expiry has no day), a count or an amount.
    r"(?![0-9])(?!\s*[/\-.][0-9])(?!\s*(?:[日号天月年周期次个%元块]|小时|分钟|工作日))"
)
_EXPIRY_CUE = dict(_CUE_PATTERNS)["expiry"]
# 到期 and 期限 also name a bill's or a loan's due date, so they take only a month and year written
# as printed on a card ("06/32到期", "2029年7月到期的卡") and never a few words away.
_EXPIRY_WEAK_CUE = r"到期|期限|过期"
_EXPIRY_CUES = rf"(?:(?P<strong>{_EXPIRY_CUE})|(?P<weak>{_EXPIRY_WEAK_CUE}))"
_EXPIRY_CUE_BEFORE = re.compile(f"{_cue_start(_EXPIRY_CUES)}{_EXPIRY_CUES}", re.IGNORECASE)
_EXPIRY_CUE_AFTER = re.compile(f"{_GLUE}{_EXPIRY_CUES}", re.IGNORECASE)
_EXPIRY_LINK = re.compile(rf"(?:{_FILLER}|至|到|截至|截止|为止|就|也){{0,8}}\Z", re.IGNORECASE)
# What else expires or falls due: "还款到期日 12/20", "2026年12月到期的账单", "优惠券有效期至12/31".
_DUE = (
    r"还款|还钱|账单|贷款|借款|分期|缴费|续费|会员|套餐|合同|保险|保单|存款|定期|理财|基金|房租|租金|话费|年费"
    r"|券|积分|优惠|活动|临时额度|预授权|押金|证件|身份证|护照|签证|驾照|执照"
)
_DUE_WORD = re.compile(_DUE)
# "理财产品2027年3月到期", "还款日到期 12/20", "账单的到期日".
_DUE_BEFORE = re.compile(rf"(?:{_DUE})[^\W\d_]{{0,2}}\s*\Z")
_DUE_AFTER = re.compile(rf"\s*的?\s*(?:{_DUE})")
# A date followed by what happened then ("11/20在超市刷的", "11/20那天") is a day, not an expiry.
_EVENT_AFTER = re.compile(
    r"\s*(?:[在去被给从把跟向让用晚早]|到(?!期)|(?:之|以)?[前后]|那天|当天|的时候|时候|上午|下午|中午|凌晨|傍晚|夜里"
    r"|[0-9]{1,2}\s*[:点时]|刷|扣|消费|交易|支付|付|买|购|退|转|取|存|收到|发生|出现)"
)
# A pasted card: the number, then its expiry and CVV with nothing but separators between.
_PASTED_ITEM = re.compile(
    rf"[\s,;|、]{{1,3}}(?:(?P<expiry>{_MONTH}\s*/\s*{_YEAR})|(?P<cvv>[0-9]{{3}}))(?![0-9])(?!\s*[/\-.][0-9])"
)
_PASTED_ITEMS = 2
# "有效期是二八年九月", "有效期二零二七年十二月": a year and month in Chinese numerals, which the digit
# view leaves as they are when fewer than three stand together.
_EXPIRY_IN_NUMERALS = re.compile(
    rf"(?<![0-9{_CN_DIGITS}{_QUANTITY}])(?:[2二][0零〇])?[2-4二三四][0-9{_CN_DIGITS}]\s*年\s*"
    r"(?:1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])\s*月份?"
    rf"(?!\s*(?:[0-9{_CN_DIGITS}十]+\s*)?[日号天])"  # a day makes it a date
)
# A form pasted with its labels first: "卡号/有效期/CVV：5240 7036 2943 1311 / 07/27 / 483". Each value,
# in the labels' order, is the secret its label names.
_LABEL_SEPARATOR_BEFORE = re.compile(r"(?:\s*(?:[/、,|&+]|和|及)\s*|\s+)\Z")
_LABEL_REACH = 16  # characters a label may take
_FORM_KINDS = {"cardno": "card_number", "card": "card_number", **_SECRET_KINDS_OF}
_VALUE_SEPARATOR = re.compile(r"\s*[/、,|;；]\s*|\s+")
_FORM_VALUES = {
    "card_number": re.compile(r"[0-9]+(?:[ \-][0-9]+)*"),
    "expiry": re.compile(
        rf"(?:{_MONTH}\s*[/\-.]\s*{_YEAR}|{_YEAR}\s*[/\-.]\s*{_MONTH}|(?:0[1-9]|1[0-2]){_YEAR})(?![0-9])"
    ),
    "cvv": re.compile(r"[0-9]{3,4}(?![0-9])"),
    "pin": re.compile(r"[0-9]{4,8}(?![0-9])"),
    "sms_code": re.compile(r"[0-9]{4,8}(?![0-9])"),
}
# After a secret's cue, a later number brought in as another of the same: "验证码过期了，让我再报一个，
# 第二个是 284615", "密码输错两次了，正确的应该是 582036", "他的密码是 258037，但他总记错成 258073".
_FOLLOW_UP = re.compile(
    r"(?:第[二三四五2-5][个条次遍]?|[另下后](?:一|外一?)?[个条串组]|另外一?[个条串组]?"
    r"|(?:新|最新|正确|对|真|真正|实际|原来|之前|刚才|刚刚|后来|最后|重发|这次)的(?:那?[个条串组])?"
    r"|[记错输打写改换变看听念报设]成了?"
    # "密码是 258037 还是 258073", "…，不对，是 258073".
    r"|还是|或者|或是|也可能|不对|错了)"
    rf"(?:应该|其实|实际上?|才|就)?{_FILLER}{{0,4}}\Z",
    re.IGNORECASE,
)
_FOLLOW_UP_PHRASE = 16  # characters the phrase may take before the number
_FOLLOW_UP_WORDS = frozenset("第另下后的成还或能对错")  # one of them is in every such phrase
_FOLLOW_UP_REACH = 40  # characters between the cue and the phrase
# Between the cue and the phrase, money or another number's label breaks the link ...
_FOLLOW_UP_FORBIDDEN = re.compile(rf"{_MONEY}|号|尾|电话|手机|热线|客服|拨打")
# ... and so does a number, but for the cue's secret itself and a count ("密码输错3次了").
_COUNT_AFTER = re.compile(r"\s*(?:次|遍|位|个|分钟|秒|小时|天)")
_PASSWORD_CHARS = r"[a-z0-9!@#$%^&*._\-]"
# Online passwords mix letters and digits: "密码是Abc12345".
_PASSWORD = re.compile(
    rf"{_CUE_START}(?P<pin>{dict(_CUE_PATTERNS)['pin']}){_FILLER}{{0,8}}"
    rf"(?P<value>(?={_PASSWORD_CHARS}*[0-9])(?={_PASSWORD_CHARS}*[a-z]){_PASSWORD_CHARS}{{6,32}})(?!{_PASSWORD_CHARS})",
    re.IGNORECASE,
)
# A PIN or code told as a count of one digit: "密码是六个八", "密码就是6个6", "验证码三个1三个2",
# "六个8是我的密码". "一" in a word ("两个一样") is no digit.
_COUNT_TERM = (
    r"[2-8二两三四五六七八]\s*个\s*(?:[0-9零〇二三四五六七八九幺两]|一(?![样起直下次遍共般些点定会天个]))"
    rf"(?![{_QUANTITY}])"  # "三个八百" is 2400
)
_COUNT = rf"(?P<value>{_COUNT_TERM}(?:[\s,、和加]{{0,2}}{_COUNT_TERM})*)"
_SECRET_CUE_GROUPS = "|".join(f"(?P<{name}>{dict(_CUE_PATTERNS)[name]})" for name in _SECRET_CUES)
_COUNTED = (
    re.compile(
        rf"{_CUE_START}(?:{_SECRET_CUE_GROUPS})(?:{_FILLER}|就|都|也|全|应该){{0,6}}{_COUNT}", re.IGNORECASE
    ),
    re.compile(rf"(?<![0-9{_CN_DIGITS}]){_COUNT}{_GLUE}(?:{_SECRET_CUE_GROUPS})", re.IGNORECASE),
)
_CUT_KEEPS = 6  # PCI DSS: at most the first six digits may be shown ...
_TAIL_KEEPS = 4  # ... and the last four


class _Secret(NamedTuple):
    start: int
    end: int
    kind: str
    replacement: str


class _Group(NamedTuple):
    start: int
    end: int


class _Chain(NamedTuple):
    """Digit groups and, between each two, the kind of separator typed."""

    groups: tuple[_Group, ...]
    keys: tuple[str, ...]

    @property
    def start(self) -> int:
        return self.groups[0].start

    @property
    def end(self) -> int:
        return self.groups[-1].end

    def part(self, first: int, last: int) -> _Chain:
        return _Chain(self.groups[first : last + 1], self.keys[first:last])


# Separators that end a clause rather than join the groups of one number (as normalised keys).
CLAUSE_BREAKS = ",，、;；"


def _separator_key(separator: str) -> str:
    visible = separator.strip()
    if visible:
        return visible[0]
    return "\n" if "\n" in separator else " "


def _printed(lengths: list[int]) -> bool:
    """Grouped in fours as printed on a card: 4-4-4-4, 4-4-4-4-3, 4-4-4."""
    return len(lengths) >= 3 and all(length == 4 for length in lengths[:-1]) and lengths[-1] <= 4


def _card_shape(lengths: list[int], keys: tuple[str, ...]) -> bool:
    """Unbroken, printed, in even groups alike ("6 2 2 2 …", "62 22 02 …"), or split a few times
    into groups of three or more, whatever the separators ("6222 021234-567894")."""
    if len(lengths) == 1 or _printed(lengths) or (lengths[0] >= 4 and min(lengths[:-1]) >= 3):
        return True
    return len(set(keys)) == 1 and len(set(lengths[:-1])) == 1 and lengths[-1] <= lengths[0]


class _Scan:
    """The secrets of one message, and the digit chains left over for ``mask_continuing``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.secrets: list[_Secret] = []
        self.leftover: list[_Chain] = []
        # Cut card numbers the next message may finish, and the digits typed so far.
        self.opened: dict[_Secret, SplitState] = {}
        self._before: dict[int, _Cue | None] = {}
        self._after: dict[int, _Cue | None] = {}
        if not any(map(str.isnumeric, text)) and not _NOT_NUMERIC_DIGITS.intersection(text):  # most messages
            self.view, self.origin, self.protected = text, [], []
            return
        normalised, self.origin = normalise_with_offsets(text)
        self.view = _digit_view(_simplified(normalised))
        if _A_LETTER.search(self.view):
            self.view, self.origin = _cue_view(self.view, self.origin)
        self.protected = [match.span() for match in _PROTECTED.finditer(self.view)]
        chains = [chain for match in _CHAIN.finditer(self.view) for chain in self._chains(match)]
        self._labelled_forms(chains)
        if self.secrets:
            chains = [part for chain in chains for part in self._free_parts(chain)]
        for chain in chains:
            self._card_numbers(chain)
        self._expiry_dates()
        self._by_pattern(_PASSWORD)
        if "个" in self.view:
            for pattern in _COUNTED:
                self._by_pattern(pattern)
        for chain in chains:
            for part in self._free_parts(chain):
                self._cued_secrets(part)
        self._pasted_card_details()
        self._unfinished_card()
        self.leftover = [part for chain in chains for part in self._free_parts(chain)]

    def _chains(self, match: re.Match[str]) -> list[_Chain]:
        groups = [
            _Group(*digits.span()) for digits in _DIGITS.finditer(self.view, match.start(), match.end())
        ]
        keys = [_separator_key(self.view[a.end : b.start]) for a, b in itertools.pairwise(groups)]
        return self._free_parts(_Chain(tuple(groups), tuple(keys)), self.protected)

    def _free_parts(self, chain: _Chain, taken: list[tuple[int, int]] | None = None) -> list[_Chain]:
        """The runs of ``chain``'s groups that overlap nothing masked or protected."""
        spans = [(secret.start, secret.end) for secret in self.secrets] if taken is None else taken
        parts: list[_Chain] = []
        first = None
        for index, group in enumerate([*chain.groups, None]):
            free = group is not None and all(group.end <= a or group.start >= b for a, b in spans)
            if free and first is None:
                first = index
            elif not free and first is not None:
                parts.append(chain.part(first, index - 1))
                first = None
        return parts

    def _free(self, start: int, end: int) -> bool:
        return all(
            end <= a or start >= b for a, b in [*self.protected, *((s.start, s.end) for s in self.secrets)]
        )

    def cue_before(self, start: int) -> _Cue | None:
        if start not in self._before:
            self._before[start] = _cue_before(self.view, start)
        return self._before[start]

    def cue_after(self, end: int) -> _Cue | None:
        if end not in self._after:
            self._after[end] = _cue_after(self.view, end)
        return self._after[end]

    def digits(self, chain: _Chain) -> str:
        return "".join(self.view[group.start : group.end] for group in chain.groups)

    def digits_in(self, start: int, end: int) -> str:
        return "".join(_DIGITS_EACH.findall(self.view, start, end))

    def add(self, start: int, end: int, kind: str, replacement: str) -> None:
        self.secrets.append(_Secret(start, end, kind, replacement))

    def cut(self, start: int, end: int) -> tuple[_Secret, SplitState]:
        """Hide all but the first six digits between ``start`` and ``end``; the next message may go on."""
        digits = list(_DIGITS_EACH.finditer(self.view, start, end))
        secret = _Secret(digits[_CUT_KEEPS].start(), end, "card_number", HIDDEN)
        return secret, SplitState("prefix", len(digits))

    def _unfinished_card(self) -> None:
        """A card number of 13-15 digits ending the message that is no full card ("卡号62284829873643":
        UnionPay's have 16-19 digits, the others pass the Luhn check) shows only its first six digits,
        for the next message may hold its last ones."""
        for index, secret in enumerate(self.secrets):
            if secret.kind != "card_number" or not _TRAILING.match(self.view, secret.end):
                continue
            digits = self.digits_in(secret.start, secret.end)
            if len(digits) < 16 and (digits.startswith("62") or not _luhn_valid(digits)):
                cut, state = self.cut(secret.start, secret.end)
                self.secrets[index] = cut
                self.opened[cut] = state

    # --- card numbers

    def _card_numbers(self, chain: _Chain) -> None:
        """Mask the likeliest card numbers among the chain's runs of 13-19 digits."""
        lengths = [group.end - group.start for group in chain.groups]
        if sum(lengths) < 13:
            return
        before, after = self.cue_before(chain.start), self.cue_after(chain.end)
        # After 客服, 电话 or 尾号 only a Luhn-valid number of a card's length is taken for one.
        strict = _named_other(before, after)
        if strict and _id_labelled(before, after):
            return  # "订单号 4200 0012 3420 2611 2012 3456 78": no part of it is a card number
        joined_in_number = len(lengths) == 1 or (len(lengths) == 2 and chain.keys[0] not in CLAUSE_BREAKS)
        if sum(lengths) > 19 and joined_in_number and _named_card(before, None):
            # "卡号62220212345678901234": a card number mistyped with a digit too many is still one;
            # "卡号6222…0987，3000元" is a card number and then an amount.
            self.add(chain.start, chain.end, "card_number", _card_mask(self.digits(chain)[-_TAIL_KEEPS:]))
            return
        candidates: list[tuple[tuple[bool, bool, bool, bool, bool, bool, int], int, int]] = []
        for first in range(len(lengths)):
            # A card starts the chain ("6 2 2 2 …" too) or a group of four or more ("3000、6222 0212 …").
            if first and lengths[first] < 4:
                continue
            total = 0
            for last in range(first, len(lengths)):
                total += lengths[last]
                if total > 19:
                    break
                if total < 13:
                    continue
                part = chain.part(first, last)
                # Only the chain's first number can follow a cue, only its last can precede one.
                cues = (before if first == 0 else None, after if last == len(lengths) - 1 else None)
                verdict = self._card_verdict(
                    part, total, _card_shape(lengths[first : last + 1], part.keys), cues, strict
                )
                if verdict is not None:
                    named, luhn = verdict
                    consistent = len(set(part.keys)) <= 1
                    # A card's usual length wins a tie: "卡号6225 2152 9441 5260 09/27" ends at 5260.
                    usual = total in _CARD_LENGTHS
                    score = (named, consistent, luhn, first == 0, last == len(lengths) - 1, usual, total)
                    candidates.append((score, first, last))
        used: set[int] = set()
        for _, first, last in sorted(candidates, reverse=True):
            if used.isdisjoint(range(first, last + 1)):
                used.update(range(first, last + 1))
                part = chain.part(first, last)
                self.add(part.start, part.end, "card_number", _card_mask(self.digits(part)[-_TAIL_KEEPS:]))

    def _card_verdict(
        self, part: _Chain, total: int, shaped: bool, cues: tuple[_Cue | None, _Cue | None], strict: bool
    ) -> tuple[bool, bool] | None:
        """None when ``part`` is not a card number, else (named as one, passes Luhn) to rank it.

        ``strict`` when a phone's or a tail's cue names the number: then only a Luhn-valid one of a
        card's usual length is a card ("@客服 6226 2228 0699 1092 这张卡", "电话 4111 1111 1111 1111").
        """
        view, digits = self.view, self.digits(part)
        if _PHONE.fullmatch(digits) or _UNIT_AFTER.match(view, part.end):
            return None
        if _CURRENCY_BEFORE.search(view, max(0, part.start - 8), part.start):
            return None
        # "分别扣了3000、2000、1500、8000" lists amounts; a card number is never one of them.
        listed = bool(part.keys) and part.keys[0] in "、," and part.groups[0].end - part.groups[0].start <= 8
        if listed and money_cued(view, part.start):
            return None
        luhn = _luhn_valid(digits)
        if _named_card(*cues):
            return (True, luhn)
        if strict and not (luhn and total in _CARD_LENGTHS):
            return None
        values = [view[group.start : group.end] for group in part.groups]
        printed = _printed(list(map(len, values)))
        # Groups typed with mixed separators and unlike a card's ("3782 822463-10005") must pass Luhn.
        if len(set(part.keys)) > 1 and not printed and not luhn:
            return None
        if (
            not shaped
            or _part_of_word(view, part.start, part.end)
            or _DATE_START.match(digits)
            or _ID_NUMBER.fullmatch(digits)
        ):
            return None
        if len(values) >= 3 and all(value.endswith("00") for value in values):
            return None  # "2000，3000，5000，1000": round amounts, not a card's groups
        if printed and total in _CARD_LENGTHS:
            return (False, luhn)
        if _ISSUER.match(digits) and (luhn or total in _CARD_LENGTHS or _UNIONPAY.fullmatch(digits)):
            return (False, luhn)
        return None

    # --- expiry dates, pasted cards

    def _expiry_dates(self) -> None:
        # As printed on a card, with a slash, or written out with 年 and 月.
        values = [
            (*value.span(), value.lastgroup == "written" or "/" in value.group())
            for value in _EXPIRY_VALUE.finditer(self.view)
        ]
        if "年" in self.view:
            values += [(*value.span(), True) for value in _EXPIRY_IN_NUMERALS.finditer(self.view)]
        for start, end, printed in values:
            # "尾号1234 这个是卡的有效期": the number's own label wins over a cue after it.
            before = self.cue_before(start)
            labelled = before is not None and before.direct and before.kind in ("tail", "other")
            if labelled or not self._free(start, end):
                continue
            if self._named_expiry(start, end, printed) or (printed and self._followed_up_expiry(start, end)):
                self.add(start, end, "expiry", HIDDEN)

    def _labelled_forms(self, chains: list[_Chain]) -> None:
        """Mask the values of a pasted form whose labels come first, each as the secret its label
        names, in order, until a value does not fit its label."""
        for chain in chains:
            last = self.cue_before(chain.start)
            if last is None or not last.direct or last.kind not in _FORM_KINDS:
                continue
            kinds = self._labels_before(last)
            position = chain.start
            for index, kind in enumerate(kinds):
                value = self._form_value(kind, position, kinds[index + 1 : index + 2])
                if value is None:
                    break
                if self._free(value.start, value.end):
                    self.secrets.append(value)
                position = self._next_value(value.end)

    def _labels_before(self, last: _Cue) -> list[str]:
        """The secrets named by a list of two or more labels ending with ``last`` ("卡号/有效期/CVV"),
        in order."""
        view, kinds, start = self.view, [_FORM_KINDS[last.kind]], last.start
        while separator := _LABEL_SEPARATOR_BEFORE.search(view, max(0, start - 4), start):
            end = separator.start()
            labels = _CUE.finditer(view, _window_start(view, end, _LABEL_REACH), end)
            label = next((cue for cue in reversed(list(labels)) if cue.end() == end), None)
            if label is None or label.lastgroup not in _FORM_KINDS:
                break
            kinds.append(_FORM_KINDS[label.lastgroup])
            start = label.start()
        return kinds[::-1] if len(kinds) > 1 else []

    def _form_value(self, kind: str, position: int, following: list[str]) -> _Secret | None:
        """``kind``'s value at ``position``. A card number is a run of whole digit groups that makes
        13-19 digits: one the ``following`` value comes after, else one of a card's usual length, else
        the longest ("6222 0212 3456 7894 07/27": the expiry is not the card's)."""
        match = _FORM_VALUES[kind].match(self.view, position)
        if match is None or kind != "card_number":
            return None if match is None else _Secret(*match.span(), kind, HIDDEN)
        ends: list[tuple[bool, bool, int]] = []
        total = 0
        for group in _DIGITS.finditer(self.view, match.start(), match.end()):
            total += group.end() - group.start()
            if 13 <= total <= 19:
                then = self._next_value(group.end())
                followed = all(_FORM_VALUES[after].match(self.view, then) for after in following)
                ends.append((followed, total in _CARD_LENGTHS, group.end()))
        if not ends:
            return None
        end = max(ends)[2]
        return _Secret(
            match.start(), end, kind, _card_mask(self.digits_in(match.start(), end)[-_TAIL_KEEPS:])
        )

    def _next_value(self, end: int) -> int:
        separator = _VALUE_SEPARATOR.match(self.view, end)
        return separator.end() if separator else end

    def _named_expiry(self, start: int, end: int, printed: bool) -> bool:
        """A cue names this month and year an expiry, and nothing makes them a bill's due date.

        After it: "12/28是有效期", "06/32到期". Before it: "有效期：0927", "到期 09/27", and a
        few words away from a strong cue ("对方问我卡的有效期，我说了05/32") unless what follows
        makes it the day something happened ("有效期快到了，11/20去换卡").
        """
        view = self.view
        after = _EXPIRY_CUE_AFTER.match(view, end)
        if after is not None and not _names_next_number(view, after.end()) and _said_plainly(after):
            # Only 有效期 and its like name a month and year in the next clause ("11/29 这个是卡的
            # 有效期"), and not a day something happened ("11/20 那天说是有效期过了").
            said = bool(after.group("said"))
            by_strong_cue = after.lastgroup == "strong" and not (said and _EVENT_AFTER.match(view, end))
            if by_strong_cue or (printed and not said):
                return not _due_date(view, start, after.end(), weak=after.lastgroup == "weak")
        cues = list(_EXPIRY_CUE_BEFORE.finditer(view, max(0, start - _CUE_WINDOW), start))
        if not cues:
            return False
        cue = cues[-1]
        strong, rest = cue.lastgroup == "strong", view[cue.end() : start]
        if _EXPIRY_LINK.match(rest):
            named = strong or (printed and not _EVENT_AFTER.match(view, end))
        else:
            named = strong and printed and _few_words(rest) and not _EVENT_AFTER.match(view, end)
        return named and not _due_date(view, cue.start(), end, weak=not strong)

    def _followed_up_expiry(self, start: int, end: int) -> bool:
        """ "有效期我记错了，正确的应该是 09/28", unless it is the day something happened."""
        if _kind(self.follow_up(start)) != "expiry" or _EVENT_AFTER.match(self.view, end):
            return False
        return not _due_date(self.view, start, end, weak=False)

    def follow_up(self, start: int) -> _Cue | None:
        """The secret's cue earlier in the message when the number at ``start`` is brought in as
        another of the same ("…，正确的是 582036"), with nothing of another kind between them."""
        view, first = self.view, max(0, start - _FOLLOW_UP_PHRASE)
        if _FOLLOW_UP_WORDS.isdisjoint(view[first:start]):
            return None
        phrase = _FOLLOW_UP.search(view, first, start)
        if phrase is None:
            return None
        reach = _window_start(view, phrase.start(), _FOLLOW_UP_REACH)
        cues = list(_CUE.finditer(view, reach, phrase.start()))
        if not cues or cues[-1].lastgroup not in _SECRET_KINDS_OF:
            return None
        cue, between = cues[-1], view[cues[-1].end() : phrase.start()]
        kind = cue.lastgroup or ""
        if _FOLLOW_UP_FORBIDDEN.search(between):
            return None
        same = [
            (secret.start, secret.end) for secret in self.secrets if secret.kind == _SECRET_KINDS_OF[kind]
        ]
        for number in _DIGITS.finditer(view, cue.end(), phrase.start()):
            if not (any(a <= number.start() < b for a, b in same) or _COUNT_AFTER.match(view, number.end())):
                return None
        return _Cue(kind, False, view[cue.end() : start], cue.start())

    def _pasted_card_details(self) -> None:
        """An expiry and a CVV pasted with a card: "6222 0212 3456 7894 09/27 123".

        Joined to a card number, CVV or expiry by separators alone, a month/year is the expiry
        (unless something happened that day: "卡号…，11/20被扣了"), and three digits next to an
        expiry are its CVV.
        """
        view = self.view
        details = ("card_number", "cvv", "expiry")
        for anchor in sorted(secret for secret in self.secrets if secret.kind in details):
            items: list[re.Match[str]] = []
            position = anchor.end
            while len(items) < _PASTED_ITEMS and (item := _PASTED_ITEM.match(view, position)):
                if item.lastgroup == "expiry" and _EVENT_AFTER.match(view, item.end()):
                    break
                items.append(item)
                position = item.end()
            if anchor.kind != "expiry" and not any(item.lastgroup == "expiry" for item in items):
                continue
            for item in items:
                kind = item.lastgroup or ""
                start, end = item.span(kind)
                if self._free(start, end) and not _amount_or_count(view, start, end):
                    self.add(start, end, kind, HIDDEN)

    # --- passwords, codes told as counts

    def _by_pattern(self, pattern: re.Pattern[str]) -> None:
        """Mask each match's ``value`` as the secret its cue group (``pin``, ``sms``, ``cvv``) names."""
        for match in pattern.finditer(self.view):
            start, end = match.span("value")
            cue = next(name for name, value in match.groupdict().items() if value and name in _SECRET_CUES)
            if self._free(start, end) and _said_plainly(match):
                self.add(start, end, _SECRET_CUES[cue], HIDDEN)

    # --- CVV, PIN, SMS code

    def _cued_secrets(self, chain: _Chain) -> None:
        view, digits = self.view, self.digits(chain)
        if len(digits) < _DIGIT_RANGES["cvv"][0] or _PHONE.fullmatch(digits):
            return
        values = [view[group.start : group.end] for group in chain.groups]
        if _is_date(values, list(chain.keys)):
            return
        before = self.cue_before(chain.start)
        if _kind(before) not in _SECRET_CUES and not _names_other_number(before):
            before = self.follow_up(chain.start) or before
        first_free = 0
        if before is not None and before.kind in _SECRET_CUES:
            first_free = self._cued_from(chain, before)
        elif _names_other_number(before):
            first_free = 1
        after = self.cue_after(chain.end)
        if first_free < len(chain.groups) and after is not None and after.kind in _SECRET_CUES:
            self._cued_before(chain, first_free, after)

    def _cued_from(self, chain: _Chain, cue: _Cue) -> int:
        """Mask the longest runs of groups, from the chain's start, that fit the cue's secret."""
        first = 0
        while first < len(chain.groups):
            # Only the run right after the cue is named by it; "验证码123456 654321" has two.
            last = self._longest(chain, first, cue.kind, direct=cue.direct and first == 0)
            if last is None:
                break
            self.add(chain.groups[first].start, chain.groups[last].end, _SECRET_CUES[cue.kind], HIDDEN)
            first = last + 1
        return first

    def _cued_before(self, chain: _Chain, first_free: int, cue: _Cue) -> None:
        """ "654321是验证码": the longest run of groups that fits, ending where the cue starts.

        Round numbers are taken for money there ("3000是密码错了吗"), but not one attached to a
        CVV cue ("500是安全码"): nobody prices anything in 安全码.
        """
        kind = cue.kind
        direct = cue.direct and kind == "cvv"
        low, high = _DIGIT_RANGES[kind]
        last = len(chain.groups) - 1
        best, count = None, 0
        for first in range(last, first_free - 1, -1):
            count += chain.groups[first].end - chain.groups[first].start
            if count > high:
                break
            if count >= low and not self._secret_excluded(chain.part(first, last), direct):
                best = first
        if best is not None:
            self.add(chain.groups[best].start, chain.end, _SECRET_CUES[kind], HIDDEN)

    def _longest(self, chain: _Chain, first: int, kind: str, direct: bool) -> int | None:
        low, high = _DIGIT_RANGES[kind]
        best, count = None, 0
        for last in range(first, len(chain.groups)):
            count += chain.groups[last].end - chain.groups[last].start
            if count > high:
                break
            if count >= low and not self._secret_excluded(chain.part(first, last), direct):
                best = last
        return best

    def _secret_excluded(self, part: _Chain, direct: bool) -> bool:
        """An amount, count or phone number, however it is cued.

        A cue with words between ("密码忘了，卡里有20000") or after the number
        ("3000是密码错了吗") is weaker: there, round numbers and decimals are money.
        """
        digits = self.digits(part)
        if _amount_or_count(self.view, part.start, part.end) or _PHONE.fullmatch(digits):
            return True
        if direct:
            return False
        decimal = part.keys[-1:] == (".",) and part.groups[-1].end - part.groups[-1].start <= 2
        return decimal or digits.endswith("00")

    # --- output

    def result(self, extra: list[_Secret] | None = None) -> MaskResult:
        secrets = sorted([*self.secrets, *(extra or [])])
        masked = self.text
        for secret in reversed(secrets):
            start, end = self.origin[secret.start], self.origin[secret.end - 1] + 1
            masked = masked[:start] + secret.replacement + masked[end:]
        found = {secret.kind for secret in secrets}
        return MaskResult(masked, tuple(kind for kind in SECRET_KINDS if kind in found))


def mask_secrets(text: str) -> MaskResult:
    """Replace secrets in ``text``; everything else is returned exactly as typed.

    >>> mask_secrets("卡号 6222，0212，3456，7890 验证码是 654321")
    MaskResult(text='卡号 [卡号已隐藏，尾号7890] 验证码是 [已隐藏]', kinds=('card_number', 'sms_code'))
    >>> mask_secrets("654321是验证码，尾号1234多扣了¥1,299.00").text
    '[已隐藏]是验证码，尾号1234多扣了¥1,299.00'

    A card number of 13-15 digits that ends the message and is no full card
    (UnionPay's have 16-19 digits, the others pass the Luhn check) shows only
    its first six digits, since the next message may bring its last ones:

    >>> mask_secrets("卡号62284829873643").text
    '卡号622848[已隐藏]'
    """
    return _Scan(text).result()


# --- card numbers split over two messages --------------------------------------------------

SPLIT_TTL_SECONDS = 300.0


@dataclass(frozen=True)
class SplitState:
    """What a conversation's last stored message leaves open; it holds no digit of a card.

    - ``prefix``: it ended with the start of a card number (named by 卡号, five
      or six digits named by 银行卡, or seven or more digits that could start
      one), cut to its first six digits; ``digits`` were typed. The next
      message's leading digits continue it.
    - ``maybe``: it ended with four to six digits that start like a card
      ("6222") or four named by 银行卡, shown as typed since they are as likely
      a last-4 or an amount.
      The next message's leading digits continue them only if together they
      make a Luhn-valid card number (or a 16/19-digit one grouped like a card);
      ``luhn`` holds their Luhn sums for an even and an odd number of digits
      after them.
    - ``complete``: it ended with a masked card number; one to three more
      digits alone in the next message (the end of a 19-digit card) are hidden.
    """

    kind: Literal["prefix", "maybe", "complete"]
    digits: int = 0
    luhn: tuple[int, int] = (0, 0)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, stored: str) -> SplitState | None:
        try:
            data = json.loads(stored)
            even, odd = data["luhn"]
            return cls(data["kind"], int(data["digits"]), (int(even), int(odd)))
        except (ValueError, KeyError, TypeError):
            return None


# Before the continuation: nothing, "后面是", "剩下的号码：", or a few other words ("接上条", "刚才没发完：").
_GOES_ON = r"(?:[\s:,，]*(?:的|是|为|几位|部分|数字|号码))*[\s:,，]*\Z"
_LEAD_IN = re.compile(
    rf"[\s\W_]*(?:(?:后面|接着|接下来|然后|剩下|下面|还有|继续|再|后){_GOES_ON}|[\s:,，]*\Z)"
)
# After a longer lead-in, only a word that plainly carries on stands right before the digits:
# "我眼花打得慢，后面是6491 5076 955".
_CARRIES_ON = re.compile(
    rf"(?:后面|接着|接下来|剩下|剩余|下面|还有|后几位|没(?:打|发|输|写)完|[漏少](?:打|发|输|写)?了){_GOES_ON}"
)
_MONEY_WORD = re.compile(_MONEY)
_TRAILING = re.compile(r"[^\w\[\]]*\Z")
_SHORT_TAIL = 3  # a 19-digit card typed 16 + 3


def _leads_in(scan: _Scan, chain: _Chain) -> bool:
    """Only words that may introduce the rest of a card number stand before the message's first digits."""
    lead = scan.view[: chain.start]
    if _LEAD_IN.match(lead):
        return True
    if _names_other_number(scan.cue_before(chain.start)):
        return False
    return _few_words(lead) or bool(_CARRIES_ON.search(lead) and not _MONEY_WORD.search(lead))


def mask_continuing(text: str, previous: SplitState | None) -> tuple[MaskResult, SplitState | None]:
    """``mask_secrets`` for the next message of a conversation, and what it leaves open.

    The rule: no two stored messages of a conversation together show more than
    the first six and the last four digits of a card number. The first message
    is stored before the second arrives, so:

    - A message ending with what may start a card number shows at most its
      first six digits: "6222 0212 3456" is stored as "6222 02[已隐藏]". That is
      a number named by 卡号/银行卡/card (seven or more digits, anywhere in the
      message), seven to eighteen bare digits at the message's end that
      start like a card (3, 4, 5, 6, 9 or 22-27) and are no phone number,
      date, amount, or transaction id named by its cue, or a card number of
      13-15 digits ending the message that is not yet a full one
      ("卡号62284829873643", see ``mask_secrets``).
    - The next message's leading digits continue it, after nothing, a few
      words ("后面是", "接上条", "刚才没发完："), or a longer clause when a word
      that carries on stands right before them and no money word is in it
      ("我眼花打得慢，后面是6491 5076 955"): once the two make 13-19
      digits, they are the card's end and show only its last four
      ("[卡号已隐藏，尾号7890]"); fewer are a middle piece and are hidden.
      After a cut prefix, digits that look like a phone number continue it
      too unless typed as one (3-4-4 or, short of a card's length, unbroken):
      "1345 6789 012" carries on the card's groups of four, and "190 8349
      2969" after "卡号 6225 2" completes the group of four it left open.
      A note may follow them ("507 147（漏了几位，补上）"), and after a whole
      card number one to three digits with a note are a 19-digit card's end.
    - Four to six digits ending a message are shown. Named by 卡号, or five or
      six named by 银行卡 ("银行卡4367 42"), they start a card and the next
      message's digits continue them as above. Otherwise (usually a last-4 or
      an amount, "工行卡 1234") the next message's digits continue them only
      into a Luhn-valid card number, or a 16/19-digit one grouped like a card.

    False positives accepted for this: a bare 7-18 digit reference number that
    ends a message (and starts with 3-6 or 9) keeps only its first six digits;
    and, for ``SPLIT_TTL_SECONDS``, a number opening the message after such a
    cut is hidden. Named transaction ids ("参考号123456789012"), amounts with
    a unit or money verb, dates, phone numbers and "尾号1234" are never cut.
    """
    scan = _Scan(text)
    openings: list[tuple[_Secret, SplitState | None]] = []
    leftover = list(scan.leftover)
    if leftover and previous is not None and _leads_in(scan, leftover[0]):
        continued = _continue(scan, leftover[0], previous)
        if continued is not None:
            secret, state, used = continued
            openings.append((secret, state))
            rest = leftover[0].groups[used:]
            leftover[0:1] = [leftover[0].part(used, len(leftover[0].groups) - 1)] if rest else []
    for chain in leftover:
        cut = _cut(scan, chain)
        if cut is not None:
            openings.append(cut)
    extra = [secret for secret, _ in openings]
    return scan.result(extra), _ending(scan, openings, leftover)


def _continue(
    scan: _Scan, chain: _Chain, previous: SplitState
) -> tuple[_Secret, SplitState | None, int] | None:
    """The secret the chain opening this message makes with ``previous``, what it leaves open, groups used."""
    view = scan.view
    lengths = [group.end - group.start for group in chain.groups]
    whole, values = scan.digits(chain), [view[group.start : group.end] for group in chain.groups]
    if _dialled(whole, lengths, previous) or _DATE_START.match(whole) or _is_date(values, list(chain.keys)):
        return None  # "138 0013 8000 是我电话" opens a message, it continues nothing
    if previous.kind == "complete":
        # "128", "128（漏了几位，补上）": the end of a 19-digit card, with at most a note after it.
        note = view[chain.end :]
        if sum(lengths) <= _SHORT_TAIL and not _amount_or_count(view, chain.start, chain.end):
            if not _DIGITS.search(note) and not _MONEY_WORD.search(note):
                return _Secret(chain.start, chain.end, "card_number", HIDDEN), None, len(lengths)
        return None
    for last in range(len(lengths) - 1, -1, -1):
        part = chain.part(0, last)
        count = sum(lengths[: last + 1])
        total = previous.digits + count
        if (
            total > 19
            or _amount_or_count(view, part.start, part.end)
            or _kind(scan.cue_after(part.end)) in _NOT_SECRET_CUES
            or _dialled(scan.digits(part), lengths[: last + 1], previous)
        ):
            continue
        digits = scan.digits(part)
        if previous.kind == "maybe":
            joined_luhn = (_luhn_sum(digits) + previous.luhn[count % 2]) % 10 == 0
            card_like = total in _CARD_LENGTHS and _card_shape(lengths[: last + 1], part.keys)
            if total < 13 or not (joined_luhn or card_like):
                continue
        if total >= 13:
            replacement = _card_mask(digits[-_TAIL_KEEPS:]) if count >= _TAIL_KEEPS else HIDDEN
            return _Secret(part.start, part.end, "card_number", replacement), SplitState("complete"), last + 1
        return _Secret(part.start, part.end, "card_number", HIDDEN), SplitState("prefix", total), last + 1
    return None


def _dialled(digits: str, lengths: list[int], previous: SplitState) -> bool:
    """A phone number; after a cut card prefix, only one typed as phone numbers are.

    Grouped 3-4-4 ("138 0013 8000") it is a phone, but digits grouped in fours ("1345 6789 012") or
    whose first group completes the four the prefix left open ("6225 2", then "190 8349 2969")
    carry on the card's printed groups, and unbroken ones that make the card's usual length with
    the prefix are its rest: shown, they would give away all but a few of its digits.
    """
    if not _PHONE.fullmatch(digits):
        return False
    if previous.kind != "prefix":
        return True
    if len(lengths) == 1:
        return previous.digits + lengths[0] not in _CARD_LENGTHS
    # "卡号 6225 2" then "190 8349 2969": the first group completes the card's group of four.
    return lengths[0] != 4 and (previous.digits + lengths[0]) % 4 != 0


def _may_start_card(scan: _Scan, chain: _Chain) -> tuple[bool, bool]:
    """(named as a card number, may start one) for a chain nothing else masked."""
    view, digits = scan.view, scan.digits(chain)
    before, after = scan.cue_before(chain.start), scan.cue_after(chain.end)
    values = [view[group.start : group.end] for group in chain.groups]
    if _named_other(before, after) or _amount_or_count(view, chain.start, chain.end):
        return False, False
    if _PHONE.fullmatch(digits) or _DATE_START.match(digits) or _ID_NUMBER.fullmatch(digits):
        return False, False
    if _is_date(values, list(chain.keys)):
        return False, False
    if _named_card(before, after):
        return True, True
    return False, bool(_ISSUER.match(digits)) and not _part_of_word(view, chain.start, chain.end)


def _cut(scan: _Scan, chain: _Chain) -> tuple[_Secret, SplitState] | None:
    """Everything after the first six digits of what may start a card number."""
    digits = scan.digits(chain)
    if not _CUT_KEEPS < len(digits) < 19:
        return None
    named, possible = _may_start_card(scan, chain)
    lengths = [group.end - group.start for group in chain.groups]
    if not (named or (possible and (_TRAILING.match(scan.view, chain.end) or _printed(lengths)))):
        return None
    return scan.cut(chain.start, chain.end)


def _ending(
    scan: _Scan, openings: list[tuple[_Secret, SplitState | None]], leftover: list[_Chain]
) -> SplitState | None:
    """What the message leaves open at its end, or None (then nothing is kept)."""
    view = scan.view
    last_end, state = -1, None
    for secret in scan.secrets:
        if secret.end > last_end:
            last_end, state = secret.end, SplitState("complete") if secret.kind == "card_number" else None
            state = scan.opened.get(secret, state)
    for match in _CARD_MASK.finditer(view):  # masked before, by the REST channel
        if match.end() > last_end:
            last_end, state = match.end(), SplitState("complete")
    for match in _CUT_MASK.finditer(view):  # a card number the REST channel cut ("卡号622848[已隐藏]")
        shown = [chain for chain in leftover if chain.end == match.start()]
        if shown and match.end() > last_end:
            last_end, state = match.end(), SplitState("prefix", len(scan.digits(shown[0])))
    for secret, opened in openings:
        if secret.end > last_end:
            last_end, state = secret.end, opened
    chains = [chain for chain in leftover if chain.end > last_end]
    if chains:
        last_end, state = chains[-1].end, _open_number(scan, chains[-1])
    return state if _TRAILING.match(view, max(last_end, 0)) else None


def _open_number(scan: _Scan, chain: _Chain) -> SplitState | None:
    """A message ending with up to six digits, shown as typed: may the next message continue them?"""
    digits = scan.digits(chain)
    if len(digits) > _CUT_KEEPS:
        return None
    named, possible = _may_start_card(scan, chain)
    before = scan.cue_before(chain.start)
    # After 卡号 or 前六位 any digits start the card. After 银行卡 four may be its last-4 ("工行卡 1234")
    # and a round number its limit ("信用卡 50000"), but five or six others start it ("银行卡4367 42").
    starts_card = before is not None and (
        before.kind in ("cardno", "head")
        or (len(digits) > _TAIL_KEEPS and bool(_ISSUER.match(digits)) and not digits.endswith("00"))
    )
    if named and starts_card:
        return SplitState("prefix", len(digits))
    if possible and len(digits) >= _TAIL_KEEPS:
        return SplitState("maybe", len(digits), (_luhn_sum(digits, 0), _luhn_sum(digits, 1)))
    return None


class SplitNumberGuard(Protocol):
    """Masks each message of a conversation knowing what the previous one left open.

    ``InMemorySplitNumberGuard`` for one process; ``bot.storage.redis_state.RedisSplitNumberGuard``
    when replicas share conversations.
    """

    async def mask(self, sender_id: str, text: str) -> MaskResult: ...


class InMemorySplitNumberGuard:
    def __init__(self, ttl_seconds: float = SPLIT_TTL_SECONDS, max_conversations: int = 100_000) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_conversations = max_conversations
        self._states: OrderedDict[str, tuple[float, SplitState]] = OrderedDict()

    async def mask(self, sender_id: str, text: str) -> MaskResult:
        now = time.monotonic()
        expires, previous = self._states.pop(sender_id, (0.0, None))
        result, state = mask_continuing(text, previous if now < expires else None)
        if state is not None:
            self._states[sender_id] = (now + self.ttl_seconds, state)
            while len(self._states) > self.max_conversations:
                self._states.popitem(last=False)
        return result


# --- metadata -----------------------------------------------------------------------------

WECHAT_MESSAGE_TYPE_KEY = "wechat_msg_type"
MAX_METADATA_VALUE_CHARS = 64


def clean_metadata(metadata: object) -> dict[str, Any]:
    """What may be stored of a message's metadata: the server's own keys, checked and masked.

    Clients can put anything in REST and socket.io ``metadata``, and Rasa
    stores it with the message; the bot reads none of it, so every other key
    is dropped.

    >>> clean_metadata({"masked_secrets": ["pin", "?"], "pan": "6222021234567894", "wechat_msg_type": "text"})
    {'masked_secrets': ['pin'], 'wechat_msg_type': 'text'}
    """
    if not isinstance(metadata, dict):
        return {}
    cleaned: dict[str, Any] = {}
    kinds = metadata.get(MASKED_METADATA_KEY)
    if isinstance(kinds, list):
        cleaned[MASKED_METADATA_KEY] = [kind for kind in SECRET_KINDS if kind in kinds]
    message_type = metadata.get(WECHAT_MESSAGE_TYPE_KEY)
    if isinstance(message_type, str):
        cleaned[WECHAT_MESSAGE_TYPE_KEY] = mask_secrets(message_type[:MAX_METADATA_VALUE_CHARS]).text
    return cleaned
