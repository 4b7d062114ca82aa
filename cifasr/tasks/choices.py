"""ESPnet-style class choices: ``encoder: conformer`` plus ``encoder_conf: {...}`` in a config.

A :class:`ClassChoices` is a plain dict registry with the validation around it: the choice must
be a registered name, every key of ``<name>_conf`` must be a constructor argument, and the
resolved conf lists every argument with its default so that a printed config is complete.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from cifasr.utils.config import ConfigError, KeyLocations, closest, unknown_key_error


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
    """

    def __init__(
        self,
        name: str,
        classes: Mapping[str, type],
        default: str | None,
        optional: bool = False,
        fixed: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.classes = dict(classes)
        self.default = default
        self.optional = optional
        self.fixed = fixed

    @property
    def conf_key(self) -> str:
        return f"{self.name}_conf"

    def resolve(
        self, config: Mapping[str, Any], locations: KeyLocations
    ) -> tuple[str | None, dict[str, Any]]:
        """The chosen name and its complete conf (defaults filled in) from ``config``.

        Raises:
            ConfigError: unknown choice, unknown conf key, a missing required argument, or a conf
                given for ``null``.
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
        full = {**defaults, **conf}
        missing = [k for k, v in full.items() if v is inspect.Parameter.empty]
        if missing:
            raise ConfigError(
                f"{locations.where(self.conf_key)}: {self.name} '{choice}' needs "
                f"{', '.join(missing)}"
            )
        return choice, full

    def build(self, choice: str | None, conf: Mapping[str, Any], *args: Any) -> Any:
        """Instantiate the resolved choice with the fixed positional ``args`` and ``conf``."""
        if choice is None:
            return None
        return self.classes[choice](*args, **conf)
