"""Categories by product-id prefix: the longest prefix wins, uncategorised otherwise, bad settings refused."""

from __future__ import annotations

import pytest

from pipelines.analysis.categories import UNCATEGORISED, CategoryMap

SETTING = {"bakery": ["BAK-", "BREAD"], "gluten-free": ["BAK-GF-"], "dairy": ["DAI-"]}


def test_the_longest_matching_prefix_decides_whatever_the_order_of_the_setting():
    for setting in (SETTING, dict(reversed(SETTING.items()))):
        categories = CategoryMap.from_setting(setting)
        assert categories.category_of("BAK-GF-001") == "gluten-free"
        assert categories.category_of("BAK-G-001") == "bakery"
        assert categories.category_of("BREAD-7") == "bakery"
        assert categories.category_of("DAI-1") == "dairy"


def test_a_product_no_prefix_matches_is_uncategorised_even_when_shorter_than_every_prefix():
    categories = CategoryMap.from_setting(SETTING)
    assert categories.category_of("FRZ-001") == UNCATEGORISED == "uncategorised"
    assert categories.category_of("BA") == UNCATEGORISED
    assert categories.category_of("bak-001") == UNCATEGORISED, "prefixes are case-sensitive, as product ids"
    assert CategoryMap.from_setting({}).category_of("BAK-001") == UNCATEGORISED


def test_all_names_are_the_configured_categories_sorted_then_uncategorised():
    assert CategoryMap.from_setting(SETTING).all_names == ("bakery", "dairy", "gluten-free", "uncategorised")


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"": ["A"]}, "a category name must be a non-empty string, got ''"),
        ({"  ": ["A"]}, "a category name must be a non-empty string"),
        ({3: ["A"]}, "a category name must be a non-empty string, got 3"),
        ({"bakery": ["BAK-", 7]}, "bakery: prefix 7 is not a string"),
        ({"bakery": [None]}, "bakery: prefix None is not a string"),
        ({"bakery": "BAK-"}, "bakery: expected a list of prefixes, got 'BAK-'"),
        ({"bakery": [""]}, "bakery: an empty prefix would claim every product"),
        ({"bakery": ["BAK-"], "bread": ["BAK-"]}, "prefix 'BAK-' is claimed by both bakery and bread"),
        ({"uncategorised": ["X"]}, "'uncategorised' is reserved"),
        (["bakery"], "expected a mapping"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_category_or_prefix(setting, message):
    with pytest.raises(ValueError, match=r"^categories: ") as refused:
        CategoryMap.from_setting(setting)
    assert message in str(refused.value)


def test_a_prefix_repeated_within_one_category_is_the_same_claim():
    assert CategoryMap.from_setting({"bakery": ["BAK-", "BAK-"]}).category_of("BAK-1") == "bakery"
