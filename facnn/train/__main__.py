"""``python -m facnn.train``: see :mod:`facnn.train.cli`."""

from facnn.train.cli import main

main()
