"""Which operators a .tflite file uses, read from its flatbuffer."""

from ai_edge_litert import schema_py_generated as schema

BUILTIN_NAMES = {value: name for name, value in vars(schema.BuiltinOperator).items()
                 if not name.startswith("_")}


def list_operators(flatbuffer):
    """Returns {"builtin": sorted names, "custom": sorted names} of a model.

    Flex (SELECT_TF_OPS) operators are custom operators named `Flex...`.
    """
    model = schema.Model.GetRootAs(flatbuffer, 0)
    builtin, custom = set(), set()
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        number = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if number == schema.BuiltinOperator.CUSTOM:
            custom.add(code.CustomCode().decode("utf-8"))
        else:
            builtin.add(BUILTIN_NAMES[number])
    return {"builtin": sorted(builtin), "custom": sorted(custom)}


def flex_operators(operators):
    return [name for name in operators["custom"] if name.startswith("Flex")]
