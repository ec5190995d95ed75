"""The explainers an audit can run, by name: LIME and SHAP built in, others registered at run time.

Everything that depends on the set of explainers — :class:`~trustaudit.AuditConfig`'s
validation, :func:`~trustaudit.explain.explain_pair`, the gate's ``min_<name>_...`` checks,
the CLI's ``--explainers`` — reads it here, so a new method is one module that implements
:class:`~trustaudit.explain._protocol.Explainer` and one :func:`register_explainer` call.
"""

from __future__ import annotations

import re

from trustaudit.exceptions import InvalidInputError
from trustaudit.explain import lime, shap
from trustaudit.explain._protocol import Explainer

#: Keys of an audit's ``attribution`` section that an explainer's name must not shadow.
RESERVED = frozenset({"available", "explained", "explainers", "segment", "target", "ks", "k", "seed", "seconds", "engine", "cross_explainer"})
_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_REGISTRY: dict[str, Explainer] = {}


def register_explainer(explainer: Explainer) -> Explainer:
    """Make ``explainer`` selectable by its name (lower-case letters, digits, ``_``); returns it.

    The name becomes a results key and gate keys (``min_<name>_feature_agreement``...), so
    it must be new and not one of :data:`RESERVED`.

    Parameters
    ----------
    explainer : Explainer
        An object implementing the :class:`~trustaudit.explain.Explainer` protocol, whose
        ``default_budget`` it accepts.

    Returns
    -------
    Explainer
        ``explainer``, so that the function can decorate an instance's creation.

    Raises
    ------
    InvalidInputError
        If ``explainer`` does not implement the protocol, its name is invalid, reserved or
        taken, or its default budget is refused by its own ``check_budget``.

    Examples
    --------
    >>> from trustaudit import register_explainer
    >>> from trustaudit.explain import explainer_names
    >>> occlusion = register_explainer(MyOcclusion())  # doctest: +SKIP
    >>> "occlusion" in explainer_names()  # doctest: +SKIP
    True
    >>> register_explainer(object())
    Traceback (most recent call last):
    ...
    trustaudit.exceptions.InvalidInputError: an explainer must implement the Explainer protocol, got object
    """
    if not isinstance(explainer, Explainer):
        raise InvalidInputError(f"an explainer must implement the Explainer protocol, got {type(explainer).__name__}")
    name = explainer.name
    if not isinstance(name, str) or not _NAME.match(name) or name in RESERVED:
        raise InvalidInputError(f"explainer name must be lower-case letters, digits and _ (not a reserved key), got {name!r}")
    if name in _REGISTRY:
        raise InvalidInputError(f"an explainer named {name!r} is already registered")
    explainer.check_budget(explainer.default_budget, f"{name} default_budget")
    _REGISTRY[name] = explainer
    return explainer


def unregister_explainer(name: str) -> None:
    """Forget a registered explainer (tests and plugins); the built-in ones stay."""
    if name in EXPLAINERS:
        raise InvalidInputError(f"the built-in explainer {name!r} cannot be unregistered")
    if name not in _REGISTRY:
        raise InvalidInputError(f"no explainer named {name!r} is registered")
    del _REGISTRY[name]


def get_explainer(name: str) -> Explainer:
    """The explainer registered as ``name``, else an InvalidInputError listing the registered ones."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise InvalidInputError(f"unknown explainer {name!r}; registered: {', '.join(_REGISTRY)}") from None


def explainer_names() -> tuple[str, ...]:
    """Every registered explainer's name, built-in ones first, then in order of registration."""
    return tuple(_REGISTRY)


register_explainer(lime.EXPLAINER)
register_explainer(shap.EXPLAINER)
#: The built-in explainers, an audit's default selection.
EXPLAINERS: tuple[str, ...] = explainer_names()
#: Explainers whose budget has its own keyword and config field (kept for existing configs and CLIs).
BUDGET_FIELDS: dict[str, str] = {lime.NAME: "lime_samples", shap.NAME: "shap_max_evals"}
