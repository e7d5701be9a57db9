"""Every schema example, judged twice: by schemas/reading.schema.json through
Debian's python3-jsonschema (an independent validator) and by the C decoder
(pt_codec_decode, through tests/fuzz/validate_cli.c). The two must agree on
every file: examples/valid/* valid, examples/invalid/* invalid. The
JSONTestSuite corpus must be invalid for both: none of it is a reading.

schemas/summary.schema.json (the sensor's summary stream) has its own
examples in schemas/summary-examples/{valid,invalid}, judged by the same
Python validator; the C side of the summary is its encoder, whose output
tests/integration/test_ha.py validates against the schema.

Run with /usr/bin/python3 -m pytest (Debian's jsonschema), e.g. through
`make integration`, which sets PITEMP_BUILD.
"""

import json
import math
import os
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from jsonschema import _validators, validators

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "reading.schema.json"
EXAMPLES = ROOT / "schemas" / "examples"
SUMMARY_SCHEMA = ROOT / "schemas" / "summary.schema.json"
SUMMARY_EXAMPLES = ROOT / "schemas" / "summary-examples"
SUMMARY_FIELDS = ("device", "boot", "start", "end", "n", "mean", "min", "max")
JSON_TEST_SUITE = ROOT / "tests" / "corpora" / "JSONTestSuite" / "test_parsing"
BUILD = Path(os.environ.get("PITEMP_BUILD", ROOT / "build"))
PAYLOAD_MAX = 1024
FIELDS = ("device", "boot", "seq", "ts", "temp_c", "mv", "raw")
# The decoder's own sources, for when libpitemp.a is not built yet.
DECODER_SRC = ("lib/codec.c", "lib/validate.c", "lib/utf8.c", "lib/time.c",
               "lib/fmt.c")


def decimal_multiple_of(validator, d_b, instance, schema):
    """multipleOf for a divisor 10**-n, judged exactly.

    jsonschema 4.10 tests floats with int(x / 0.01) == x / 0.01, which
    refuses 0.07 and 23 because 0.07 / 0.01 is 7.000000000000001. For
    10**-n the rule means "at most n decimals": x is the double nearest a
    decimal with n places, i.e. formatting it with n places reads back as
    x. This is Python's own formatting, not the C code's; any other divisor
    keeps jsonschema's behaviour.
    """
    if validator.is_type(instance, "number") and isinstance(d_b, float):
        places = -Decimal(repr(d_b)).as_tuple().exponent
        if places > 0 and Decimal(repr(d_b)) == Decimal(1).scaleb(-places):
            try:
                ok = (math.isfinite(instance)
                      and float(f"{instance:.{places}f}") == instance)
            except OverflowError:
                ok = False
            if not ok:
                yield ValidationError(f"{instance!r} has more than {places} decimals")
            return
    yield from _validators.multipleOf(validator, d_b, instance, schema)


def ecma_pattern(validator, pattern, instance, schema):
    """pattern with ECMA-262's "$": the end of the string.

    Python's "$" also matches before a final newline, so jsonschema 4.10
    takes "pi\\n" for a device name. Our patterns end in "$" and use no
    other construct whose meaning differs between the two dialects.
    """
    if not validator.is_type(instance, "string"):
        return
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    if not re.search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


Validator = validators.extend(
    Draft202012Validator,
    {"multipleOf": decimal_multiple_of, "pattern": ecma_pattern},
)


def load_schema(path=SCHEMA):
    schema = json.loads(path.read_text())
    Draft202012Validator.check_schema(schema)
    return schema


# FormatChecker checks "date-time" only when rfc3339-validator is installed
# (Debian 12 has none); the ts pattern carries the rule either way.
VALIDATOR = Validator(load_schema(), format_checker=FormatChecker())
SUMMARY_VALIDATOR = Validator(load_schema(SUMMARY_SCHEMA),
                              format_checker=FormatChecker())


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise ValueError(f"duplicate member {sorted(dup)[0]!r}")
    return dict(pairs)


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def _bad_string(s):
    return "\0" in s or any(0xD800 <= ord(c) <= 0xDFFF for c in s)


def _walk_strings(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for k, x in v.items():
            yield k
            yield from _walk_strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from _walk_strings(x)


def python_verdict(data, validator=VALIDATOR):
    """None if valid, else a reason. The rules around the schema are the
    ones its description lists: size, UTF-8, one object, no duplicates,
    no NUL or lone surrogate in a string."""
    if len(data) > PAYLOAD_MAX:
        return f"over {PAYLOAD_MAX} bytes"
    try:
        text = data.decode("utf-8")  # strict: no surrogates, no overlongs
        doc = json.loads(text, object_pairs_hook=_no_duplicates,
                         parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as e:
        return f"not JSON: {e}"
    if any(_bad_string(s) for s in _walk_strings(doc)):
        return "NUL or lone surrogate in a string"
    err = next(iter(validator.iter_errors(doc)), None)
    return None if err is None else err.message


def _compile(out, inputs):
    cflags = subprocess.run(["pkg-config", "--cflags", "libcjson"],
                            capture_output=True, text=True).stdout.split()
    cmd = (["cc", "-std=c11", "-D_GNU_SOURCE", "-I", str(ROOT / "lib")]
           + (cflags or ["-I/usr/include/cjson"])
           + [str(ROOT / "tests" / "fuzz" / "validate_cli.c")]
           + [str(i) for i in inputs] + ["-lcjson", "-lm", "-o", str(out)])
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def validate_cli():
    BUILD.mkdir(parents=True, exist_ok=True)
    out = BUILD / "validate_cli"
    archive = BUILD / "lib" / "libpitemp.a"
    # The archive `make` built, unless a decoder source is newer (pytest run
    # by hand after an edit): then the sources themselves.
    newest = max((ROOT / f).stat().st_mtime for f in DECODER_SRC
                 + tuple(str(h.relative_to(ROOT))
                         for h in (ROOT / "lib").glob("pt_*.h")))
    res = None
    if archive.exists() and archive.stat().st_mtime >= newest:
        res = _compile(out, [archive])
    if res is None or res.returncode != 0:
        res = _compile(out, [ROOT / s for s in DECODER_SRC])
    assert res.returncode == 0, res.stderr
    return out


def c_verdicts(cli, paths):
    """{path: None if valid else reason}, one process for all files."""
    res = subprocess.run([str(cli)] + [str(p) for p in paths],
                         capture_output=True, timeout=60)
    assert res.returncode in (0, 1), res.stderr.decode(errors="replace")
    lines = res.stdout.decode("utf-8").splitlines()
    assert len(lines) == len(paths), res.stdout
    verdicts = {}
    for p, line in zip(paths, lines):
        if line == "valid":
            verdicts[p] = None
        else:
            assert line.startswith("invalid: ") and len(line) > 9, line
            verdicts[p] = line[len("invalid: "):]
    return verdicts


def examples(kind, base=EXAMPLES):
    return sorted((base / kind).glob("*.json"))


def test_schema_is_valid_draft_2020_12():
    assert load_schema()["$schema"].endswith("/2020-12/schema")


def test_every_payload_rule_has_invalid_examples():
    names = {p.stem for p in examples("invalid")}
    for f in FIELDS[:5]:
        assert f"{f}-missing" in names
    for f in FIELDS:
        assert any(n.startswith(f + "-") and not n.endswith("-missing")
                   for n in names), f
    for rule in ("extra-field", "duplicate-field", "payload-over-1024-bytes",
                 "utf8-invalid-byte", "trailing-garbage",
                 "not-an-object-array"):
        assert rule in names


def test_valid_examples_are_valid_for_both(validate_cli):
    paths = examples("valid")
    assert paths
    c = c_verdicts(validate_cli, paths)
    for p in paths:
        assert python_verdict(p.read_bytes()) is None, p.name
        assert c[p] is None, f"{p.name}: C says {c[p]}"


def test_invalid_examples_are_invalid_for_both(validate_cli):
    paths = examples("invalid")
    assert paths
    c = c_verdicts(validate_cli, paths)
    for p in paths:
        assert python_verdict(p.read_bytes()) is not None, p.name
        assert c[p] is not None, f"{p.name}: C says valid"


def test_c_reasons_name_the_field(validate_cli):
    paths = [p for p in examples("invalid")
             if p.stem.split("-")[0] in FIELDS]
    c = c_verdicts(validate_cli, paths)
    for p in paths:
        field = p.stem.split("-")[0]
        assert field in c[p], f"{p.name}: {c[p]}"
        assert "\n" not in c[p]


def test_json_test_suite_is_never_a_reading(validate_cli):
    paths = sorted(JSON_TEST_SUITE.glob("*.json"))
    assert len(paths) > 100
    c = c_verdicts(validate_cli, paths)
    for p in paths:
        assert python_verdict(p.read_bytes()) is not None, p.name
        assert c[p] is not None, f"{p.name}: C says valid"


def test_python_multiple_of_is_exact():
    # The workaround must neither accept three decimals nor refuse two.
    for ok in (22.53, 0.07, 0.29, 0.57, 23, -12.57, 125, -40, -0.0):
        assert not list(decimal_multiple_of(VALIDATOR, 0.01, ok, {})), ok
    for bad in (22.531, 0.001, 1e-9, math.inf, 10 ** 400):
        assert list(decimal_multiple_of(VALIDATOR, 0.01, bad, {})), bad


TOKENS = [b"0", b"1", b"9", b"-", b".", b"e", b"E", b"+", b'"', b"\\", b",",
          b":", b"{", b"}", b"[", b"]", b" ", b"\n", b"\t", b"\x00", b"\x01",
          b"\x7f", b"\xff", b"\xc3\xa9", b"\xed\xa0\x80", b"\xef\xbb\xbf",
          b"\\u0000", b"\\u00zz", b"\\ud800", b"\\udc00", b"\\ud83d\\ude00",
          b"\\u0065", b"\\n", b"true", b"null", b"NaN", b"1e400", b"-0",
          b".0", b"0.001", b"9007199254740992", b"65536", b"3300.1",
          b'"seq":1,', b'"x":1,', b"T", b"Z", b"z", b"02-29", b"13", b"24"]


def mutate(rng, data):
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(data) + 1)
        op = rng.randrange(4)
        if op == 0:
            data = data[:i] + rng.choice(TOKENS) + data[i:]
        elif op == 1:
            data = data[:i] + rng.choice(TOKENS) + data[i + 1:]
        elif op == 2:
            data = data[:i] + data[i + rng.randint(1, 4):]
        else:
            j = rng.randrange(len(data) + 1)
            data = data[:i] + data[min(i, j):max(i, j)] + data[i:]
    return data


def test_both_agree_on_seeded_mutations_of_the_valid_examples(
        validate_cli, tmp_path):
    # A bounded differential check: a fixed seed, so a failure reproduces.
    import random
    rng = random.Random(20261124)
    seeds = [p.read_bytes() for p in examples("valid")]
    paths = []
    for n in range(3000):
        p = tmp_path / f"m{n:05d}.json"
        p.write_bytes(mutate(rng, rng.choice(seeds)))
        paths.append(p)
    c = c_verdicts(validate_cli, paths)
    for p in paths:
        py = python_verdict(p.read_bytes())
        assert (c[p] is None) == (py is None), \
            f"{p.read_bytes()!r}: C says {c[p]}, Python says {py}"


# --------------------------------------------------------------------------
# The summary stream's schema (sensor --summary-period)

def test_summary_schema_is_valid_draft_2020_12():
    assert load_schema(SUMMARY_SCHEMA)["$schema"].endswith("/2020-12/schema")


def test_every_summary_field_has_invalid_examples():
    names = {p.stem for p in examples("invalid", SUMMARY_EXAMPLES)}
    for f in SUMMARY_FIELDS:
        assert f"{f}-missing" in names, f
        assert any(n.startswith(f + "-") and not n.endswith("-missing")
                   for n in names), f
    for rule in ("extra-field", "duplicate-field", "not-an-object-array",
                 "a-reading"):
        assert rule in names


def test_summary_valid_examples_are_valid():
    paths = examples("valid", SUMMARY_EXAMPLES)
    assert paths
    for p in paths:
        assert python_verdict(p.read_bytes(), SUMMARY_VALIDATOR) is None, p.name


def test_summary_invalid_examples_are_invalid():
    paths = examples("invalid", SUMMARY_EXAMPLES)
    assert paths
    for p in paths:
        assert python_verdict(p.read_bytes(), SUMMARY_VALIDATOR) is not None, \
            p.name


def test_a_summary_is_never_a_reading_nor_the_other_way_round():
    for p in examples("valid", SUMMARY_EXAMPLES):
        assert python_verdict(p.read_bytes()) is not None, p.name
    for p in examples("valid"):
        assert python_verdict(p.read_bytes(), SUMMARY_VALIDATOR) is not None, \
            p.name
