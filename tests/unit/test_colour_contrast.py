"""The stylesheet's text greys read at WCAG AA contrast (4.5:1) on its light surfaces."""

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "pasar.css"


def luminance(hex_color: str) -> float:
    value = hex_color.lstrip("#")
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def variable(name: str) -> str:
    match = re.search(rf"--{name}:\s*(#[0-9a-fA-F]{{6}})", CSS.read_text())
    assert match, f"--{name} is not a six-digit colour in pasar.css"
    return match.group(1)


@pytest.mark.parametrize("grey", ["ink-faint", "ink-soft"])
@pytest.mark.parametrize("surface", ["#ffffff", "paper", "#f1f0ee"])
def test_text_greys_meet_aa_contrast(grey, surface):
    background = surface if surface.startswith("#") else variable(surface)
    assert contrast(variable(grey), background) >= 4.5
