from export.operators import flex_operators, list_operators

VARIANTS = ("", "_float16", "_dynamic")


def test_no_flex_ops_anywhere_and_no_custom_ops_in_ids_models(tiny_export):
    for variant in VARIANTS:
        for kind in ("text", "ids"):
            content = (tiny_export / "tflite" / f"translator_{kind}{variant}.tflite").read_bytes()
            operators = list_operators(content)
            assert "WHILE" in operators["builtin"]  # the greedy loop is inside
            assert flex_operators(operators) == []
            if kind == "ids":
                assert operators["custom"] == []
            else:
                assert all(op.startswith("TFText>") or op == "RaggedTensorToTensor"
                           for op in operators["custom"])


def test_flex_operators_are_custom_operators_named_flex():
    operators = {"builtin": ["ADD"], "custom": ["FlexStringLower", "TFText>FastSentencepieceTokenize"]}
    assert flex_operators(operators) == ["FlexStringLower"]
