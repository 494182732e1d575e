#!/usr/bin/env python3
"""Reads a weir savepoint (or retained checkpoint) of format version 1, 2 or 3 without weir.

A worked example of docs/savepoint-format.md, using only the Python 3 standard library:

    python3 read_savepoint.py FOLDER                   verify everything, print entries per state
    python3 read_savepoint.py FOLDER --dump UID STATE  also print every entry of one state
    python3 read_savepoint.py FOLDER --dump UID STATE --key KEY
                                                       only KEY's entry, reading only its key group

FOLDER is the savepoint folder or its _metadata file. UID is an operator's uid (or its operator
id when it has none); KEY is a JSON value (a bare word is taken as a string). Exits 0 when every
checksum matches, 1 when something is damaged, 2 on a usage error.
"""

import argparse
import json
import math
import os
import struct
import sys
import zlib
from datetime import datetime, timedelta, timezone

FORMAT = "weir-snapshot"
VERSIONS = (1, 2, 3)  # _metadata format versions this reader knows
DATA_VERSIONS = {1: (1, 2), 2: (1,), 3: (1,), 4: (1,)}  # data file versions it knows, by kind
DEFAULT_SERIALIZER = "weir-cbor"


class Damaged(Exception):
    """The savepoint cannot be trusted: the message names the file and the problem."""


# ---------------------------------------------------------------------------------------------
# _metadata: JSON, checksummed over JSON.stringify(document without "checksum", null, 1)


def js_number(x):
    """A number as JavaScript's Number.prototype.toString() writes it (ECMA-262 Number::toString)."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    # repr() gives the shortest digits that round-trip, as JavaScript does; only the layout differs.
    mantissa, _, exp = repr(abs(x)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    n = len(whole) + (int(exp) if exp else 0)
    significant = digits.lstrip("0")
    n -= len(digits) - len(significant)
    s = significant.rstrip("0")
    k = len(s)
    # Now x = 0.s × 10^n with s of k digits (ECMA-262: x = s × 10^(n−k)).
    if k <= n <= 21:
        return sign + s + "0" * (n - k)
    if 0 < n <= 21:
        return sign + s[:n] + "." + s[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + s
    e = n - 1
    mantissa = s if k == 1 else s[0] + "." + s[1:]
    return sign + mantissa + "e" + ("+" if e >= 0 else "-") + str(abs(e))


def js_string(s):
    """A string as JSON.stringify writes it (only the escapes it makes; nothing else is escaped)."""
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif c < 0x20 or 0xD800 <= c <= 0xDFFF:
            out.append("\\u%04x" % c)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def js_stringify(v, indent=1, level=0):
    """JSON.stringify(v, null, indent) for a value parsed from JSON (dicts keep the file's key order)."""
    pad = "\n" + " " * (indent * (level + 1))
    end = "\n" + " " * (indent * level)
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return js_number(v) if not (isinstance(v, float) and not math.isfinite(v)) else "null"
    if isinstance(v, str):
        return js_string(v)
    if isinstance(v, list):
        if not v:
            return "[]"
        return "[" + pad + ("," + pad).join(js_stringify(x, indent, level + 1) for x in v) + end + "]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        items = (js_string(k) + ": " + js_stringify(x, indent, level + 1) for k, x in v.items())
        return "{" + pad + ("," + pad).join(items) + end + "}"
    raise TypeError("not a JSON value: %r" % (v,))


def read_metadata(folder):
    """The _metadata document (without its checksum) after checking format, version and checksum."""
    path = os.path.join(folder, "_metadata")
    if not os.path.isfile(path):
        raise Damaged("%s: no _metadata (not a complete weir snapshot)" % folder)
    with open(path, "rb") as f:
        raw = f.read()
    try:
        doc = json.loads(raw.decode("utf-8"))  # dicts keep the members' order, as the checksum needs
    except (UnicodeDecodeError, ValueError):
        raise Damaged("%s: not valid JSON" % path)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise Damaged("%s: not a weir snapshot" % path)
    if type(doc.get("version")) is not int or doc["version"] not in VERSIONS:
        raise Damaged("%s: format version %r; this reader reads versions 1, 2 and 3" % (path, doc.get("version")))
    checksum = doc.get("checksum")
    rest = {k: v for k, v in doc.items() if k != "checksum"}
    want = "crc32:%08x" % zlib.crc32(js_stringify(rest).encode("utf-8"))
    if checksum != want:
        raise Damaged("%s: checksum mismatch (%s recorded, %s computed)" % (path, checksum, want))
    return rest


def safe_path(folder, rel):
    parts = rel.split("/")
    if rel.startswith("/") or "\\" in rel or ":" in parts[0] or any(p in ("", ".", "..") for p in parts):
        raise Damaged("%s: %r is not a relative path inside the folder" % (folder, rel))
    return os.path.join(folder, *parts)


# ---------------------------------------------------------------------------------------------
# Data files: header, sections, index, footer (big-endian; crc32 as zlib computes it)

MAGIC = b"WEIRSTAT"
INDEX_MAGIC = b"WEIRIDX1"
HEADER_BYTES = 12
FOOTER_BYTES = 16
INDEX_ENTRY_BYTES = 20
KINDS = {1: "keyed", 2: "operator", 3: "timers", 4: "sink"}


class StateFile:
    """One data file, opened by its header, footer and index only; sections are read one by one."""

    def __init__(self, folder, handle, want_kind):
        self.path = safe_path(folder, handle["path"])
        self.name = handle["path"]
        try:
            self.f = open(self.path, "rb")
        except OSError:
            raise Damaged("%s: missing" % self.name)
        size = os.fstat(self.f.fileno()).st_size
        if size != handle["size"]:
            raise Damaged("%s: %d bytes, _metadata says %d" % (self.name, size, handle["size"]))
        if size < HEADER_BYTES + FOOTER_BYTES:
            raise Damaged("%s: truncated" % self.name)
        header = self.read(0, HEADER_BYTES)
        magic, version, kind = struct.unpack(">8sHH", header)
        if magic != MAGIC:
            raise Damaged("%s: bad magic" % self.name)
        if kind != want_kind:
            raise Damaged("%s: holds %s state, %s expected" % (self.name, KINDS.get(kind, kind), KINDS[want_kind]))
        if version not in DATA_VERSIONS[kind]:
            raise Damaged("%s: data file version %d; this reader reads %s" % (self.name, version, DATA_VERSIONS[kind]))
        self.version = version
        footer = self.read(size - FOOTER_BYTES, FOOTER_BYTES)
        count, index_crc, index_magic = struct.unpack(">II8s", footer)
        if index_magic != INDEX_MAGIC:
            raise Damaged("%s: bad footer magic" % self.name)
        data_end = size - FOOTER_BYTES - count * INDEX_ENTRY_BYTES
        if data_end < HEADER_BYTES:
            raise Damaged("%s: an index of %d sections does not fit" % (self.name, count))
        index = self.read(data_end, count * INDEX_ENTRY_BYTES)
        if zlib.crc32(index) != index_crc:
            raise Damaged("%s: index checksum mismatch" % self.name)
        self.sections = {}  # id -> (offset, length, crc32)
        expected_offset, previous = HEADER_BYTES, -1
        for i in range(count):
            sid, offset, length, crc = struct.unpack_from(">IQII", index, i * INDEX_ENTRY_BYTES)
            if sid <= previous or offset != expected_offset:
                raise Damaged("%s: damaged index" % self.name)
            self.sections[sid] = (offset, length, crc)
            previous, expected_offset = sid, offset + length
        if expected_offset != data_end:
            raise Damaged("%s: damaged index (the sections do not end where the index starts)" % self.name)
        recorded = [list(s) for s in handle["sections"]]
        if recorded != [[sid, o, n, c] for sid, (o, n, c) in self.sections.items()]:
            raise Damaged("%s: the index differs from the sections _metadata recorded" % self.name)
        self.whole_crc_expected = handle["crc32"]

    def read(self, offset, length):
        self.f.seek(offset)
        b = self.f.read(length)
        if len(b) != length:
            raise Damaged("%s: truncated" % self.name)
        return b

    def section(self, sid):
        """One section's payload (only its bytes are read), checked against its checksum."""
        offset, length, crc = self.sections[sid]
        payload = self.read(offset, length)
        if zlib.crc32(payload) != crc:
            raise Damaged("%s: checksum mismatch in section %d" % (self.name, sid))
        return payload

    def verify_whole(self):
        """The crc32 of every byte of the file, as _metadata recorded it."""
        self.f.seek(0)
        crc = 0
        for chunk in iter(lambda: self.f.read(1 << 20), b""):
            crc = zlib.crc32(chunk, crc)
        if crc != self.whole_crc_expected:
            raise Damaged("%s: file checksum mismatch" % self.name)

    def close(self):
        self.f.close()


# ---------------------------------------------------------------------------------------------
# CBOR, as far as weir's value codec writes it (docs/value-codec.md)


class Undefined:
    def __repr__(self):
        return "undefined"


UNDEFINED = Undefined()


class BigInt(int):
    """A JavaScript bigint (tags 2 and 3), kept apart from numbers."""


class JsMap(list):
    """A JavaScript Map (tag 259): a list of [key, value] pairs, since keys may be arrays or objects."""


class JsSet(list):
    """A JavaScript Set (tag 258): its elements in order."""


class JsDate:
    """A JavaScript Date (tag 1): milliseconds since the epoch, or None for an invalid date."""

    def __init__(self, ms):
        self.ms = ms

    def __repr__(self):
        if self.ms is None:
            return "Date(Invalid Date)"
        try:
            t = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=self.ms)
        except OverflowError:  # before year 1 or after 9999: JavaScript has those, Python not
            return "Date(%d ms)" % self.ms
        return "Date(%04d-%s.%03dZ)" % (t.year, t.strftime("%m-%dT%H:%M:%S"), t.microsecond // 1000)


class Decoder:
    """Decodes a CBOR sequence: the items one after another."""

    def __init__(self, data):
        self.b = data
        self.pos = 0

    @property
    def done(self):
        return self.pos == len(self.b)

    def fail(self, what):
        raise ValueError("malformed CBOR at byte %d: %s" % (self.pos, what))

    def take(self, n):
        if self.pos + n > len(self.b):
            self.fail("truncated")
        out = self.b[self.pos : self.pos + n]
        self.pos += n
        return out

    def argument(self, info):
        if info < 24:
            return info
        if info in (24, 25, 26, 27):
            return int.from_bytes(self.take(1 << (info - 24)), "big")
        self.fail("indefinite length or reserved additional information %d" % info)

    def float64_column(self, count):
        """A keyed file's column of `count` numbers: tag 86 (RFC 8746, float64 little-endian) on a byte string."""
        if self.take(2) != b"\xd8\x56":
            self.fail("a value column that is not tag 86")
        head = self.take(1)[0]
        if head >> 5 != 2 or self.argument(head & 31) != 8 * count:
            self.fail("a float64 column that is not a byte string of %d numbers" % count)
        return list(struct.unpack("<%dd" % count, self.take(8 * count)))

    def decode(self):
        ib = self.take(1)[0]
        major, info = ib >> 5, ib & 31
        if major == 0:
            return self.argument(info)
        if major == 1:
            return -1 - self.argument(info)
        if major == 2:
            return bytes(self.take(self.argument(info)))
        if major == 3:
            return self.take(self.argument(info)).decode("utf-8")
        if major == 4:
            return [self.decode() for _ in range(self.argument(info))]
        if major == 5:  # a plain object: text keys, in order
            out = {}
            for _ in range(self.argument(info)):
                k = self.decode()
                if not isinstance(k, str):
                    self.fail("an object key that is not a text string")
                out[k] = self.decode()
            return out
        if major == 6:
            return self.tagged(self.argument(info))
        if info == 20:
            return False
        if info == 21:
            return True
        if info == 22:
            return None
        if info == 23:
            return UNDEFINED
        if info == 27:
            return struct.unpack(">d", self.take(8))[0]
        self.fail("simple value or float width weir never writes (%d)" % info)

    def tagged(self, tag):
        if tag == 259:  # Map: keys of any type (arrays, objects…), so pairs rather than a dict
            head = self.take(1)[0]
            if head >> 5 != 5:
                self.fail("tag 259 without a map")
            return JsMap([self.decode(), self.decode()] for _ in range(self.argument(head & 31)))
        item = self.decode()
        if tag in (2, 3):  # bignum: the magnitude as big-endian bytes
            if not isinstance(item, bytes):
                self.fail("tag %d without a byte string" % tag)
            m = int.from_bytes(item, "big")
            return BigInt(m if tag == 2 else -1 - m)
        if tag == 1:  # Date: epoch seconds (getTime() / 1000), an integer or a float64
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                self.fail("tag 1 without a number")
            if isinstance(item, int):
                return JsDate(item * 1000)
            if not math.isfinite(item):
                return JsDate(None)
            ms = math.floor(item * 1000 + 0.5)
            # The whole millisecond whose ms / 1000 (in float64) gave these seconds.
            for candidate in (ms, ms + 1, ms - 1):
                if candidate / 1000 == item:
                    return JsDate(candidate)
            return JsDate(ms)
        if tag == 258:  # Set
            if not isinstance(item, list):
                self.fail("tag 258 without an array")
            return JsSet(item)
        self.fail("unsupported tag %d" % tag)


def show(v):
    """A value in JavaScript-like notation: "text", 12, 5n, Date(…), Map{k => v}, Set{…}, h'0a0b'."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, BigInt):
        return "%dn" % v
    if isinstance(v, (int, float)):
        return js_number(v)
    if isinstance(v, str):
        return js_string(v)
    if isinstance(v, bytes):
        return "h'%s'" % v.hex()
    if isinstance(v, JsMap):
        return "Map{" + ", ".join("%s => %s" % (show(k), show(x)) for k, x in v) + "}"
    if isinstance(v, JsSet):
        return "Set{" + ", ".join(show(x) for x in v) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(show(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join("%s: %s" % (js_string(k), show(x)) for k, x in v.items()) + "}"
    return repr(v)


# ---------------------------------------------------------------------------------------------
# Key groups: key group = murmurMix(hashKey(key)) mod maxParallelism (src/state/key-group.ts)


def int32(x):
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x >= 1 << 31 else x


def hash_key(key):
    if isinstance(key, bool):
        return 1231 if key else 1237
    if isinstance(key, BigInt):
        h, v = (-1, -int(key)) if key < 0 else (0, int(key))
        while True:
            h = int32(h * 31 + (v & 0xFFFFFFFF))
            v >>= 32
            if v == 0:
                return h
    if isinstance(key, (int, float)):
        if isinstance(key, float) and math.isnan(key):
            return 0x7FF80000
        if float(key).is_integer() and -(1 << 31) <= key < (1 << 31):
            return int(key)
        lo, hi = struct.unpack("<ii", struct.pack("<d", float(key)))
        return lo ^ hi
    if isinstance(key, str):  # over UTF-16 code units
        h = 0
        units = key.encode("utf-16-be", "surrogatepass")
        for i in range(0, len(units), 2):
            h = int32(h * 31 + (units[i] << 8 | units[i + 1]))
        return h
    if isinstance(key, list):
        h = 1
        for x in key:
            h = int32(h * 31 + hash_key(x))
        return h
    raise TypeError("not a weir key: %s" % show(key))


def murmur_mix(code):
    def mul(a, b):
        return (a * b) & 0xFFFFFFFF

    def rotl(a, r):
        return ((a << r) | (a >> (32 - r))) & 0xFFFFFFFF

    c = code & 0xFFFFFFFF
    c = mul(rotl(mul(c, 0xCC9E2D51), 15), 0x1B873593)
    c = (mul(rotl(c, 13), 5) + 0xE6546B64) & 0xFFFFFFFF
    c ^= 4
    c ^= c >> 16
    c = mul(c, 0x85EBCA6B)
    c ^= c >> 13
    c = mul(c, 0xC2B2AE35)
    c ^= c >> 16
    c = int32(c)
    return c if c >= 0 else (0 if c == -(1 << 31) else -c)


def key_group_of(key, max_parallelism):
    return murmur_mix(hash_key(key)) % max_parallelism


# ---------------------------------------------------------------------------------------------
# Payloads


def state_entries(states_meta):
    """Per state name: serializer and schema version (both optional; defaults when absent)."""
    return {
        s["name"]: (s.get("serializer", DEFAULT_SERIALIZER), s.get("version", 1))
        for s in states_meta
        if isinstance(s, dict) and "name" in s
    }


def keyed_section(payload, where, version):
    """Yields (state name, kind, key, value) of one key group's section (data file `version`)."""
    d = Decoder(payload)
    while not d.done:
        name, kind, count = d.decode(), d.decode(), d.decode()
        if not isinstance(name, str) or not isinstance(kind, str) or not isinstance(count, int):
            raise Damaged("%s: malformed state header" % where)
        if version == 1:  # key, value pairs
            for _ in range(count):
                key = d.decode()
                yield name, kind, key, d.decode()
            continue
        # Version 2: the keys, then how the values follow (0: one item each, 1: one float64 column).
        keys = [d.decode() for _ in range(count)]
        form = d.decode()
        if form == 1 and kind in ("value", "reducing", "aggregating"):
            values = d.float64_column(count)
        elif form == 0:
            values = [d.decode() for _ in range(count)]
        else:
            raise Damaged("%s: state %s: bad value layout %r for %s state" % (where, name, form, kind))
        for key, value in zip(keys, values):
            yield name, kind, key, value


def operator_section(payload, where):
    """Yields (state name, mode, entries) of an operator state file's section 0."""
    d = Decoder(payload)
    while not d.done:
        name, mode, count = d.decode(), d.decode(), d.decode()
        if not isinstance(name, str) or not isinstance(mode, str) or not isinstance(count, int):
            raise Damaged("%s: malformed operator state header" % where)
        yield name, mode, [d.decode() for _ in range(count)]


def describe_value(v, codec):
    serializer, version = codec
    if serializer == DEFAULT_SERIALIZER:
        return show(v)
    # Another serializer: each stored value (list element, map value, or the value) is its bytes.
    return "%s  (serializer %s, schema version %d)" % (show(v), serializer, version)


def summarize(folder, dump=None):
    """Verifies every checksum, prints entries per operator and state, and the entries of `dump`."""
    meta = read_metadata(folder)
    print(
        "%s %d of job %s (%s), weir %s, format version %d"
        % (meta["kind"], meta["id"], js_string(meta["jobName"]), meta["jobId"], meta["weirVersion"], meta["version"])
    )
    files = 0
    dumped = []
    for op in meta["operators"]:
        uid = op["uid"] if op["uid"] is not None else op["operatorId"]
        maxp = op["maxParallelism"]
        print(
            "operator %s (%s, id %s, parallelism %d, max parallelism %d)"
            % (uid, js_string(op["name"]), op["operatorId"], op["parallelism"], maxp)
        )
        totals = {}  # (scope, name) -> [kind or mode, entries], in the order first met
        recorded = {}  # the same, as _metadata counts them
        want = dump if dump is not None and dump[0] == uid else None
        for sub in sorted(op["subtasks"], key=lambda s: s["index"]):
            codecs = state_entries(sub["states"])
            for st in sub["states"]:
                key = (st["scope"], st["name"])
                recorded[key] = recorded.get(key, 0) + st["entries"]
            if sub["keyed"] is not None:
                first, last = sub["keyGroups"]
                sf = StateFile(folder, sub["keyed"], 1)
                files += 1
                sf.verify_whole()
                for kg in sorted(sf.sections):
                    if not first <= kg <= last:
                        raise Damaged("%s: key group %d is outside the subtask's [%d, %d]" % (sf.name, kg, first, last))
                    for name, kind, k, v in keyed_section(sf.section(kg), sf.name, sf.version):
                        if key_group_of(k, maxp) != kg:
                            raise Damaged("%s: key %s is not of key group %d" % (sf.name, show(k), kg))
                        totals.setdefault(("keyed", name), [kind, 0])[1] += 1
                        if want is not None and want[1] == name:
                            codec = codecs.get(name, (DEFAULT_SERIALIZER, 1))
                            dumped.append("[group %d] %s => %s" % (kg, show(k), describe_value(v, codec)))
                sf.close()
            if sub["operator"] is not None:
                sf = StateFile(folder, sub["operator"], 2)
                files += 1
                sf.verify_whole()
                for sid in sorted(sf.sections):
                    for name, mode, entries in operator_section(sf.section(sid), sf.name):
                        totals.setdefault(("operator", name), [mode, 0])[1] += len(entries)
                        if want is not None and want[1] == name:
                            dumped.extend("[subtask %d] %s" % (sub["index"], show(e)) for e in entries)
                sf.close()
            for h, kind in (("timers", 3), ("sink", 4)):
                if sub.get(h) is not None:  # timers (section 4.4) and sink files: checked, not decoded
                    sf = StateFile(folder, sub[h], kind)
                    files += 1
                    sf.verify_whole()
                    sf.close()
        if not totals:
            print("  no state")
        for (scope, name), (kind, n) in totals.items():
            if recorded.get((scope, name), n) != n:
                raise Damaged("%s: state %s has %d entries, _metadata says %d" % (uid, name, n, recorded[(scope, name)]))
            print("  %-8s %-16s %-8s %d entries" % (scope, name, kind, n))
    print("ok: the _metadata checksum and %d data files verified" % files)
    if dump is not None:
        print("%s %s:" % tuple(dump))
        for line in dumped:
            print("  " + line)
        if not dumped:
            print("  (no entries)")


def lookup(folder, uid, state, key):
    """One key's entry, reading only the footer, the index and the section of its key group."""
    meta = read_metadata(folder)
    ops = [op for op in meta["operators"] if uid in (op["uid"], op["operatorId"])]
    if not ops:
        raise Damaged("%s: no operator %s" % (folder, uid))
    op = ops[0]
    kg = key_group_of(key, op["maxParallelism"])
    print("key %s is in key group %d of %d" % (show(key), kg, op["maxParallelism"]))
    for sub in op["subtasks"]:
        if sub["keyed"] is None or not sub["keyGroups"][0] <= kg <= sub["keyGroups"][1]:
            continue
        sf = StateFile(folder, sub["keyed"], 1)
        codecs = state_entries(sub["states"])
        found = False
        if kg in sf.sections:  # an empty key group has no section
            for name, _kind, k, v in keyed_section(sf.section(kg), sf.name, sf.version):
                if name == state and k == key:
                    print("%s => %s" % (show(k), describe_value(v, codecs.get(name, (DEFAULT_SERIALIZER, 1)))))
                    found = True
        sf.close()
        if not found:
            print("%s has no entry for %s" % (state, show(key)))
        return
    print("no subtask of %s holds key group %d" % (uid, kg))


def main(argv):
    p = argparse.ArgumentParser(description="Verify and summarize a weir savepoint (format version 1, 2 or 3).")
    p.add_argument("folder", help="the savepoint folder, or its _metadata file")
    p.add_argument("--dump", nargs=2, metavar=("UID", "STATE"), help="print every entry of one state")
    p.add_argument("--key", help="with --dump: only this key (JSON; a bare word is a string)")
    a = p.parse_args(argv)
    folder = a.folder
    if os.path.basename(folder) == "_metadata":
        folder = os.path.dirname(folder) or "."
    key = None
    if a.key is not None:
        if a.dump is None:
            p.error("--key needs --dump")
        try:
            key = json.loads(a.key)
        except ValueError:
            key = a.key
    try:
        if key is not None:
            lookup(folder, a.dump[0], a.dump[1], key)
        else:
            summarize(folder, a.dump)
    except (Damaged, ValueError) as e:  # ValueError: CBOR that weir does not write
        print("damaged: %s" % e, file=sys.stderr)
        return 1
    except BrokenPipeError:  # piped into head(1) and so on
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
