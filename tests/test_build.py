"""The build under test is the one this machine should have: compiled where a C compiler is present,
pure with STREAMPROC_PURE=1 or without a compiler, and never a mixture (`make build` decides)."""

from __future__ import annotations

from streamproc.buildinfo import COMPILED_MODULES, build_name, compiled_modules, expected_build


def test_the_build_is_the_one_asked_for() -> None:
    assert build_name() == expected_build(), (
        f"{len(compiled_modules())} of {len(COMPILED_MODULES)} hot modules compiled; "
        f"run `make build` for the {expected_build()} build"
    )


def test_receivers_decode_with_the_wire_decoder_only_where_it_is_compiled() -> None:
    """Interpreted, the wire decoder is slower than the protobuf runtime; compiled, it is faster."""
    from streamproc.decode import otlp_request

    assert ("wire" if build_name() == "compiled" else "runtime") == otlp_request.DECODER
