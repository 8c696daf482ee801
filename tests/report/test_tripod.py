"""The TRIPOD+AI item list is the published one's shape (Collins et al. 2024)."""

import itertools
import re

from txpredict.report._tripod import ITEMS


def test_the_checklist_has_the_27_published_items_in_order():
    numbers = [re.match(r"\d+", item).group() for item, *_ in ITEMS]
    assert [int(k) for k, _ in itertools.groupby(numbers)] == list(range(1, 28))
    assert len({item for item, *_ in ITEMS}) == len(ITEMS) == 52
    # the parts of an item are lettered a, b, c ... without gaps
    for number, parts in itertools.groupby(
        ITEMS, key=lambda i: re.match(r"\d+", i[0]).group()
    ):
        letters = [item[len(number) :] for item, *_ in parts]
        assert letters in ([""], [chr(ord("a") + k) for k in range(len(letters))])


def test_every_item_says_what_it_asks_under_a_known_section():
    sections = {
        "Title",
        "Abstract",
        "Introduction",
        "Methods",
        "Open science",
        "Patient and public involvement",
        "Results",
        "Discussion",
    }
    for item, section, topic, asks in ITEMS:
        assert section in sections and topic and len(asks) > 10, item
