"""Generates the protobuf and gRPC modules of the `arca` package from
../../proto with grpcio-tools, into src/arca/v1/ (committed, never
hand-edited: the package installs without a build step).

    python generate.py          # regenerate
    python generate.py --check  # fail if the committed modules differ

The test command runs `--check`, so the shipped code never drifts from the
contract. The grpcio-tools version is pinned there, since its output names it.
"""

import filecmp
import pathlib
import shutil
import sys
import tempfile

from grpc_tools import protoc

HERE = pathlib.Path(__file__).resolve().parent
PROTO_ROOT = HERE.parent.parent / "proto" / "proto"
PACKAGE = HERE / "src"
GENERATED = PACKAGE / "arca" / "v1"
INIT = '"""Code generated from proto/arca/v1 by client/python/generate.py. Do not edit."""\n'


def generate(into: pathlib.Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / "arca" / "v1").glob("*.proto"))
    well_known = pathlib.Path(protoc.__file__).resolve().parent / "_proto"
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"-I{well_known}",
            f"--python_out={into}",
            f"--pyi_out={into}",
            f"--grpc_python_out={into}",
            *protos,
        ]
    )
    if code != 0:
        raise SystemExit("protoc failed")
    (into / "arca" / "v1" / "__init__.py").write_text(INIT)


def main() -> int:
    check = "--check" in sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp)
        generate(out)
        fresh = out / "arca" / "v1"
        if check:
            names = sorted({p.name for p in fresh.iterdir()} | {p.name for p in GENERATED.glob("*") if p.is_file()})
            differ = [n for n in names if not (fresh / n).is_file() or not (GENERATED / n).is_file()
                      or not filecmp.cmp(fresh / n, GENERATED / n, shallow=False)]
            if differ:
                print("generated code differs from proto/ (run client/python/generate.py):", ", ".join(differ), file=sys.stderr)
                return 1
            print(f"generated code matches proto/ ({len(names)} files)")
            return 0
        if GENERATED.exists():
            shutil.rmtree(GENERATED)
        shutil.copytree(fresh, GENERATED)
    print(f"wrote {GENERATED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
