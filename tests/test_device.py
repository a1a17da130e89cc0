import pytest

from kseq import device

ZEN4_FLAGS = "fpu vme avx2 avx512f avx512_bf16 avx512_vnni"
ZEN3_FLAGS = "fpu vme avx2 fma"


@pytest.mark.parametrize("flags, expected", [(ZEN4_FLAGS, True), (ZEN3_FLAGS, False),
                                             ("fpu amx_bf16 amx_tile", True)])
def test_bfloat16_is_read_from_the_cpu_flags(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    assert device.cpu_computes_bfloat16(str(cpuinfo)) is expected


def test_no_cpuinfo_means_no_bfloat16(tmp_path):
    assert device.cpu_computes_bfloat16(str(tmp_path / "missing")) is False
