"""The hand-kept type stubs (lumac/__init__.pyi) match the module: the same public names, and
for every function and method the same parameters with the same defaults."""

import ast
import inspect
import pathlib

import lumac

STUB = pathlib.Path(lumac.__file__).with_name("__init__.pyi")


def stub_tree():
    return ast.parse(STUB.read_text())


def stub_params(fn):
    a = fn.args
    names = [x.arg for x in a.posonlyargs + a.args] + [x.arg for x in a.kwonlyargs]
    defaults = [ast.literal_eval(d) for d in a.defaults]
    kw_defaults = {x.arg: ast.literal_eval(d) for x, d in zip(a.kwonlyargs, a.kw_defaults)
                   if d is not None}
    pos = [x.arg for x in a.posonlyargs + a.args]
    pos_defaults = dict(zip(pos[len(pos) - len(defaults):], defaults))
    return names, {**pos_defaults, **kw_defaults}


def runtime_params(obj):
    sig = inspect.signature(obj)
    names = list(sig.parameters)
    defaults = {n: p.default for n, p in sig.parameters.items()
                if p.default is not inspect.Parameter.empty}
    return names, defaults


def test_every_public_name_is_stubbed():
    tree = stub_tree()
    stubbed = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    stubbed |= {t.id for n in tree.body if isinstance(n, ast.AnnAssign)
                for t in [n.target] if isinstance(t, ast.Name)}
    assert set(lumac.__all__) <= stubbed, set(lumac.__all__) - stubbed


def test_python_functions_and_methods_match_their_stubs():
    tree = stub_tree()
    checked = 0
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            obj = getattr(lumac, node.name)
            if inspect.isfunction(obj):
                assert stub_params(node) == runtime_params(obj), node.name
                checked += 1
        if isinstance(node, ast.ClassDef) and node.name in ("Model", "Result", "ArrayResult"):
            cls = getattr(lumac, node.name)
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not any(
                        isinstance(d, ast.Name) and d.id == "property" for d in item.decorator_list):
                    obj = getattr(cls, item.name)
                    if inspect.isfunction(obj):
                        assert stub_params(item) == runtime_params(obj), f"{node.name}.{item.name}"
                        checked += 1
    assert checked >= 20


def test_native_functions_are_stubbed():
    # The native functions re-exported as they are (pybind11 gives no inspect signature): their
    # names at least are in the stub and in the module.
    tree = stub_tree()
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    for name in ("presets", "data_dir"):
        assert name in names and callable(getattr(lumac, name))
    config = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Config")
    methods = {n.name for n in config.body if isinstance(n, ast.FunctionDef)}
    for m in methods:
        assert hasattr(lumac.Config, m), m
