"""Train/eval mode handling shared by every function that runs a user's model: the model is put
in eval mode for the call and handed back in the mode it came in, whatever happens.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from torch import nn

__all__ = ["eval_mode", "in_eval_mode"]


@contextmanager
def eval_mode(model: Any) -> Iterator[Any]:
    """Put ``model`` in eval mode for the block and restore its previous mode (a plain callable
    is left as it is).

    >>> m = nn.BatchNorm1d(2).train()
    >>> with eval_mode(m):
    ...     m.training
    False
    >>> m.training
    True
    """
    if not isinstance(model, nn.Module):
        yield model
        return
    was = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was)


F = TypeVar("F", bound=Callable[..., Any])


def in_eval_mode(fn: F) -> F:
    """Decorate a function whose first argument is a model so that it runs in eval mode and the
    model is handed back in the mode it came in.

    >>> @in_eval_mode
    ... def mode(model):
    ...     return model.training
    >>> m = nn.BatchNorm1d(2).train(); mode(m), m.training
    (False, True)
    """

    @functools.wraps(fn)
    def run(model: Any, *args: Any, **kwargs: Any) -> Any:
        with eval_mode(model):
            return fn(model, *args, **kwargs)

    return run  # type: ignore[return-value]
