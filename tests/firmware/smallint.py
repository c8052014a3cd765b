"""Load a firmware module with every arithmetic result checked against MicroPython's
small-int range (|x| < 2**30 on 32-bit ports).

An AST rewrite wraps each binary operation, augmented assignment and unary minus in a
check, so an intermediate that would become a heap-allocated big int on the board
raises OverflowError on CPython, naming the source line. The VM's heap_lock test proves
the same thing end to end; this one says where.
"""

import ast
import types

LIMIT = 1 << 30


class SmallIntOverflow(OverflowError):
    pass


def _chk(value, line):
    if type(value) is int and not -LIMIT < value < LIMIT:
        raise SmallIntOverflow(f"line {line}: {value} leaves the small-int range")
    return value


class _Wrap(ast.NodeTransformer):
    def _call(self, node, line):
        return ast.Call(func=ast.Name("_smallint_chk", ast.Load()),
                        args=[node, ast.Constant(line)], keywords=[])

    def visit_BinOp(self, node):
        self.generic_visit(node)
        return ast.copy_location(self._call(node, node.lineno), node)

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.USub):
            return ast.copy_location(self._call(node, node.lineno), node)
        return node

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        if isinstance(node.target, ast.Name):
            load = ast.Name(node.target.id, ast.Load())
        elif isinstance(node.target, ast.Attribute):
            load = ast.Attribute(node.target.value, node.target.attr, ast.Load())
        else:
            load = ast.Subscript(node.target.value, node.target.slice, ast.Load())
        value = self._call(ast.BinOp(load, node.op, node.value), node.lineno)
        return ast.copy_location(ast.Assign([node.target], value), node)


def load_checked(path, name, skip_functions=()):
    """Import the module at `path` with checked arithmetic.

    Functions named in skip_functions (construction-time maths, which may use big
    ints on the board because the heap is not locked then) are left unchecked.
    """
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    wrapper = _Wrap()
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.ClassDef):
            for j, item in enumerate(node.body):
                if isinstance(item, ast.FunctionDef) and item.name not in skip_functions:
                    node.body[j] = wrapper.visit(item)
        elif isinstance(node, ast.FunctionDef) and node.name not in skip_functions:
            tree.body[i] = wrapper.visit(node)
    ast.fix_missing_locations(tree)
    module = types.ModuleType(name)
    module.__file__ = path
    module._smallint_chk = _chk
    exec(compile(tree, path, "exec"), module.__dict__)
    return module
