"""Record validation: each malformed record kind is rejected naming the field; good ones become exact Transactions."""

from __future__ import annotations

import copy
import io
import json
from decimal import Decimal

import jsonschema
import pytest

from pipelines.uploads.format import schema
from pipelines.uploads.parse import DuplicateKeys, JsonNumber, NonFinite, Unparsable, parse_json
from pipelines.uploads.validate import Line, RecordRejected, money, validate

GOOD = {
    "storeId": "S001",
    "transactionId": "T-1",
    "timestamp": "2026-11-20T23:30:00-05:00",
    "currency": "EUR",
    "lines": [
        {"productId": "P1", "quantity": 3, "unitPrice": "2.50", "discount": Decimal("0.75")},
        {"productId": "P2", "quantity": -2, "unitPrice": Decimal("10"), "discount": "1"},
        {"productId": "P3", "quantity": 1, "unitPrice": 4},
    ],
}


def with_change(path: str, value=None, delete: bool = False) -> dict:
    record = copy.deepcopy(GOOD)
    *parents, last = path.replace("]", "").replace("[", ".").split(".")
    target = record
    for part in parents:
        target = target[int(part) if part.isdigit() else part]
    if delete:
        del target[last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return record


def reason(record) -> str:
    with pytest.raises(RecordRejected) as caught:
        validate(record)
    return caught.value.reason


def test_a_good_record_becomes_a_transaction_in_minor_units():
    txn = validate(GOOD)
    assert (txn.store_id, txn.transaction_id, txn.currency) == ("S001", "T-1", "EUR")
    # the date and hour written in the timestamp, not converted to UTC (that would be 2026-11-21 04h)
    assert (txn.business_date, txn.hour) == ("2026-11-20", 23)
    assert txn.lines == (
        Line("P1", 3, 250, 75, 675),
        Line("P2", -2, 1000, 100, -1900),  # a refund returns what was paid: -(2 × 10.00 − 1.00)
        Line("P3", 1, 400, 0, 400),
    )


def test_currency_defaults_to_usd():
    assert validate(with_change("currency", delete=True)).currency == "USD"


@pytest.mark.parametrize(
    ("value", "cents"),
    [
        (0, 0),
        (3, 300),
        ("3", 300),
        ("3.5", 350),
        ("3.49", 349),
        (Decimal("3.49"), 349),
        (Decimal("1.500"), 150),
        (JsonNumber("3.49"), 349),
        (JsonNumber("1.500"), 150),
        (JsonNumber("1e2"), 10000),
        (JsonNumber("0.5E1"), 500),
    ],
)
def test_money_is_exact_minor_units(value, cents):
    assert money(value, "x") == cents


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("3.499", "at most 2 decimals"),
        (Decimal("0.125"), "at most 2 decimals"),
        (JsonNumber("0.125"), "at most 2 decimals"),
        (JsonNumber("1e-3"), "at most 2 decimals"),
        (JsonNumber("-0.5"), "must not be negative"),
        (JsonNumber("1e400"), "at most 1,000,000"),
        (3.49, "not a binary float"),
        ("-1.00", "decimal string"),
        (Decimal("-1"), "must not be negative"),
        (-1, "must not be negative"),
        ("1e2", "decimal string"),
        (" 3.49", "decimal string"),
        ("03.49", "decimal string"),
        ("３", "decimal string"),
        (Decimal("1E+30"), "at most 1,000,000"),
        (1_000_001, "at most 1,000,000"),
        (True, "amount, not a boolean"),
        (None, "amount, not null"),
        ([1], "amount, not an array"),
        (NonFinite("NaN"), "amount, not NaN"),
    ],
)
def test_money_that_is_not_an_exact_amount_is_rejected(value, problem):
    with pytest.raises(RecordRejected, match=problem):
        money(value, "lines[0].unitPrice")


CASES = [
    # (description, record, expected reason prefix)
    ("not an object", [1, 2], "(record): must be a transaction object, not an array"),
    ("a string", "x", "(record): must be a transaction object"),
    ("NaN", NonFinite("NaN"), "(record): must be a transaction object, not NaN"),
    ("unparsable line", Unparsable("invalid JSON: x"), "(record): invalid JSON: x"),
    ("missing storeId", with_change("storeId", delete=True), "storeId: is required"),
    ("missing lines", with_change("lines", delete=True), "lines: is required"),
    ("missing timestamp", with_change("timestamp", delete=True), "timestamp: is required"),
    ("missing transactionId", with_change("transactionId", delete=True), "transactionId: is required"),
    ("unknown key", {**GOOD, "storeID": "S1"}, "storeID: unknown field (did you mean 'storeId'?)"),
    ("unknown line key", with_change("lines[1].price", 1), "lines[1].price: unknown field"),
    ("storeId number", with_change("storeId", 7), "storeId: must be a string, not the number 7"),
    ("storeId fraction", with_change("storeId", JsonNumber("1.5")), "storeId: must be a string, not the number 1.5"),
    ("timestamp fraction", with_change("timestamp", JsonNumber("1.5")), "timestamp: must be ISO-8601 with a zone like"),
    (
        "quantity number text",
        with_change("lines[2].quantity", JsonNumber("2.0")),
        "lines[2].quantity: must be a non-zero",
    ),
    ("storeId empty", with_change("storeId", ""), "storeId: must be 1–64"),
    ("storeId spaces", with_change("storeId", "S 1"), "storeId: must be 1–64"),
    ("storeId too long", with_change("storeId", "S" * 65), "storeId: must be 1–64"),
    ("transactionId space", with_change("transactionId", "T 1"), "transactionId: must be 1–128"),
    ("lone surrogate id", with_change("storeId", "S\ud800"), "storeId: contains a lone surrogate"),
    ("lone surrogate product", with_change("lines[0].productId", "P\udfff"), "lines[0].productId: contains a lone"),
    ("lone surrogate key", {**GOOD, "x\ud800": 1}, "x\\ud800: unknown field"),
    ("no zone", with_change("timestamp", "2026-11-20T10:00:00"), "timestamp: must be ISO-8601 with a zone"),
    ("date only", with_change("timestamp", "2026-11-20"), "timestamp: must be ISO-8601"),
    ("space separator", with_change("timestamp", "2026-11-20 10:00:00Z"), "timestamp: must be ISO-8601"),
    ("epoch", with_change("timestamp", 1763000000), "timestamp: must be ISO-8601 with a zone like"),
    ("impossible date", with_change("timestamp", "2026-02-30T10:00:00Z"), "timestamp: is not a real date"),
    ("impossible hour", with_change("timestamp", "2026-02-03T24:00:00Z"), "timestamp: is not a real date"),
    ("impossible offset", with_change("timestamp", "2026-02-03T10:00:00+24:00"), "timestamp: is not a real date"),
    ("currency unknown", with_change("currency", "XXX"), "currency: must be a supported ISO 4217 code"),
    ("currency lower", with_change("currency", "eur"), "currency: must be a supported"),
    ("currency 0 decimals", with_change("currency", "JPY"), "currency: must be a supported"),
    (
        "currency null",
        with_change("currency", None),
        "currency: must be a supported ISO 4217 code (USD, EUR, GBP …), not null",
    ),
    ("lines empty", with_change("lines", []), "lines: must be an array of 1 to 1,000 line items, not 0 lines"),
    (
        "lines object",
        with_change("lines", {"productId": "P"}),
        "lines: must be an array of 1 to 1,000 line items, not an object",
    ),
    ("too many lines", with_change("lines", [GOOD["lines"][2]] * 1001), "lines: must be an array of 1 to 1,000"),
    ("line not object", with_change("lines[2]", "P3"), "lines[2]: must be an object, not the string"),
    ("missing quantity", with_change("lines[2].quantity", delete=True), "lines[2].quantity: is required"),
    ("missing unitPrice", with_change("lines[0].unitPrice", delete=True), "lines[0].unitPrice: is required"),
    ("quantity zero", with_change("lines[2].quantity", 0), "lines[2].quantity: must be a non-zero integer"),
    ("quantity string", with_change("lines[2].quantity", "2"), "lines[2].quantity: must be a non-zero integer"),
    (
        "quantity fraction",
        with_change("lines[2].quantity", Decimal("1.5")),
        "lines[2].quantity: must be a non-zero integer",
    ),
    ("quantity 2.0", with_change("lines[2].quantity", Decimal("2.0")), "lines[2].quantity: must be a non-zero integer"),
    ("quantity bool", with_change("lines[2].quantity", True), "lines[2].quantity: must be a non-zero integer"),
    ("quantity huge", with_change("lines[2].quantity", 100_001), "lines[2].quantity: must be a non-zero integer"),
    ("price 3 decimals", with_change("lines[1].unitPrice", "1.999"), "lines[1].unitPrice: must be a decimal string"),
    ("price negative", with_change("lines[1].unitPrice", Decimal("-1")), "lines[1].unitPrice: must not be negative"),
    (
        "discount too big",
        with_change("lines[0].discount", "7.51"),
        "lines[0].discount: 7.51 is more than |quantity| × unitPrice (7.50)",
    ),
    ("discount negative", with_change("lines[0].discount", "-0.01"), "lines[0].discount: must be a decimal string"),
    ("refund discount too big", with_change("lines[1].discount", 21), "lines[1].discount: 21.00 is more than"),
    ("productId bad", with_change("lines[0].productId", "P 1"), "lines[0].productId: must be 1–64"),
    ("duplicate key", DuplicateKeys(GOOD), "x: appears more than once"),
]


@pytest.mark.parametrize(("record", "expected"), [(r, e) for _, r, e in CASES], ids=[d for d, _, _ in CASES])
def test_each_malformed_record_kind_is_rejected_naming_the_field(record, expected):
    if isinstance(record, DuplicateKeys):
        record.duplicates = ("x",)
    assert reason(record).startswith(expected)


def test_a_duplicate_key_inside_a_line_is_named_by_its_path():
    [(_, record)] = parse_json(
        io.BytesIO(b'{"transactions": [' + json.dumps(GOOD, default=str).encode()[:-3] + b', "quantity": 2}]}]}')
    )
    assert reason(record) == "lines[2].quantity: appears more than once in the object"


def test_an_amount_accepted_as_a_number_is_not_thereby_accepted_as_a_string():
    number = with_change("lines[2].unitPrice", JsonNumber("4.500"))
    assert validate(number).lines[2].unit_price == 450
    assert validate(number).lines[2].unit_price == 450  # again: validate keeps no memo (fast does: test_fast)
    assert reason(with_change("lines[2].unitPrice", "4.500")).startswith("lines[2].unitPrice: must be a decimal string")
    assert validate(with_change("lines[2].unitPrice", JsonNumber("4.5"))).lines[2].unit_price == 450
    assert validate(with_change("lines[2].unitPrice", "4.5")).lines[2].unit_price == 450


def test_a_discount_over_the_gross_and_quantities_out_of_range_are_rejected():
    validate(GOOD)
    assert reason(with_change("lines[0].discount", "7.51")).startswith("lines[0].discount: 7.51 is more than")
    assert reason(with_change("lines[1].discount", "20.01")).startswith("lines[1].discount: 20.01 is more than")
    assert validate(with_change("lines[1].discount", "20")).lines[1].net == 0
    assert reason(with_change("lines[0].quantity", 100_001)).startswith("lines[0].quantity")
    assert reason(with_change("lines[0].quantity", True)).startswith("lines[0].quantity")


def test_the_first_failing_line_is_the_one_named():
    record = with_change("lines[1].quantity", 0)
    record["lines"][2]["quantity"] = 0
    assert reason(record).startswith("lines[1].quantity")


def test_a_message_quotes_only_a_prefix_of_a_huge_value():
    text = reason(with_change("storeId", "x" * 100_000 + " "))
    assert len(text) < 200 and "100,001 characters" in text


def as_json(value):
    """The record as plain JSON (Decimals written as decimal strings)."""
    return json.loads(json.dumps(value, default=str))


def test_the_json_schema_is_valid_and_agrees_on_good_and_bad_records():
    jsonschema.Draft202012Validator.check_schema(schema())
    validator = jsonschema.Draft202012Validator(schema())
    good = {"transactions": [as_json(GOOD)]}
    assert not list(validator.iter_errors(good))
    for _, record, _ in CASES[4:]:
        if (
            isinstance(record, dict)
            and not isinstance(record, DuplicateKeys)
            and "\\ud800" not in json.dumps(record, default=str)
        ):
            doc = {"transactions": [as_json(record)]}
            # discount vs gross, and a real calendar date, are beyond JSON Schema: the validator alone checks them
            if "discount" in str(record) and not list(validator.iter_errors(doc)):
                continue
            if str(record.get("timestamp")).startswith(("2026-02-30", "2026-02-03")):
                continue
            assert list(validator.iter_errors(doc)), record
