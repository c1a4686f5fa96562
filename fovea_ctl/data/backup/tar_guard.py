"""A volume archive checked, header by header, while it streams from the backup into the helper's `tar -x`.

A backup folder is only as trustworthy as whoever could write into it, and a volume's files are read by
services that run as root for a moment: so nothing in an archive is taken on trust. What `tar` receives:

- only what `fovea backup` writes (GNU tar's default format): regular files, directories, symlinks, hard
  links and GNU long-name records. Device files, FIFOs, sparse files, pax headers or anything else stop
  the restore before `tar` sees that member;
- member names and hard-link targets inside the volume (relative, no `..`), and symlinks whose target,
  resolved through every other symlink in the archive, stays inside the volume;
- every member owned by the volume's service user (the owner the service's image gives the mount path),
  with its setuid and setgid bits cleared: a restored file can never lift a service user to root;
- no more bytes than the manifest records for the item (`source_bytes`, the archive's exact size): a
  small artifact that inflates into gigabytes stops at its recorded size.

The check runs on the stream itself (headers are rewritten in place, file data passes through untouched),
so it costs no second read of the archive. A refusal raises BackupDamaged: the staging folder is dropped
and the live data is untouched.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator

from fovea_ctl.errors import BackupDamaged

BLOCK = 512
REGULAR, HARDLINK, SYMLINK, DIRECTORY, CONTIGUOUS = b"0", b"1", b"2", b"5", b"7"
LONG_NAME, LONG_LINK = b"L", b"K"
KIND_NAMES = {b"3": "a character device", b"4": "a block device", b"6": "a FIFO", b"S": "a sparse file",
              b"x": "a pax extended header", b"g": "a pax global header", b"D": "a GNU dump directory",
              b"M": "a multi-volume continuation", b"V": "a volume label"}
MAX_LONG_NAME = 64 * 1024
MAX_LINK_HOPS = 40
SETID_BITS = 0o6000


def _number(field: bytes) -> int:
    """A numeric header field: octal digits, or GNU's base-256 (high bit set) for large values."""
    if field[:1] and field[0] & 0x80:
        value = field[0] & 0x3F
        for byte in field[1:]:
            value = (value << 8) | byte
        return -value if field[0] & 0x40 else value
    digits = field.replace(b"\0", b" ").strip()
    return int(digits, 8) if digits else 0


def _octal(value: int, width: int) -> bytes:
    return f"{value:0{width - 1}o}".encode() + b"\0"


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", errors="surrogateescape")


class _Refused(BackupDamaged):
    pass


class TarGuard:
    """The state of one archive's check; `stream` yields the (rewritten) archive."""

    def __init__(self, item: str, owner: tuple[int, int], limit: int) -> None:
        self.item = item
        self.owner = owner
        self.limit = limit
        self.seen = 0
        self.members: dict[str, bytes] = {}  # normalised name -> type flag
        self.symlinks: dict[str, str] = {}  # normalised name -> target as written
        self.long_name: str | None = None
        self.long_link: str | None = None

    def refuse(self, why: str) -> _Refused:
        return _Refused(f"refusing to restore {self.item}: {why}; nothing was swapped in, the live data is untouched",
                        hint="this archive was not written by `fovea backup` as it is now; do not trust it")

    # -- names -------------------------------------------------------------------------------------
    def _inside(self, name: str, what: str) -> str:
        """`name` normalised, refused when it is absolute or climbs out with `..`."""
        if name.startswith("/"):
            raise self.refuse(f"{what} {name!r} is an absolute path")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise self.refuse(f"{what} {name!r} climbs out of the volume with '..'")
        return "/".join(parts)

    def _through_symlink(self, name: str) -> str | None:
        parts = name.split("/")
        for end in range(1, len(parts)):
            if "/".join(parts[:end]) in self.symlinks:
                return "/".join(parts[:end])
        return None

    def _escapes(self, link: str) -> bool:
        """Whether symlink `link`, followed through every symlink of the archive, leaves the volume."""
        pending = [*posixpath.dirname(link).split("/"), *self.symlinks[link].split("/")]
        resolved: list[str] = []
        hops = 0
        while pending:
            part = pending.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if not resolved:
                    return True
                resolved.pop()
                continue
            resolved.append(part)
            here = "/".join(resolved)
            if here in self.symlinks:
                hops += 1
                if hops > MAX_LINK_HOPS:
                    return True  # a loop: never followed safely
                target = self.symlinks[here]
                if target.startswith("/"):
                    return True
                resolved.pop()
                pending = [*target.split("/"), *pending]
        return False

    # -- headers -----------------------------------------------------------------------------------
    def header(self, block: bytes) -> tuple[bytes, int]:
        """A checked (and rewritten) header block, and how many data bytes follow it."""
        stored = _number(block[148:156])
        if stored != sum(block[:148]) + 8 * 32 + sum(block[156:]):
            raise self.refuse("a tar header's checksum is wrong (a damaged or crafted archive)")
        kind = block[156:157] or b"\0"
        size = _number(block[124:136])
        if size < 0:
            raise self.refuse("a tar header gives a negative size")
        if kind in (LONG_NAME, LONG_LINK):
            if size > MAX_LONG_NAME:
                raise self.refuse(f"a long-name record of {size} bytes")
            return block, size
        if kind == b"\0":
            kind = REGULAR
        if kind not in (REGULAR, CONTIGUOUS, HARDLINK, SYMLINK, DIRECTORY):
            what = KIND_NAMES.get(kind, f"an entry of type {kind!r}")
            raise self.refuse(f"member {self._raw_name(block)!r} is {what}, which `fovea backup` never writes")
        name = self._inside(self._raw_name(block), "member")
        through = self._through_symlink(name)
        if through is not None:
            raise self.refuse(f"member {name!r} lies behind the symlink {through!r}")
        link = self.long_link if self.long_link is not None else _text(block[157:257])
        self.long_name = self.long_link = None
        if kind == HARDLINK:
            target = self._inside(link, f"hard link {name!r} ->")
            if self.members.get(target) not in (REGULAR, CONTIGUOUS):
                raise self.refuse(f"hard link {name!r} points at {target!r}, which is no regular file before it in the archive")
        elif kind == SYMLINK:
            self.symlinks[name] = link
            if link.startswith("/"):
                raise self.refuse(f"symlink {name!r} points at the absolute path {link!r}, outside the volume")
        self.members[name] = kind
        mode = _number(block[100:108]) & 0o7777 & ~SETID_BITS
        uid, gid = self.owner
        rewritten = bytearray(block)
        rewritten[100:108] = _octal(mode, 8)
        rewritten[108:116] = _octal(uid, 8)
        rewritten[116:124] = _octal(gid, 8)
        rewritten[265:297] = bytes(32)  # uname, gname: --numeric-owner reads the ids alone
        rewritten[297:329] = bytes(32)
        rewritten[148:156] = b" " * 8
        rewritten[148:156] = f"{sum(rewritten):06o}".encode() + b"\0 "
        data = 0 if kind in (HARDLINK, SYMLINK, DIRECTORY) else size
        return bytes(rewritten), data

    def _raw_name(self, block: bytes) -> str:
        if self.long_name is not None:
            return self.long_name
        name = _text(block[0:100])
        if block[257:263] == b"ustar\0":  # POSIX ustar: a prefix field; GNU's format uses that area otherwise
            prefix = _text(block[345:500])
            name = f"{prefix}/{name}" if prefix else name
        return name

    def finish(self) -> None:
        for link in self.symlinks:
            if self._escapes(link):
                raise self.refuse(f"symlink {link!r} -> {self.symlinks[link]!r} leads out of the volume")

    # -- the stream --------------------------------------------------------------------------------
    def stream(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """The archive with its headers checked and rewritten. File data passes through as it came: a
        chunk that holds only file data is handed on without a copy (videos are almost all data)."""
        header = bytearray()  # a header block arriving across chunks
        data_left = 0  # file data still to pass through (padded to whole blocks)
        collecting: bytes | None = None  # the type of a long-name record whose data is being read
        collected = bytearray()
        ended = False
        for chunk in chunks:
            self.seen += len(chunk)
            if self.seen > self.limit:
                raise self.refuse(f"it unpacks to more than the {self.limit} bytes its manifest records")
            view = memoryview(chunk)
            pieces: list[bytes | memoryview] = []
            position = 0
            while position < len(view):
                if ended:
                    if any(view[position:]):
                        raise self.refuse("data follows the archive's end marker")
                    pieces.append(view[position:])
                    break
                if data_left:
                    take = min(data_left, len(view) - position)
                    piece = view[position:position + take]
                    pieces.append(piece)
                    position += take
                    data_left -= take
                    if collecting is not None:
                        collected += piece
                        if not data_left:
                            name = _text(bytes(collected))
                            if collecting == LONG_NAME:
                                self.long_name = name
                            else:
                                self.long_link = name
                            collecting = None
                            collected.clear()
                    continue
                take = min(BLOCK - len(header), len(view) - position)
                header += view[position:position + take]
                position += take
                if len(header) < BLOCK:
                    break
                block = bytes(header)
                header.clear()
                if not any(block):
                    ended = True
                    pieces.append(block)
                    continue
                rewritten, size = self.header(block)
                pieces.append(rewritten)
                if block[156:157] in (LONG_NAME, LONG_LINK):
                    collecting = block[156:157]
                data_left = -(-size // BLOCK) * BLOCK
            if len(pieces) == 1 and isinstance(pieces[0], memoryview) and len(pieces[0]) == len(chunk):
                yield chunk
            elif pieces:
                yield b"".join(pieces)
        if header or data_left or not ended:
            raise self.refuse("the archive ends in the middle of a member")
        self.finish()


def guarded_tar(chunks: Iterable[bytes], item: str, owner: tuple[int, int], limit: int) -> Iterator[bytes]:
    """`chunks` of a volume archive, checked and rewritten as described above."""
    return TarGuard(item, owner, limit).stream(chunks)


def limited(chunks: Iterable[bytes], item: str, limit: int) -> Iterator[bytes]:
    """`chunks`, stopped once they exceed `limit` bytes (an item's recorded size)."""
    seen = 0
    for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            raise BackupDamaged(f"refusing to restore {item}: it unpacks to more than the {limit} bytes its manifest "
                                "records; nothing was swapped in, the live data is untouched")
        yield chunk
