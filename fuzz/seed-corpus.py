#!/usr/bin/env python3
"""Writes the starting corpora of the fuzz targets from the repository's fixtures.

    python3 fuzz/seed-corpus.py      # adds seed-* files to fuzz/corpus/<target>/

Only needed to rebuild the corpora from scratch: the committed corpora already hold these
seeds' descendants (minimised with `cargo fuzz cmin`). Inputs are named by content hash, so
running it twice changes nothing.
"""
import hashlib
import pathlib

FUZZ = pathlib.Path(__file__).resolve().parent
FIXTURES = FUZZ.parent / "fixtures"
MAX = 16 * 1024  # bigger fixtures slow every execution down; the fuzzer grows inputs itself


def unescape(text: bytes) -> bytes:
    """Decodes a hostile fixture's `*.in` file (see fixtures/hostile/README.md)."""
    out, i = bytearray(), 0
    simple = {ord("r"): b"\r", ord("n"): b"\n", ord("t"): b"\t", ord("0"): b"\0", ord("\\"): b"\\"}
    while i < len(text):
        if text[i] != ord("\\"):
            out.append(text[i])
            i += 1
            continue
        nxt = text[i + 1]
        if nxt in simple:
            out += simple[nxt]
            i += 2
        elif nxt == ord("x"):
            out.append(int(text[i + 2 : i + 4], 16))
            i += 4
        else:
            raise ValueError(f"unknown escape \\{chr(nxt)}")
    return bytes(out)


def read(path: pathlib.Path) -> bytes:
    data = path.read_bytes()
    return unescape(data) if path.suffix == ".in" else data


def add(target: str, data: bytes, limit: int | None = MAX) -> None:
    if limit is not None and len(data) > limit:
        return
    folder = FUZZ / "corpus" / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ("seed-" + hashlib.sha1(data).hexdigest())).write_bytes(data)


def main() -> None:
    # csv_records: mode byte 0x01 = whole file (header included), 0x00 = records after the
    # target's fixed header; 0x02 adds a full (not dry) run, bits 2-4 the batch capacity.
    demo = (FIXTURES / "demo" / "devices.csv").read_bytes().split(b"\n")
    add("csv_records", b"\x01" + b"\n".join(demo[:40]) + b"\n")
    add("csv_records", b"\x03" + b"\n".join(demo[:40]) + b"\n")
    add("csv_records", b"\x00" + b"\n".join(demo[1:30]) + b"\n")
    add("csv_records", b"\x0e" + b"\n".join(demo[30:60]) + b"\n")
    pascal = FIXTURES / "demo" / "more" / "devices-pascal.csv"
    if pascal.exists():
        add("csv_records", b"\x01" + b"\n".join(pascal.read_bytes().split(b"\n")[:30]) + b"\n")
    for case in sorted((FIXTURES / "hostile").iterdir()):
        for name in ("devices.csv", "devices.csv.in"):
            if (case / name).is_file():
                add("csv_records", b"\x01" + read(case / name))

    # parquet_reader: mode byte = batch capacity - 1 (mod 64); 0x3f = 64 (capacity 3 or 4 hits
    # regressions/parquet_reader/null-dictionary-column on devices.pyarrow-dict-snappy.parquet).
    # The real files are the only valid Parquet the fuzzer starts from: seeded whatever size.
    for path in sorted((FIXTURES / "parquet").glob("*.parquet")):
        add("parquet_reader", b"\x3f" + path.read_bytes(), limit=None)

    # plan_parser: the plan bytes as they are.
    add("plan_parser", (FIXTURES / "demo" / "plan.toml").read_bytes())
    for case in sorted((FIXTURES / "hostile").iterdir()):
        for name in ("plan.toml", "plan.toml.in"):
            if (case / name).is_file():
                add("plan_parser", read(case / name))


if __name__ == "__main__":
    main()
