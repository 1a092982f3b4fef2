"""Stand-in for modules/options.py: the settings (`shared.opts`) and the description of one setting."""


class OptionInfo:
    """One setting: its default, its label and the component that edits it in the settings page."""

    def __init__(self, default=None, label="", component=None, component_args=None, onchange=None, section=None, refresh=None, infotext=None):
        self.default, self.label = default, label
        self.component, self.component_args = component, component_args
        self.section, self.infotext = section, infotext
        self.onchange, self.refresh = onchange, refresh
        self.comment_after = ""

    def needs_reload_ui(self):
        self.comment_after += " (requires Reload UI)"
        return self


class Options:
    """Values by key, falling back to each option's default; extensions add options with `add_option`."""

    def __init__(self, data_labels: dict):
        object.__setattr__(self, "data_labels", dict(data_labels))
        object.__setattr__(self, "data", {})

    def add_option(self, key, info):
        self.data_labels[key] = info
        self.data.setdefault(key, info.default)

    def __getattr__(self, key):
        if key in self.data:
            return self.data[key]
        try:
            return self.data_labels[key].default
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key, value):
        self.data[key] = value
