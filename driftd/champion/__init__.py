"""The champion where serving code can take it.

* :mod:`.pointer` - ``<artifacts>/<model>/CHAMPION.json``, rewritten from the registry after
  every change and repaired by the start-up sweep;
* :mod:`.hooks` - ``models.promotion.on_champion_change``, run after the commit, recorded;
* :mod:`.change` - the two, in that order, after every committed champion change;
* :mod:`.load` - :func:`~driftd.champion.load.load_champion` and ``changed_since`` for
  serving code (``driftd.load_champion``);
* :mod:`.manual` - the operator's promote and rollback with their refusals
  (:class:`driftd.Registry`, ``driftd promote``, ``driftd rollback``).

Nothing here imports pandas or scikit-learn at module level.
"""
