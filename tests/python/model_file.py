"""Edits a Concord model file on purpose and signs it again, for the engine tests that need a
model which loads (its checksum passes) but misbehaves, e.g. gives a non-finite energy.

This is an independent Python reading of the format described in src/model/file.rs: a
safetensors file whose `__metadata__["concord"]` JSON ends with `"checksum":"sha256:<hex>"`,
the SHA-256 over every tensor in name order (name, a NUL byte, each dimension as a
little-endian u64, the dtype name, the raw bytes) followed by the metadata JSON without its
checksum. Loading the edited file through Concord verifies that this reading is right.
"""

import hashlib
import json
import re
import struct
from pathlib import Path

_CHECKSUM = re.compile(r',"checksum":"sha256:[0-9a-f]{64}"\}$')
_FORMATS = {"F32": "<f", "F64": "<d"}


def _split(data: bytes):
    (n,) = struct.unpack("<Q", data[:8])
    return n, json.loads(data[8 : 8 + n])


def checksum(data: bytes) -> str:
    """The `sha256:<hex>` a model file's tensors and metadata should carry."""
    n, header = _split(data)
    digest = hashlib.sha256()
    for name in sorted(k for k in header if k != "__metadata__"):
        info = header[name]
        start, end = (8 + n + o for o in info["data_offsets"])
        digest.update(name.encode() + b"\0")
        for d in info["shape"]:
            digest.update(struct.pack("<Q", d))
        digest.update(info["dtype"].encode())
        digest.update(data[start:end])
    meta = header["__metadata__"]["concord"]
    unsigned, count = _CHECKSUM.subn("}", meta)
    assert count == 1, "the metadata does not end with its checksum"
    digest.update(unsigned.encode())
    return "sha256:" + digest.hexdigest()


def edit_and_resign(src: Path, dst: Path, tensor: str, value: float) -> None:
    """Writes `src` to `dst` with the first element of `tensor` set to `value`, signed again
    (the header keeps its length: only tensor bytes and the checksum's hex digits change)."""
    data = bytearray(Path(src).read_bytes())
    n, header = _split(bytes(data))
    info = header[tensor]
    start = 8 + n + info["data_offsets"][0]
    fmt = _FORMATS[info["dtype"]]
    data[start : start + struct.calcsize(fmt)] = struct.pack(fmt, value)
    old = header["__metadata__"]["concord"][-73:-2]  # sha256:<64 hex>
    new = checksum(bytes(data))
    head = data[8 : 8 + n].decode()
    assert head.count(old) == 1
    data[8 : 8 + n] = head.replace(old, new).encode()
    Path(dst).write_bytes(bytes(data))
