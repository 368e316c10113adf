"""Training to a plateau: the learning rate is divided by 10 each time the held-out validation
accuracy stops improving, and training stops when it stops improving after the last division.

The state (how many divisions so far, whether to stop) is a pure function of the validation
accuracies recorded so far, so a resumed run takes the same decisions as an uninterrupted one and
nothing beyond the run's history has to be checkpointed.

Rule (``schedule="plateau"``): an epoch *improves* when its validation accuracy beats the best so
far by more than :data:`MIN_DELTA`. After ``patience`` epochs in a row without improvement the
learning rate is divided by :data:`FACTOR` (at most ``lr_drops`` times); ``patience`` such epochs
after the last division end the run. ``epochs`` stays a ceiling. Decisions read the validation
split only (held out from the training split): the test split never chooses when to stop.

Examples
--------
>>> plateau_state([0.80, 0.85, 0.85, 0.85], patience=2, lr_drops=1)
(1, False)
>>> plateau_state([0.80, 0.85, 0.85, 0.85, 0.851, 0.85], patience=2, lr_drops=1)
(1, True)
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["plateau_state", "FACTOR", "MIN_DELTA"]

FACTOR = 10.0  # each division of the learning rate
MIN_DELTA = 1e-3  # an improvement is more than 0.1 point of validation accuracy


def plateau_state(val_accs: Sequence[float], patience: int, lr_drops: int) -> tuple[int, bool]:
    """``(divisions so far, stop)`` after the epochs whose validation accuracies are ``val_accs``.

    Parameters
    ----------
    val_accs
        Validation accuracy after each completed epoch, in order.
    patience
        Epochs in a row without improvement before a division (or, after the last, the stop).
    lr_drops
        How many times the learning rate may be divided.
    """
    best, since, drops = float("-inf"), 0, 0
    for acc in val_accs:
        if acc > best + MIN_DELTA:
            best, since = acc, 0
        else:
            since += 1
        if since >= patience:
            if drops == lr_drops:
                return drops, True
            drops, since = drops + 1, 0
    return drops, False
