"""ESPnet-style class choices: ``encoder: conformer`` plus ``encoder_conf: {...}`` in a config.

A :class:`ClassChoices` is a plain dict registry with the validation around it: the choice must
be a registered name, every key of ``<name>_conf`` must be a constructor argument whose type
annotation the value meets, and the resolved conf lists every argument with its default so that
a printed config is complete.

Types are checked twice, with the same annotations: when a config is resolved
(:func:`conf_type_error`, naming the file, line and key before anything is built), and by the
constructors themselves (``typeguard``'s ``@typechecked``), whose ``TypeCheckError``
:func:`build_from_conf` turns into the same :class:`ConfigError` when a conf built them.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Mapping
from typing import Any

from typeguard import CollectionCheckStrategy, TypeCheckError, check_type

from cifasr.utils.config import ConfigError, KeyLocations, closest, unknown_key_error

# YAML 1.1 (PyYAML) reads an exponent without a dot (1e-8) as a string.
_EXPONENT_WITHOUT_DOT = re.compile(r"[+-]?\d+[eE][+-]?\d+")


def constructor_defaults(cls: type, fixed: tuple[str, ...] = ()) -> dict[str, Any]:
    """Keyword arguments of ``cls.__init__`` with their defaults (``inspect.Parameter.empty`` when
    required), leaving out ``self`` and the ``fixed`` arguments the builder passes itself."""
    params = inspect.signature(cls.__init__).parameters
    out: dict[str, Any] = {}
    for name, p in params.items():
        if name == "self" or name in fixed:
            continue
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"{cls.__name__}: configurable classes cannot take *args/**kwargs")
        out[name] = p.default
    return out


def _type_text(hint: Any) -> str:
    """``int``, ``float | None``, ``Sequence[int] | None``: an annotation as a user reads it."""
    if isinstance(hint, type) and not typing.get_args(hint):
        return hint.__name__
    return re.sub(r"\b(?:typing|collections\.abc|builtins)\.", "", str(hint))


def _meets(value: Any, hint: Any) -> bool:
    try:
        check_type(value, hint, collection_check_strategy=CollectionCheckStrategy.ALL_ITEMS)
    except TypeCheckError:
        return False
    return True


def _value_hint(value: Any, hint: Any) -> str:
    """What to write instead of a string where a number was expected (empty otherwise)."""
    if not isinstance(value, str):
        return ""
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        return ""
    if number.is_integer() and _meets(int(number), hint):
        return f"; write {int(number)} (a number, without quotes)"
    if not _meets(number, hint):
        return ""
    if _EXPONENT_WITHOUT_DOT.fullmatch(text):
        mantissa, _, exponent = text.lower().partition("e")
        return f"; YAML reads {text} as a string: write {mantissa}.0e{exponent}"
    return f"; a quoted number is a string in YAML: write {text} without quotes"


def constructor_type_hints(cls: Callable[..., Any]) -> dict[str, Any]:
    """The resolved annotations of ``cls.__init__`` (empty when they cannot be resolved)."""
    try:
        return typing.get_type_hints(cls.__init__)
    except (NameError, TypeError):
        return {}


def conf_type_error(
    cls: Callable[..., Any],
    conf: Mapping[str, Any],
    prefix: str,
    locations: KeyLocations,
    what: str,
) -> ConfigError | None:
    """The error for the first value of ``conf`` that does not meet its annotation in
    ``cls.__init__`` (every list item checked), or None when all do.

    Args:
        cls: the class the conf constructs.
        conf: constructor arguments by name.
        prefix: the config key of ``conf`` (``"encoder_conf"``); the error names
            ``<prefix>.<argument>`` with its file and line.
        locations: where each key of the config was written.
        what: the thing built, for the message (``"encoder 'conformer'"``).
    """
    hints = constructor_type_hints(cls)
    for key, value in conf.items():
        if key in hints and not _meets(value, hints[key]):
            return ConfigError(
                f"{locations.where(f'{prefix}.{key}')}: {value!r} is a {type(value).__name__}, "
                f"but {what} needs {_type_text(hints[key])}{_value_hint(value, hints[key])}"
            )
    return None


def build_from_conf(
    cls: Callable[..., Any],
    args: tuple[Any, ...],
    conf: Mapping[str, Any],
    prefix: str,
    locations: KeyLocations,
    what: str,
) -> Any:
    """``cls(*args, **conf)``, turning a ``TypeCheckError`` of a ``@typechecked`` constructor into
    a :class:`ConfigError` naming the conf key (and its file and line).

    Raises:
        ConfigError: a value of ``conf`` has the wrong type (or, when the culprit is not a conf
            value, the constructor's own message under the ``prefix`` key).
    """
    try:
        return cls(*args, **conf)
    except TypeCheckError as e:
        error = conf_type_error(cls, conf, prefix, locations, what)
        if error is None:
            error = ConfigError(f"{locations.where(prefix)}: building {what}: {e}")
        raise error from e


class ClassChoices:
    """A named registry of classes selectable from a config.

    Args:
        name: the config key of the choice (``"encoder"``); its arguments live under
            ``"<name>_conf"``.
        classes: registered name -> class.
        default: the choice used when the key is absent (None: nothing is built by default).
        optional: whether ``<name>: null`` (no module) is allowed.
        fixed: constructor arguments the builder passes itself (e.g. ``input_size``); they are not
            accepted in the conf.
        check_types: check conf values against the constructor's annotations (off for classes
            whose annotations are not YAML-shaped, such as torch's optimisers: ``betas`` is a
            tuple there, a list in YAML).
    """

    def __init__(
        self,
        name: str,
        classes: Mapping[str, type],
        default: str | None,
        optional: bool = False,
        fixed: tuple[str, ...] = (),
        check_types: bool = True,
    ) -> None:
        self.name = name
        self.classes = dict(classes)
        self.default = default
        self.optional = optional
        self.fixed = fixed
        self.check_types = check_types

    @property
    def conf_key(self) -> str:
        return f"{self.name}_conf"

    def resolve(
        self, config: Mapping[str, Any], locations: KeyLocations
    ) -> tuple[str | None, dict[str, Any]]:
        """The chosen name and its complete conf (defaults filled in) from ``config``.

        Raises:
            ConfigError: unknown choice, unknown conf key, a value of the wrong type, a missing
                required argument, or a conf given for ``null``.
        """
        choice = config.get(self.name, self.default)
        conf = config.get(self.conf_key) or {}
        if not isinstance(conf, Mapping):
            raise ConfigError(
                f"{locations.where(self.conf_key)}: must be a mapping of constructor arguments"
            )
        if choice is None:
            if not self.optional:
                raise ConfigError(
                    f"{locations.where(self.name)}: a {self.name} is required; choose one of "
                    f"{', '.join(sorted(self.classes))}"
                )
            if conf:
                raise ConfigError(
                    f"{locations.where(self.conf_key)}: given, but {self.name} is null; "
                    f"remove it or "
                    f"choose a {self.name}"
                )
            return None, {}
        if choice not in self.classes:
            hint = closest(str(choice), self.classes)
            suggestion = f"; did you mean '{hint}'?" if hint else "."
            raise ConfigError(
                f"{locations.where(self.name)}: unknown {self.name} '{choice}'{suggestion} "
                f"Choices: {', '.join(sorted(self.classes))}"
            )
        defaults = constructor_defaults(self.classes[choice], self.fixed)
        for key in conf:
            if key not in defaults:
                raise unknown_key_error(
                    key, defaults, locations, prefix=self.conf_key, what=f"{self.name} '{choice}'"
                )
        if self.check_types:
            error = conf_type_error(
                self.classes[choice], conf, self.conf_key, locations, f"{self.name} '{choice}'"
            )
            if error is not None:
                raise error
        full = {**defaults, **conf}
        missing = [k for k, v in full.items() if v is inspect.Parameter.empty]
        if missing:
            raise ConfigError(
                f"{locations.where(self.conf_key)}: {self.name} '{choice}' needs "
                f"{', '.join(missing)}"
            )
        return choice, full

    def build(
        self,
        choice: str | None,
        conf: Mapping[str, Any],
        *args: Any,
        locations: KeyLocations | None = None,
    ) -> Any:
        """Instantiate the resolved choice with the fixed positional ``args`` and ``conf``.

        Raises:
            ConfigError: a conf value has the wrong type (naming ``<name>_conf.<key>``, and its
                file and line when ``locations`` says where the config was written).
        """
        if choice is None:
            return None
        return build_from_conf(
            self.classes[choice],
            args,
            conf,
            self.conf_key,
            locations or KeyLocations(),
            f"{self.name} '{choice}'",
        )
