"""The paper companion: what the notebooks in ``notebooks/`` call. Experiments over the shipped
models (:mod:`.experiments`), records of every run with tolerances (:mod:`.records`, ``python -m
facnn.companion.records accept``), the reproduction check (:mod:`.reproduce`, ``python -m
facnn.companion.reproduce``) and the claims table (:mod:`.claims`).

The library (``facnn.models``, ``.explain``, ``.evaluate``, ``.data``, ``.train``) never imports
this package; import its modules directly (``from facnn.companion import experiments as ex``)."""
