"""modules/options.py: OptionInfo and the Options object behind shared.opts."""


class OptionInfo:
    def __init__(
        self, default=None, label="", component=None, component_args=None, onchange=None, section=None, refresh=None, infotext=None
    ):
        self.default = default
        self.label = label
        self.component = component
        self.component_args = component_args
        self.onchange = onchange
        self.section = section
        self.refresh = refresh
        self.infotext = infotext
        self.comment_after = ""

    def needs_reload_ui(self):
        self.comment_after += " (requires Reload UI)"
        return self


class Options:
    def __init__(self, data_labels: dict):
        super().__setattr__("data_labels", dict(data_labels))
        super().__setattr__("data", {})

    def add_option(self, key, info):
        self.data_labels[key] = info
        if key not in self.data:
            self.data[key] = info.default

    def __getattr__(self, item):
        if item in self.data:
            return self.data[item]
        if item in self.data_labels:
            return self.data_labels[item].default
        raise AttributeError(item)

    def __setattr__(self, key, value):
        self.data[key] = value
