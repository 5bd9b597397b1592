"""Reads the HTML forms of the emulator's consent page the way a browser would, to submit them with httpx."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Button:
    name: str | None
    value: str
    label: str


@dataclass
class Choice:
    """One option of a user picker: a <select> option or a radio button."""

    name: str
    value: str
    label: str
    selected: bool


@dataclass
class Form:
    action: str
    method: str
    hidden: dict[str, str] = field(default_factory=dict)
    choices: list[Choice] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)

    def button(self, word: str) -> Button | None:
        for button in self.buttons:
            if word.lower() in (button.label + " " + button.value).lower():
                return button
        return None

    def submission(self, button_word: str, pick: str | None = None) -> dict[str, str]:
        """The fields a browser would post when the user picks `pick` and clicks `button_word`."""
        data = dict(self.hidden)
        names = {c.name for c in self.choices}
        for name in names:
            options = [c for c in self.choices if c.name == name]
            chosen = None
            if pick is not None:
                chosen = next((c for c in options if pick.lower() in (c.value + c.label).lower()), None)
            if chosen is None:
                chosen = next((c for c in options if c.selected), None)
            if chosen is not None:
                data[name] = chosen.value
        button = self.button(button_word)
        if button is None:
            raise AssertionError(f"no {button_word!r} button in form {self!r}")
        if button.name:
            data[button.name] = button.value
        return data


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._select: str | None = None
        self._option: Choice | None = None
        self._button: Button | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(action=a.get("action", ""), method=a.get("method", "get").lower()))
            return
        if not self.forms:
            return
        form = self.forms[-1]
        if tag == "input":
            kind = a.get("type", "text").lower()
            name = a.get("name", "")
            if kind == "hidden" and name:
                form.hidden[name] = a.get("value", "")
            elif kind in ("radio", "checkbox") and name:
                form.choices.append(Choice(name, a.get("value", "on"), a.get("value", ""), "checked" in a))
            elif kind == "submit":
                form.buttons.append(Button(a.get("name") or None, a.get("value", ""), a.get("value", "")))
            elif name:
                form.hidden[name] = a.get("value", "")
        elif tag == "select":
            self._select = a.get("name", "")
        elif tag == "option" and self._select is not None:
            self._option = Choice(self._select, a.get("value", ""), "", "selected" in a)
            form.choices.append(self._option)
        elif tag == "button" and a.get("type", "submit").lower() == "submit":
            self._button = Button(a.get("name") or None, a.get("value", ""), "")
            form.buttons.append(self._button)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "option":
            self._option = None
        elif tag == "button":
            self._button = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._option is not None:
            self._option.label += data.strip()
            if not self._option.value:
                self._option.value = data.strip()
        if self._button is not None:
            self._button.label += data.strip()


def parse_page(html: str) -> tuple[list[Form], str]:
    """The forms of a page and its visible text."""
    parser = _FormParser()
    parser.feed(html)
    return parser.forms, " ".join(" ".join(parser.text).split())


def consent_form(forms: list[Form], button_word: str) -> Form:
    for form in forms:
        if form.button(button_word) is not None:
            return form
    raise AssertionError(f"no form with a {button_word!r} button among {forms!r}")
