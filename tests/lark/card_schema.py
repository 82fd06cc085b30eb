"""Feishu's message card JSON 1.0, as far as Feishu's documentation defines what this bot sends (card structure,
the div / hr / note / action modules, text objects, buttons). The SDK defines no schema of its own; the stand-in
(fake_lark.py) refuses a card that breaks these rules with 230099, as Feishu does, and tests/lark/test_cards.py
checks every reply kind against them.

Docs: open.feishu.cn "Message card structure", "Content module (div)", "Divider (hr)", "Note", "Interactive module
(action)", "Button", "Text object" (plain_text / lark_md)."""

from __future__ import annotations

from typing import Any

TEXT_TAGS = {"plain_text", "lark_md"}
TEMPLATES = {
    "blue", "wathet", "turquoise", "green", "yellow", "orange", "red", "carmine",
    "violet", "purple", "indigo", "grey", "default",
}  # fmt: skip
BUTTON_TYPES = {"default", "primary", "danger", "text", "primary_filled", "primary_text", "danger_filled"}
CARD_KEYS = {"config", "header", "elements", "i18n_elements", "card_link"}
CONFIG_KEYS = {"wide_screen_mode", "enable_forward", "update_multi"}


def card_errors(card: Any) -> list[str]:
    """What is wrong with a card, by path; empty when it follows the schema."""
    errors: list[str] = []
    if not isinstance(card, dict):
        return ["card: not an object"]
    errors += [f"card.{key}: unknown field" for key in card if key not in CARD_KEYS]
    config = card.get("config", {})
    if not isinstance(config, dict):
        errors.append("config: not an object")
    else:
        errors += [
            f"config.{key}: unknown or not a boolean"
            for key, v in config.items()
            if key not in CONFIG_KEYS or not isinstance(v, bool)
        ]
    if "header" in card:
        header = card["header"]
        if not isinstance(header, dict) or set(header) - {"title", "template"}:
            errors.append("header: only title and template")
        else:
            errors += _text(header.get("title"), "header.title", tags={"plain_text"})
            if "template" in header and header["template"] not in TEMPLATES:
                errors.append(f"header.template: {header['template']!r}")
    elements = card.get("elements")
    if not isinstance(elements, list) or not elements:
        errors.append("elements: a non-empty list")
        return errors
    for i, element in enumerate(elements):
        errors += _element(element, f"elements[{i}]")
    return errors


def _text(obj: Any, path: str, tags: set[str] = TEXT_TAGS) -> list[str]:
    if not isinstance(obj, dict) or obj.get("tag") not in tags:
        return [f"{path}: a text object with tag in {sorted(tags)}"]
    if not isinstance(obj.get("content"), str):
        return [f"{path}.content: a string"]
    if set(obj) - {"tag", "content", "lines"}:
        return [f"{path}: unknown fields {sorted(set(obj) - {'tag', 'content', 'lines'})}"]
    return []


def _button(obj: Any, path: str) -> list[str]:
    if not isinstance(obj, dict) or obj.get("tag") != "button":
        return [f"{path}: a button"]
    errors = _text(obj.get("text"), f"{path}.text")
    if obj.get("type", "default") not in BUTTON_TYPES:
        errors.append(f"{path}.type: {obj.get('type')!r}")
    if "value" in obj and not isinstance(obj["value"], dict):
        errors.append(f"{path}.value: an object")
    if set(obj) - {"tag", "text", "type", "value", "url", "multi_url", "confirm"}:
        errors.append(f"{path}: unknown fields")
    return errors


def _element(element: Any, path: str) -> list[str]:
    if not isinstance(element, dict):
        return [f"{path}: not an object"]
    tag = element.get("tag")
    if tag == "hr":
        return [] if set(element) == {"tag"} else [f"{path}: hr takes no fields"]
    if tag == "div":
        if "text" not in element and "fields" not in element:
            return [f"{path}: a div needs text or fields"]
        errors = _text(element["text"], f"{path}.text") if "text" in element else []
        for j, field in enumerate(element.get("fields", [])):
            if not isinstance(field, dict) or not isinstance(field.get("is_short"), bool):
                errors.append(f"{path}.fields[{j}]: is_short and text")
            else:
                errors += _text(field.get("text"), f"{path}.fields[{j}].text")
        if "extra" in element:
            errors += _button(element["extra"], f"{path}.extra")
        if set(element) - {"tag", "text", "fields", "extra"}:
            errors.append(f"{path}: unknown fields")
        return errors
    if tag == "note":
        parts = element.get("elements")
        if not isinstance(parts, list) or not parts:
            return [f"{path}.elements: a non-empty list"]
        return [e for j, part in enumerate(parts) for e in _text(part, f"{path}.elements[{j}]")]
    if tag == "action":
        actions = element.get("actions")
        if not isinstance(actions, list) or not actions:
            return [f"{path}.actions: a non-empty list"]
        return [e for j, button in enumerate(actions) for e in _button(button, f"{path}.actions[{j}]")]
    return [f"{path}: unknown tag {tag!r}"]
