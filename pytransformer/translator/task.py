"""The synthetic translation task: English numbers spelled out in words -> their digits.

    "three hundred and forty two thousand and seven"  ->  "342007"
    "nineteen thousand"                                ->  "19000"

Numbers run from 0 to 999 999, written the British way ("and" before the last two digits of a
group that has hundreds or follows a thousands group). The task cannot be solved token by
token: the output length depends on the whole input ("seven" is "7", "seven thousand" is
"7000", "seven thousand and seven" is "7007"), zeros must be inserted where words are
missing, and the decoder has to find, for each digit it writes, the one source word that gives
it. So it needs attention, yet a model of ~0.2 M parameters learns it in a few CPU minutes.

The split is a fixed, seed-free partition of the integers (a multiplicative hash), so train
and held-out never overlap whatever seeds the samplers use: every number below 100 is a
training number (there are too few of them to hold any out without the model never seeing a
word alone), and one in ten of the numbers from 100 up is held out.

Vocabulary (one for source and target, as our encoder-decoder format has one vocab_size):
the special tokens, the ten digits, then the number words; ids are fixed by :data:`VOCAB`.
"""

from __future__ import annotations

import random
from typing import Iterator, List, Tuple

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIALS = [PAD, BOS, EOS, UNK]
ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
WORDS = ONES + TENS[2:] + ["hundred", "thousand", "and"]
DIGITS = [str(d) for d in range(10)]
VOCAB: List[str] = SPECIALS + DIGITS + WORDS
TOKEN_ID = {token: i for i, token in enumerate(VOCAB)}
PAD_ID, BOS_ID, EOS_ID, UNK_ID = (TOKEN_ID[t] for t in SPECIALS)

LIMIT = 1_000_000  # numbers are 0 .. LIMIT - 1
HELD_OUT_FROM = 100  # numbers below this are all training numbers
HELD_OUT_SEED = 20240607  # the seed of the held-out sample used by the README and the tests
# Longest source: "seven hundred and seventy seven thousand seven hundred and seventy seven"
# (11 words) + </s>; longest target: 6 digits + </s>.
MAX_SOURCE_TOKENS = 12
MAX_TARGET_TOKENS = 7


def _below_thousand(n: int) -> List[str]:
    words: List[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [ONES[hundreds], "hundred"]
    if rest:
        if hundreds:
            words.append("and")
        if rest < 20:
            words.append(ONES[rest])
        else:
            tens, ones = divmod(rest, 10)
            words.append(TENS[tens])
            if ones:
                words.append(ONES[ones])
    return words


def spell(n: int) -> str:
    """n (0 <= n < 1 000 000) in English words, British style: 342007 -> "three hundred and
    forty two thousand and seven" (no hyphens, so every word is one token)."""
    if not 0 <= n < LIMIT:
        raise ValueError(f"n: expected 0 <= n < {LIMIT}, got {n}")
    if n == 0:
        return "zero"
    thousands, rest = divmod(n, 1000)
    words: List[str] = []
    if thousands:
        words += _below_thousand(thousands) + ["thousand"]
    if rest:
        # "two thousand and seven", but "two thousand three hundred" (the and is inside).
        if thousands and rest < 100:
            words.append("and")
        words += _below_thousand(rest)
    return " ".join(words)


def is_held_out(n: int) -> bool:
    """Whether n belongs to the held-out split (fixed for all time: a hash, not a seed)."""
    return n >= HELD_OUT_FROM and (n * 2654435761) % (1 << 32) % 10 == 0


def _sample_number(rng: random.Random, smallest_digits: int) -> int:
    # Uniform over the number of digits, then uniform within: a uniform draw from 0..999999
    # would be 90% six-digit numbers and leave short inputs under-trained. Half the draws then
    # zero some digits (each but the first with probability 1/2): uniform numbers almost never
    # have a zero group ("nineteen thousand", "two hundred thousand and five"), yet those are
    # the inputs where the digits to write are furthest from the words that give them.
    digits = rng.randint(smallest_digits, 6)
    low = 0 if digits == 1 else 10 ** (digits - 1)
    n = rng.randrange(low, 10 ** digits)
    if rng.random() < 0.5:
        text = str(n)
        n = int(text[0] + "".join("0" if rng.random() < 0.5 else d for d in text[1:]))
    return n


def pairs(split: str, count: int, seed: int) -> List[Tuple[str, str]]:
    """count (source, target) pairs of the split ``"train"`` or ``"held-out"``, drawn with the
    given seed (deterministic). Held-out pairs are distinct; training pairs may repeat."""
    return list(_pairs(split, count, seed))


def _pairs(split: str, count: int, seed: int) -> Iterator[Tuple[str, str]]:
    if split not in ("train", "held-out"):
        raise ValueError(f"split: expected 'train' or 'held-out', got {split!r}")
    held_out = split == "held-out"
    rng = random.Random(seed)
    seen = set()
    produced = 0
    while produced < count:
        # Held-out numbers are all >= 100, so they start at three digits.
        n = _sample_number(rng, 3 if held_out else 1)
        if is_held_out(n) != held_out:
            continue
        if held_out:
            if n in seen:
                continue
            seen.add(n)
        produced += 1
        yield spell(n), str(n)


def held_out_pairs(count: int = 1000) -> List[Tuple[str, str]]:
    """The held-out evaluation set: the first count pairs drawn with :data:`HELD_OUT_SEED`."""
    return pairs("held-out", count, HELD_OUT_SEED)


def encode_source(text: str) -> List[int]:
    """Source token ids: one per word, then </s> (what tokenizer.json produces too)."""
    return [TOKEN_ID.get(word, UNK_ID) for word in text.split()] + [EOS_ID]


def encode_target(text: str) -> List[int]:
    """Target token ids without <s> / </s>: one per digit."""
    return [TOKEN_ID.get(ch, UNK_ID) for ch in text]


def decode_target(ids) -> str:
    """Digits of the generated ids, stopping at </s> and skipping special tokens."""
    out = []
    for i in ids:
        i = int(i)
        if i == EOS_ID:
            break
        if i >= len(SPECIALS):
            out.append(VOCAB[i])
    return "".join(out)
