"""The fast path (``fast``) against the reference (``validate`` + ``Aggregator.add``) on generated files.

``run(parse(...))`` takes the fast path; ``run(list(parse(...)))`` hands the same exact records to
the reference. On files full of injected bad records, in JSON and NDJSON, in small and large chunks,
with the memos empty or warm, both must give identical summaries, counts and rejections.
"""

from __future__ import annotations

import io
import itertools
import json
import random
from typing import Any

import pytest

from pipelines.uploads import fast, generate
from pipelines.uploads.aggregate import run
from pipelines.uploads.errors import MalformedUploadError
from pipelines.uploads.generate import transactions
from pipelines.uploads.parse import DuplicateKeys, exact, parse

DROP = object()  # as a value in a mutation: delete the key


def _set(target: dict, **fields: Any) -> None:
    for key, value in fields.items():
        if value is DROP:
            target.pop(key, None)
        else:
            target[key] = value


def _line(txn: dict, rng: random.Random, **fields: Any) -> None:
    """Change one line (any: a bad line after good ones makes the fast path take those back out)."""
    _set(rng.choice(txn["lines"]), **fields)


# Each takes a good transaction (a dict) and a Random, and bends or breaks one rule in it.
NOT_LINES = ("P1", 3, None, [], ["productId"])
DICT_MUTATIONS = {
    "product_as_number": lambda t, r: _line(t, r, productId=1.5),  # "1.5" is a known id (see KNOWN)
    "product_as_int": lambda t, r: _line(t, r, productId=7),
    "price_true": lambda t, r: _line(t, r, unitPrice=True),  # 1 is a known amount
    "price_false": lambda t, r: _line(t, r, unitPrice=False),
    "discount_true": lambda t, r: _line(t, r, discount=True),
    "discount_false": lambda t, r: _line(t, r, discount=False),  # 0 is a known amount
    "discount_null": lambda t, r: _line(t, r, discount=None),
    "discount_equal_gross": lambda t, r: _line(t, r, quantity=2, unitPrice="1.00", discount="2.00"),
    "discount_over_gross": lambda t, r: _line(t, r, quantity=r.choice((2, -2)), unitPrice="1.00", discount="2.01"),
    "quantity_limit": lambda t, r: _line(t, r, quantity=r.choice((100_000, -100_000))),
    "quantity_over": lambda t, r: _line(t, r, quantity=r.choice((100_001, -100_001, 0))),
    "quantity_not_int": lambda t, r: _line(t, r, quantity=r.choice(("1", [1], {"n": 1}, 2.0, None))),
    "price_max": lambda t, r: _line(t, r, unitPrice=r.choice((1_000_000, "1000000.00", "1000000.01"))),
    "price_odd_text": lambda t, r: _line(t, r, unitPrice=r.choice(("4.500", "1e2", "04.50", " 4.50", "4.5", "4."))),
    "price_list": lambda t, r: _line(t, r, unitPrice=[1]),
    "line_extra_key": lambda t, r: _line(t, r, note="x"),
    "line_four_keys_no_discount": lambda t, r: _line(t, r, note="x", discount=DROP),
    "line_missing_price": lambda t, r: _line(t, r, unitPrice=DROP),
    "line_not_object": lambda t, r: t["lines"].insert(
        r.randrange(len(t["lines"]) + 1), r.choice(("P1", 3, None, [], ["productId"]))
    ),
    "extra_key": lambda t, r: _set(t, extra=1),
    "five_keys_no_currency": lambda t, r: _set(t, currency=DROP, note=1),
    "six_keys": lambda t, r: _set(t, currency="USD", note=1),
    "four_keys_no_lines": lambda t, r: _set(t, currency="USD", lines=DROP),
    "currency_odd": lambda t, r: _set(t, currency=r.choice(("usd", "JPY", None, 840, "EUR"))),
    "store_odd": lambda t, r: _set(t, storeId=r.choice(("S 1", "S" * 65, 12, 1.5, "S:1", "S/1", "Sé", "S002"))),
    "transaction_odd": lambda t, r: _set(t, transactionId=r.choice(("T 1", "", "T" * 129, "T:1:2", 5, "T~"))),
    "timestamp_odd": lambda t, r: _set(
        t,
        timestamp=r.choice(
            (
                "2026-11-20T10:00Z",
                "2026-11-20T10:00:00.123456+01:00",
                "2026-02-30T10:00:00Z",
                "2026-11-20T24:00:00Z",
                "2026-11-20T10:00:00+24:00",
                "2026-11-20T10:00:00",
                20261120,
            )
        ),
    ),
    "non_finite": lambda t, r: _line(t, r, unitPrice=float(r.choice(("nan", "inf", "-inf")))),
}
NOT_OBJECTS = ([1, 2], "txn", 3.5, None, True, {})


def _duplicate_key(text: str, rng: random.Random) -> str:
    key = rng.choice(('"storeId": ', '"quantity": ', '"unitPrice": ', '"lines": ', '"timestamp": '))
    return text.replace(key, key + '"x", ' + key, 1) if key in text else text


TEXT_MUTATIONS = {
    "duplicate_key": _duplicate_key,
    # the transactionId's ':' hide nothing: still told apart from a repeated key
    "duplicate_key_colon_id": lambda s, r: _duplicate_key(
        s.replace('"transactionId": "T', '"transactionId": "T:', 1), r
    ),
    # an escaped ':' in a string and a repeated key: the count would agree, a backslash sends it the slow way
    "duplicate_key_escaped_colon": lambda s, r: s.replace(
        '"transactionId": "T', '"transactionId": "T\\u003a', 1
    ).replace('"storeId": ', '"storeId": "S1", "storeId": ', 1),
    "escaped_product": lambda s, r: s.replace('"productId": "P', '"productId": "\\u0050', 1),  # still valid
    "escaped_key": lambda s, r: s.replace('"quantity"', '"quantit\\u0079"', 1),  # still valid
    "lone_surrogate": lambda s, r: s.replace('"productId": "P', '"productId": "\\ud800', 1),
    "nan_quantity": lambda s, r: s.replace('"quantity": ', '"quantity": NaN, "q": ', 1),
}
# Good records first seen in a file: they make "1.5" a known product and 1, 0 known amounts.
# Good records first in a file, as JSON text: "1.5" becomes a known product and store; 1 and 0 known amounts
# (a boolean must not pass for them); 4.500 and 1e2 known JSON numbers (the strings "4.500" and
# "1e2" must still be rejected); "1.00" and "2.01" known, so a discount over the gross is judged
# on the fast path.
KNOWN = [
    '{"storeId": "S001", "transactionId": "K1", "timestamp": "2026-11-20T09:00:00Z", "lines": ['
    '{"productId": "1.5", "quantity": 1, "unitPrice": 1, "discount": 0}, '
    '{"productId": "P00001", "quantity": 30, "unitPrice": 4.500, "discount": 1e2}, '
    '{"productId": "P00002", "quantity": 3, "unitPrice": "1.00", "discount": "2.01"}]}',
    '{"storeId": "1.5", "transactionId": "K2", "timestamp": "2026-11-20T09:00:00Z", "lines": ['
    '{"productId": "P00001", "quantity": 1, "unitPrice": 1}]}',
]


def make_upload(seed: int, ndjson: bool, bad: float = 0.3, lines: int = 1500) -> bytes:
    """A generated upload (with ``generate``'s own corruptions) and, in a share ``bad`` of records, one more."""
    rng = random.Random(seed)
    texts = list(KNOWN)
    mutations = [*DICT_MUTATIONS, *TEXT_MUTATIONS, "not_an_object"]
    for txn, kind in transactions(stores=3, days=2, lines=lines, seed=seed, bad_ratio=0.05):
        name = rng.choice(mutations) if kind is None and rng.random() < bad else None
        if name in DICT_MUTATIONS:
            DICT_MUTATIONS[name](txn, rng)
        elif name == "not_an_object":
            txn = rng.choice(NOT_OBJECTS)
        # a lone surrogate only travels escaped (raw, it is not UTF-8 and the whole JSON file would be)
        text = json.dumps(txn, ensure_ascii=kind == "lone_surrogate" or rng.random() < 0.5)
        texts.append(TEXT_MUTATIONS[name](text, rng) if name in TEXT_MUTATIONS else text)
    if ndjson:
        for _ in range(len(texts) // 20):  # blank, broken and CRLF-ended lines
            at = rng.randrange(len(KNOWN), len(texts))
            texts.insert(at, rng.choice(("", "  ", "{oops", '{"a": 1} 2', "[1,", "\r", texts[at] + "\r")))
        return "\n".join(texts).encode() + b"\n"
    return ('{"transactions": [\n' + ",\n".join(texts) + "\n]}").encode()


def outcome_of(body: bytes, key: str, reference: bool, chunk: int) -> dict[str, Any]:
    """Everything ``run`` tells, summaries in their order, and the ``on_reject`` calls."""
    reported: list[tuple[Any, str]] = []
    records = parse(io.BytesIO(body), key, chunk)
    got = run(list(records) if reference else records, keep=50, on_reject=lambda p, r: reported.append((p, r)))
    return {
        "counts": (got.records, got.lines, got.rejected),
        "rejects": got.rejects,
        "reported": reported,
        "summaries": [(key, day.to_dict(), list(day.products.items())) for key, day in got.summaries.items()],
    }


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("ndjson", [False, True])
def test_the_fast_path_and_the_reference_agree_on_files_with_bad_records(seed, ndjson):
    body = make_upload(seed, ndjson)
    key = "u.ndjson" if ndjson else "u.json"
    chunk = (97, 4096, 1 << 16)[seed % 3]
    fast.forget()
    cold = outcome_of(body, key, reference=False, chunk=chunk)
    warm = outcome_of(body, key, reference=False, chunk=chunk)  # memos full of the file's values
    expected = outcome_of(body, key, reference=True, chunk=chunk)
    assert cold == expected
    assert warm == expected
    assert expected["counts"][2] > 20 and len(expected["summaries"]) == 7
    first = len(KNOWN) + (1 if ndjson else 0)  # the position after the KNOWN records (NDJSON counts from 1)
    assert all(p >= first for p, _ in expected["rejects"]), "the KNOWN records are accepted (their values are known)"


def test_the_fast_path_folds_most_good_records_itself(monkeypatch):
    body = make_upload(1, ndjson=False, bad=0.0, lines=3000)
    fast.forget()
    run(parse(io.BytesIO(body), "u.json"))  # learns the file's products and prices
    checked: list[Any] = []
    real = fast.validate
    monkeypatch.setattr(fast, "validate", lambda record: checked.append(record) or real(record))
    outcome = run(parse(io.BytesIO(body), "u.json"))
    assert outcome.records > 500 and len(checked) == outcome.rejected  # only the bad ones went the slow way


@pytest.mark.parametrize("chunk", [97, 1 << 16])
def test_an_indented_whitespace_heavy_document_takes_the_fast_path_to_the_same_outcome(chunk, monkeypatch):
    compact, indented = io.BytesIO(), io.BytesIO()
    generate.write(compact, 3, 2, 3000, seed=5, bad_ratio=0.02)
    generate.write(indented, 3, 2, 3000, seed=5, bad_ratio=0.02, indent=2)
    # Every kind of JSON whitespace between every two tokens, records far longer than a small chunk.
    heavy = indented.getvalue().replace(b"\n", b" \r\n\t\t\t ")
    assert len(indented.getvalue()) > 1.5 * len(compact.getvalue()) and len(heavy) > 2 * len(compact.getvalue())
    expected = outcome_of(compact.getvalue(), "u.json", reference=True, chunk=chunk)
    assert expected["counts"][2] > 5
    checked: list[Any] = []
    real = fast.validate
    monkeypatch.setattr(fast, "validate", lambda record: checked.append(record) or real(record))
    for body in (indented.getvalue(), heavy):
        fast.forget()
        checked.clear()
        assert outcome_of(body, "u.json", reference=False, chunk=chunk) == expected
        assert len(checked) == expected["counts"][2]  # only the rejected records left the fast path


def test_the_generators_indented_document_is_the_compact_one_pretty_printed():
    compact, indented = io.BytesIO(), io.BytesIO()
    plain = generate.write(compact, 2, 2, 400, seed=6, bad_ratio=0.05)
    pretty = generate.write(indented, 2, 2, 400, seed=6, bad_ratio=0.05, indent=2)
    assert pretty == plain and plain.bad
    document = json.loads(compact.getvalue().decode("utf-8", "surrogatepass"))
    assert indented.getvalue() == json.dumps(document, indent=2).encode() + b"\n"
    with pytest.raises(ValueError, match="NDJSON"):
        generate.write(io.BytesIO(), 1, 1, 10, ndjson=True, indent=2)


RECORD = {"storeId": "S1", "transactionId": "T1", "timestamp": "2026-11-20T10:00:00Z", "lines": []}
_IDS = itertools.count()


def rejects_of(*records: dict | str) -> list[tuple[int, str]]:
    """The rejections of a JSON upload of ``records`` (dicts, or their JSON text), by the fast path."""
    texts = [r if isinstance(r, str) else json.dumps(r) for r in records]
    body = ('{"transactions": [' + ", ".join(texts) + "]}").encode()
    return run(parse(io.BytesIO(body), "u.json")).rejects


def line(**fields: Any) -> dict:
    """A one-line transaction with a new transactionId."""
    return {**RECORD, "transactionId": f"T{next(_IDS)}", "lines": [{"quantity": 1, "unitPrice": 1, **fields}]}


def test_a_json_number_is_not_a_known_product_id():
    # The old memo took 1.5 for the known id "1.5" (a JsonNumber equals the str of its text).
    assert rejects_of(line(productId="1.5"), line(productId=1.5)) == [
        (1, "lines[0].productId: must be a string, not the number 1.5")
    ]


def test_a_boolean_is_not_a_known_amount():
    known = line(productId="P", discount=0)
    got = rejects_of(known, line(productId="P", unitPrice=True), line(productId="P", discount=False))
    assert [(p, r.split(":")[0]) for p, r in got] == [(1, "lines[0].unitPrice"), (2, "lines[0].discount")]


def test_a_repeated_key_is_found_whatever_colons_the_strings_hold():
    good = line(productId="P")
    text = json.dumps({**good, "transactionId": "T:1:2"}).replace('"storeId": ', '"storeId": "S1", "storeId": ')
    escaped = json.dumps({**good, "transactionId": "T2"}).replace('"T2"', '"T\\u003a2"')
    escaped = escaped.replace('"storeId": ', '"storeId": "S1", "storeId": ')
    assert rejects_of(good, text, escaped) == [
        (1, "storeId: appears more than once in the object"),
        (2, "storeId: appears more than once in the object"),
    ]


@pytest.mark.parametrize("chunk", [7, 1 << 16])
def test_spans_are_the_records_with_their_source_text(chunk):
    body = make_upload(3, ndjson=False, lines=300)
    exact_records = list(parse(io.BytesIO(body), "u.json", chunk))
    spans = list(parse(io.BytesIO(body), "u.json", chunk).spans())
    assert [s[0] for s in spans] == [p for p, _ in exact_records]
    for (_, record, text, start, end), (_, expected) in zip(spans, exact_records, strict=True):
        assert exact(text, start) == expected and type(exact(text, start)) is type(expected)
        assert exact(text[start:end], 0) == expected  # the span is the whole record
        assert record == expected  # a repeated key only loses its marker
        assert isinstance(expected, DuplicateKeys) or type(record) is type(expected)


def test_the_line_count_limit_holds_on_the_fast_path():
    item = {"productId": "P", "quantity": 1, "unitPrice": 1}
    at_limit, over = ({**RECORD, "transactionId": f"L{n}", "lines": [item] * n} for n in (1000, 1001))
    assert rejects_of(at_limit, over, at_limit) == [
        (1, "lines: must be an array of 1 to 1,000 line items, not 1,001 lines"),
        (2, "transactionId: duplicate of the transaction at position 0"),
    ]


def test_a_syntax_error_stops_both_paths_at_the_same_byte():
    body = make_upload(4, ndjson=False, lines=2000)
    cut = body.index(b",\n", len(body) // 2) + 2  # between two transactions
    broken = body[:cut] + b"{oops}, " + body[cut:]
    with pytest.raises(MalformedUploadError) as fast_way:
        run(parse(io.BytesIO(broken), "u.json", 4096))
    with pytest.raises(MalformedUploadError) as reference:
        list(parse(io.BytesIO(broken), "u.json", 4096))
    assert str(fast_way.value) == str(reference.value) and fast_way.value.byte == reference.value.byte
