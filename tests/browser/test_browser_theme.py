"""Docker Desktop's look in Chromium: the test page's component gallery (``#gallery``), rendered by
the real @docker/docker-mui-theme provider from the shim's ``window.__ddMuiV5Themes``, has the
computed styles of Docker's published theme (@docker/docker-mui-theme 0.0.4, dist/themes.js and
dist/colors.js), light and dark.

The expected values are worked out from that theme's facts, not read back from the page: a 12 px
type base (MUI's variants at 12/14 of their size, in rem of a 16 px root), body1 14 px,
subtitle1 16 px, subtitle2 22 px semi-bold, "Open SansVariable" first, primary #007BFF,
secondary #E12B0C, and the component overrides quoted next to each check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import ClientPage

pytestmark = pytest.mark.browser

FONT = '"Open SansVariable", "Helvetica Neue", sans-serif'
WHITE = "rgb(255, 255, 255)"
PRIMARY = "rgb(0, 123, 255)"  # colors.marine50
SECONDARY = "rgb(225, 43, 12)"  # #E12B0C
TEXT_SECONDARY = "rgb(112, 120, 125)"  # #70787D in both modes


def scaled(px: float) -> float:
    """A MUI default variant size at Docker's 12 px base (MUI's own base is 14 px)."""
    return px * 12 / 14


# MUI's default heading scale and weights, which Docker's theme keeps, at its 12 px base.
HEADINGS = {
    "h1": (scaled(96), "300"),
    "h2": (scaled(60), "300"),
    "h3": (scaled(48), "400"),
    "h4": (scaled(34), "400"),
    "h5": (scaled(24), "400"),
    "h6": (scaled(20), "500"),
}
TEXTS = {
    "subtitle1": (16, "400"),
    "subtitle2": (22, "600"),
    "body1": (14, "400"),
    "body2": (scaled(14), "400"),
    "caption": (scaled(12), "400"),
    "overline": (scaled(12), "400"),
}

# What differs between the modes.
MODES: dict[str, dict[str, str]] = {
    "light": {
        "background": "rgb(244, 244, 246)",  # #F4F4F6
        "text": "rgba(0, 0, 0, 0.87)",  # MUI's light text.primary, kept
        "outline": "rgba(0, 0, 0, 0.23)",  # MuiOutlinedInput.notchedOutline
        "tooltip": "rgb(47, 59, 67)",  # #2F3B43
        "dialog": WHITE,  # MuiDialog.paperScrollPaper: colors.white0
    },
    "dark": {
        "background": "rgb(32, 44, 51)",  # #202C33
        "text": WHITE,  # #FFF
        "outline": "rgb(85, 93, 97)",  # #555D61
        "tooltip": "rgb(92, 105, 114)",  # #5C6972
        "dialog": "rgb(32, 44, 51)",  # the paper background, no override in dark
    },
}

STYLES_JS = """([selector, names]) => {
  const element = document.querySelector(selector);
  if (!element) return null;
  const style = getComputedStyle(element);
  return Object.fromEntries(names.map((name) => [name, style.getPropertyValue(name)]));
}"""


def styles(page: ClientPage, selector: str, *names: str) -> dict[str, str]:
    """The computed values of CSS properties ``names`` of the element ``selector`` selects."""
    found: dict[str, str] | None = page.page.evaluate(STYLES_JS, [selector, list(names)])
    assert found is not None, f"nothing matches {selector}"
    return found


def px(value: str) -> float:
    assert value.endswith("px"), value
    return float(value[:-2])


def by_id(test_id: str, inner: str = "") -> str:
    return f'[data-testid="{test_id}"]{inner}'


@pytest.fixture(params=sorted(MODES))
def gallery(request: pytest.FixtureRequest, client_page: ClientPage) -> tuple[str, ClientPage]:
    """The gallery of the test page in light or dark mode (as the system's colour scheme)."""
    mode: str = request.param
    client_page.page.emulate_media(color_scheme="dark" if mode == "dark" else "light")
    client_page.page.evaluate("location.hash = 'gallery'")
    expect(client_page.page.get_by_test_id("gallery")).to_be_visible()
    return mode, client_page


def test_the_v5_and_v6_theme_bags_are_the_same_plain_options(client_page: ClientPage) -> None:
    same = client_page.page.evaluate(
        "JSON.stringify(window.__ddMuiV5Themes) === JSON.stringify(window.__ddMuiV6Themes)"
    )
    assert same


def test_type_scale_weights_and_body_font(gallery: tuple[str, ClientPage]) -> None:
    mode, page = gallery
    body = styles(page, "body", "font-family", "font-size", "background-color", "color")
    assert body == {
        "font-family": FONT,
        "font-size": "14px",
        "background-color": MODES[mode]["background"],
        "color": MODES[mode]["text"],
    }
    measured = {}
    for variant in [*HEADINGS, *TEXTS]:
        style = styles(page, by_id(f"type-{variant}"), "font-size", "font-weight", "font-family")
        measured[variant] = (round(px(style["font-size"]), 2), style["font-weight"], style["font-family"])
    expected = {
        variant: (round(size, 2), weight, FONT) for variant, (size, weight) in (HEADINGS | TEXTS).items()
    }
    assert measured == expected
    # MUI's default spacing unit (8 px): the gallery's p: 2.
    assert styles(page, by_id("gallery"), "padding-top")["padding-top"] == "16px"


def test_buttons(gallery: tuple[str, ClientPage]) -> None:
    _, page = gallery
    names = ("background-color", "color", "font-weight", "font-size", "text-transform", "box-shadow")
    # MuiButton.root {textTransform: 'initial', fontWeight: 600}, contained {boxShadow: 'none'}.
    common = {"font-weight": "600", "font-size": "12px", "text-transform": "none", "box-shadow": "none"}
    assert styles(page, by_id("button-contained"), *names, "border-radius") == {
        "background-color": PRIMARY,
        "color": WHITE,
        "border-radius": "4px",
        **common,
    }
    assert styles(page, by_id("button-secondary"), *names) == {
        "background-color": SECONDARY,
        "color": WHITE,
        **common,
    }
    # MuiButton.outlinedPrimary {color: primary.main, border: 1px solid primary.main}.
    outlined = styles(page, by_id("button-outlined"), "color", "border-top-color", "border-top-width")
    assert outlined == {"color": PRIMARY, "border-top-color": PRIMARY, "border-top-width": "1px"}


def test_tabs(gallery: tuple[str, ClientPage]) -> None:
    _, page = gallery
    # No Tab override: MUI's tab on Docker's button typography (12 px, medium, upper case).
    names = ("color", "font-size", "font-weight", "text-transform", "font-family")
    tab = {"font-size": "12px", "font-weight": "500", "text-transform": "uppercase", "font-family": FONT}
    assert styles(page, by_id("tab-selected"), *names) == {"color": PRIMARY, **tab}
    assert styles(page, by_id("tab-other"), *names) == {"color": TEXT_SECONDARY, **tab}
    indicator = styles(page, ".MuiTabs-indicator", "background-color")
    assert indicator == {"background-color": PRIMARY}


def test_text_field(gallery: tuple[str, ClientPage]) -> None:
    mode, page = gallery
    assert styles(page, by_id("text-field"), "font-size", "font-family", "color") == {
        "font-size": "14px",
        "font-family": FONT,
        "color": MODES[mode]["text"],
    }
    # MuiOutlinedInput.notchedOutline {borderColor: ... !important, borderWidth: '1px !important'}.
    outline = styles(page, by_id("text-field", " ~ fieldset"), "border-top-color", "border-top-width")
    assert outline == {"border-top-color": MODES[mode]["outline"], "border-top-width": "1px"}
    field = styles(page, ".MuiOutlinedInput-root", "border-top-left-radius")
    assert field == {"border-top-left-radius": "4px"}
    # MuiInputLabel.shrink {transform: 'translate(0, 1.6px) scale(0.86)'}, which (as in MUI v4)
    # moves a standard field's label only: an outlined label keeps its place on the outline.
    standard = styles(page, by_id("label-standard"), "transform")
    assert standard == {"transform": "matrix(0.86, 0, 0, 0.86, 0, 1.6)"}
    outlined = styles(page, by_id("label-outlined"), "transform")
    assert outlined == {"transform": "matrix(0.75, 0, 0, 0.75, 14, -9)"}


def test_table_cells(gallery: tuple[str, ClientPage]) -> None:
    mode, page = gallery
    names = ("font-size", "font-weight", "font-family", "color")
    cell = {"font-size": "12px", "font-family": FONT, "color": MODES[mode]["text"]}
    assert styles(page, by_id("table-head"), *names) == {**cell, "font-weight": "500"}
    assert styles(page, by_id("table-cell-web"), *names) == {**cell, "font-weight": "400"}
    # MuiTableRow.hover {backgroundColor: 'transparent !important'}: a hover row does not shade.
    page.page.get_by_test_id("table-cell-web").hover()
    row = styles(page, by_id("table-row-web", ":hover"), "background-color")
    assert row == {"background-color": "rgba(0, 0, 0, 0)"}


def test_chips(gallery: tuple[str, ClientPage]) -> None:
    _, page = gallery
    names = ("height", "font-size", "border-top-left-radius", "text-transform", "background-color")
    assert styles(page, by_id("chip"), *names) == {
        "height": "32px",
        "font-size": f"{round(scaled(13), 4)}px",
        "border-top-left-radius": "16px",
        "text-transform": "none",
        "background-color": PRIMARY,
    }
    # MuiChip.sizeSmall {height: 14, fontSize: 8, borderRadius: 4, textTransform: 'uppercase'}.
    assert styles(page, by_id("chip-small"), *names) == {
        "height": "14px",
        "font-size": "8px",
        "border-top-left-radius": "4px",
        "text-transform": "uppercase",
        "background-color": PRIMARY,
    }
    # MuiChip.labelSmall {paddingLeft: 4, paddingRight: 4}.
    label = styles(page, by_id("chip-small", " .MuiChip-label"), "padding-left", "padding-right")
    assert label == {"padding-left": "4px", "padding-right": "4px"}


def test_dialog(gallery: tuple[str, ClientPage]) -> None:
    mode, page = gallery
    # MuiPaper.root {borderRadius: '0 !important'}; the light dialog paper is white.
    paper = styles(page, by_id("dialog-paper"), "background-color", "border-top-left-radius", "color")
    assert paper == {
        "background-color": MODES[mode]["dialog"],
        "border-top-left-radius": "0px",
        "color": MODES[mode]["text"],
    }
    title = styles(page, by_id("dialog-title"), "font-size", "font-weight")
    assert title == {"font-size": f"{round(scaled(20), 4)}px", "font-weight": "500"}


def test_tooltip(gallery: tuple[str, ClientPage]) -> None:
    mode, page = gallery
    names = ("font-size", "line-height", "letter-spacing", "text-transform", "color", "background-color")
    expected: dict[str, Any] = {
        "font-size": "10px",
        "line-height": "13px",
        "letter-spacing": "1px",
        "text-transform": "uppercase",
        "color": WHITE,
        "background-color": MODES[mode]["tooltip"],
    }
    assert styles(page, ".MuiTooltip-tooltip", *names) == expected


def test_gallery_screenshots(gallery: tuple[str, ClientPage], artifacts: Path) -> None:
    """The README's gallery pictures (docs/images/mui-gallery-*.png are copies of these)."""
    mode, page = gallery
    page.page.set_viewport_size({"width": 1000, "height": 700})
    page.page.screenshot(path=artifacts / f"mui-gallery-{mode}.png", full_page=True, animations="disabled")
