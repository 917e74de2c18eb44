"""Loader for tests/fixtures/sip2/vectors.txt (provenance: tests/fixtures/README.md).

Each vector is a block of ``## source:``, ``## kind:`` and ``## check:`` lines followed by
the message on one line, kept byte-exact (trailing blanks matter in fixed fields).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

VECTORS_PATH = Path(__file__).resolve().parents[2] / "fixtures" / "sip2" / "vectors.txt"
_CHECK = re.compile(
    r"## check: (?P<verdict>no-AZ|AZ OK|AZ MISMATCH \(correct would be (?P<correct>[0-9A-F]{4})\))"
    r"\s+len=(?P<length>\d+)"
)
_VERDICTS = {"no-AZ": "absent", "AZ OK": "ok"}


@dataclass(frozen=True)
class Vector:
    source: str
    kind: str
    verdict: str  # "ok", "mismatch" or "absent", as codec.checksum_verdict names them
    correct_checksum: str | None
    declared_length: int
    text: str

    @property
    def is_response(self) -> bool:
        return "response" in self.kind

    @property
    def id(self) -> str:
        return f"{self.source.split()[0]}:{self.text[:24]}"


def load_vectors(path: Path = VECTORS_PATH) -> list[Vector]:
    vectors: list[Vector] = []
    source = kind = ""
    pending: re.Match[str] | None = None
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.startswith("## source:"):
            source = line.removeprefix("## source:").strip()
        elif line.startswith("## kind:"):
            kind = line.removeprefix("## kind:").strip()
        elif line.startswith("## check:"):
            pending = _CHECK.match(line)
            assert pending, f"unreadable check line: {line}"
        elif pending is not None and line and not line.startswith("#"):
            verdict = _VERDICTS.get(pending["verdict"], "mismatch")
            vectors.append(Vector(source, kind, verdict, pending["correct"], int(pending["length"]), line.rstrip("\r")))
            pending = None
    return vectors
