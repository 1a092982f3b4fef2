"""The one error type for bad input: it names the field at fault, so every entry (WebUI, API, CLI,
library) can point the user at it."""


class SettingsError(ValueError):
    """A setting, a map or another input is unusable; `field` names it, the message says why."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.reason = message
        super().__init__(f"{field}: {message}")
