"""A pyll graph turned into a fixed list of function calls, evaluated many times.

``pyll.rec_eval`` works out, on every call, which nodes a graph needs and in what order
(a depth-first walk with a stack, plus bookkeeping to free memory early). For a graph that
is evaluated again and again with the same nodes given, that order never changes, so
``PyllProgram`` works it out once, in exactly the order ``rec_eval`` would use, and then
only calls the functions. The order matters beyond speed: the graph's random draws share
one generator, so they must happen in ``rec_eval``'s order to give the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from hyperopt import pyll
from hyperopt.pyll import scope

# rec_eval evaluates only the taken branch of a switch, chosen by a value it has just
# computed; a fixed order cannot express that, so such graphs are refused.
_LAZY_NODES = frozenset({"switch"})


class PyllProgram:
    """Evaluates ``root`` given values for the nodes in ``given``, as rec_eval would."""

    def __init__(self, root: Any, given: Iterable[Any]) -> None:
        self._root = pyll.as_apply(root)
        given = set(given)
        self._literals = {node: node.obj for node in pyll.dfs(self._root)
                          if isinstance(node, pyll.Literal) and node not in given}
        # Functions are looked up once; pyll keeps them in its scope's table by name.
        self._steps: list[tuple[Any, Callable[..., Any]]] = [
            (node, scope._impls[node.name]) for node in _rec_eval_order(self._root, given)]

    @classmethod
    def supports(cls, root: Any) -> bool:
        return not any(node.name in _LAZY_NODES for node in pyll.dfs(pyll.as_apply(root)))

    def evaluate(self, given: Mapping[Any, Any]) -> Any:
        values = {**self._literals, **given}
        for node, function in self._steps:
            result = function(*[values[arg] for arg in node.pos_args],
                              **{name: values[arg] for name, arg in node.named_args})
            while isinstance(result, pyll.Apply):
                # Some functions (hyperopt's categorical sampler) return a small graph to
                # evaluate instead of a value; rec_eval evaluates it there and then.
                result = _evaluate_returned(result, values)
            values[node] = result
        return values[self._root]


def _evaluate_returned(graph: Any, values: dict[Any, Any]) -> Any:
    """A graph a function returned: called directly if it is one node on constants."""
    if graph.name in _LAZY_NODES or not all(isinstance(arg, pyll.Literal)
                                            for arg in graph.inputs()):
        return pyll.rec_eval(graph, memo=values)
    # rec_eval would walk, copy and clean up a memo for this one call; hyperopt makes one
    # such graph per categorical label per suggestion.
    return scope._impls[graph.name](*[arg.obj for arg in graph.pos_args],
                                    **{name: arg.obj for name, arg in graph.named_args})


def _rec_eval_order(root: Any, given: set[Any]) -> list[Any]:
    """The non-literal nodes rec_eval would call, in its order, when ``given`` are known."""
    done = set(given)
    order = []
    todo = [root]
    while todo:
        node = todo.pop()
        if node in done:
            continue
        if isinstance(node, pyll.Literal):
            done.add(node)
            continue
        waiting = [arg for arg in node.inputs() if arg not in done]
        if waiting:
            # Put the node back under its inputs; the last input is taken first.
            todo.append(node)
            todo.extend(waiting)
        else:
            done.add(node)
            order.append(node)
    return order
