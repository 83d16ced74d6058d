"""Safe evaluation of the integer timing expressions used in standard files ("nCL + nBL + 2").

Only integer literals, timing names, + - * // and parentheses are allowed; nothing is executed.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.FloorDiv: lambda a, b: a // b,
}


def evaluate(expression: str | int, names: Mapping[str, int], *, where: str) -> int:
    """Evaluate ``expression`` with ``names``; raise ValueError naming ``where`` if invalid."""
    if isinstance(expression, int):
        return expression
    try:
        tree = ast.parse(str(expression), mode="eval")
    except SyntaxError as err:
        raise ValueError(f"{where}: cannot parse expression '{expression}'") from err

    def walk(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return int(node.value)
        if isinstance(node, ast.Name):
            if node.id not in names:
                raise ValueError(f"{where}: unknown timing '{node.id}' in '{expression}'")
            return int(names[node.id])
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        raise ValueError(f"{where}: unsupported syntax in '{expression}'")

    return walk(tree)
