"""Which encoding detector reads legacy text files right: charset-normalizer (as is, and with the tie-breaking rag
used before: a "common" encoding wins among near-equal candidates) against chardet 7, on real files.

Usage: python benchmarks/decoders.py [--folder ../shared/realdocs-dev/corpus/text] [--truth FILE]
       python benchmarks/decoders.py --by-folder chardet-5.2.0/tests

A file counts as right when the detected codec decodes it to the same text as its true codec. The true codecs of
the dev set's files are read from their names (``cp1250-polish.txt``, ``koi8-r-aif.ru.health.xml``) or from a
``--truth`` JSON object ``{"file name": "codec"}``. ``--by-folder`` reads a corpus laid out as chardet's test data
is (``pip download --no-binary :all: --no-deps chardet==5.2.0``: 425 real files under folders named by their
encoding, ``windows-1250-hungarian/``, ``SHIFT_JIS/``, ``UTF-16LE/``) and prints only the files someone gets wrong.
The last column is rag's whole rule (``rag.ingest.decoding.decode_bytes``: UTF-16/32, ISO-2022, UTF-8, declared
encodings, then chardet); "-" is a file it refuses.
"""

from __future__ import annotations

import argparse
import codecs
import json
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FOLDER = ROOT.parent / "shared" / "realdocs-dev" / "corpus" / "text"
COMMON = ("cp1252", "iso8859_15", "cp1251", "cp1250", "gb18030", "big5", "shift_jis", "euc_kr", "koi8_r")


def codec_from_name(name: str) -> str | None:
    """The codec a dev-set file name starts with (``latin1-...``, ``iso-8859-7-...``, ``big5-...``)."""
    stem = name.lower()
    for candidate in ("iso-8859-1", "iso-8859-7", "latin1", "cp1250", "cp1251", "cp1252", "koi8-r", "euc-kr", "big5"):
        if stem.startswith(candidate):
            return codecs.lookup(candidate).name
    return None


def charset_normalizer_best(data: bytes) -> str | None:
    import charset_normalizer

    best = charset_normalizer.from_bytes(data).best()
    return best.encoding if best else None


def charset_normalizer_common(data: bytes) -> str | None:
    """rag's previous rule: the detector's best, unless a common encoding is within 0.05 chaos of it."""
    import charset_normalizer

    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None or best.encoding in COMMON:
        return best.encoding if best else None
    near = {m.encoding for m in matches if m.chaos <= best.chaos + 0.05}
    return next((name for name in COMMON if name in near), best.encoding)


def chardet_best(data: bytes) -> str | None:
    import chardet

    return chardet.detect(data, compat_names=False)["encoding"]


def rag_decoding(data: bytes) -> str | None:
    from rag.ingest.decoding import UndecodableFileError, decode_bytes

    try:
        return decode_bytes(data)[1]
    except UndecodableFileError:
        return None


DETECTORS: dict[str, Callable[[bytes], str | None]] = {
    "charset-normalizer": charset_normalizer_best,
    "charset-normalizer + common": charset_normalizer_common,
    "chardet 7": chardet_best,
    "rag": rag_decoding,
}
FOLDER_CODECS = {"ibm855": "cp855", "ibm866": "cp866", "maccyrillic": "mac_cyrillic", "macroman": "mac_roman"}


def codec_from_folder(name: str) -> str | None:
    """The codec a chardet test-data folder is named for (``iso-8859-2-polish`` -> iso8859-2), None when Python
    has none (EUC-TW)."""
    name = name.lower()
    if name in FOLDER_CODECS:
        return FOLDER_CODECS[name]
    parts = name.split("-")
    for end in range(len(parts), 0, -1):
        try:
            return codecs.lookup("-".join(parts[:end])).name
        except LookupError:
            continue
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--truth", type=Path, help='JSON {"file name": "codec"} for files not named by codec')
    parser.add_argument("--by-folder", type=Path, help="a corpus whose folders are named by encoding (see above)")
    args = parser.parse_args()
    for detect in DETECTORS.values():  # warm-up: imports and lazily loaded models are not timed
        detect("Warm-up: café crème brûlée".encode("cp1252"))
    truth = json.loads(args.truth.read_text()) if args.truth else {}
    if args.by_folder:
        files = sorted(p for p in args.by_folder.glob("*/*") if p.is_file())
        truth = {str(p): codec_from_folder(p.parent.name) for p in files}
    else:
        files = sorted(p for p in args.folder.iterdir() if p.is_file())
    print(f"{'file':34} {'true':12} " + " ".join(f"{name:>28}" for name in DETECTORS))
    right = dict.fromkeys(DETECTORS, 0)
    seconds = dict.fromkeys(DETECTORS, 0.0)
    judged = 0
    for path in files:
        codec = truth.get(str(path)) or truth.get(path.name) or codec_from_name(path.name)
        data = path.read_bytes()
        try:
            expected = data.decode(codec or "")
        except (LookupError, UnicodeDecodeError):
            continue  # no Python codec, or the file is not valid in the encoding it is filed under
        judged += 1
        cells = []
        for name, detect in DETECTORS.items():
            started = time.perf_counter()
            found = detect(data)
            seconds[name] += time.perf_counter() - started
            ok = found is not None and data.decode(found, errors="replace") == expected
            right[name] += ok
            cells.append(f"{(found or '-') + (' ok' if ok else ' WRONG'):>28}")
        if not args.by_folder or "WRONG" in "".join(cells):
            print(f"{path.name[:34]:34} {codec:12} " + " ".join(cells))
    print(f"{'right':47} " + " ".join(f"{f'{right[n]}/{judged}':>28}" for n in DETECTORS))
    print(f"{'ms per file':47} " + " ".join(f"{1000 * seconds[n] / max(1, judged):28.1f}" for n in DETECTORS))


if __name__ == "__main__":
    main()
