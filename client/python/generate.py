"""Generates the gRPC code from ../../proto with grpcio-tools.

The generated modules land in arca_client/_generated/ (not committed, never
hand-edited); arca_client puts that folder on its import path.
"""

import pathlib
import sys

from grpc_tools import protoc

HERE = pathlib.Path(__file__).resolve().parent
PROTO_ROOT = HERE.parent.parent / "proto" / "proto"
OUT = HERE / "arca_client" / "_generated"


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / "arca" / "v1").glob("*.proto"))
    well_known = pathlib.Path(protoc.__file__).resolve().parent / "_proto"
    code = protoc.main(
        ["grpc_tools.protoc", f"-I{PROTO_ROOT}", f"-I{well_known}", f"--python_out={OUT}", f"--grpc_python_out={OUT}", *protos]
    )
    if code != 0:
        print("protoc failed", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
