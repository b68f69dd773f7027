"""Accessibility checks shared by the web tests: WCAG 2 contrast, and what a page must satisfy."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page

AA_NORMAL = 4.5
AA_LARGE = 3.0


def parse_colour(text: str) -> tuple[float, float, float]:
    """`#rgb`, `#rrggbb` or `rgb(a)(r, g, b[, a])` to 0..255 floats (alpha ignored: opaque pairs)."""
    text = text.strip()
    if text.startswith("#"):
        digits = text[1:]
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        return tuple(float(int(digits[i : i + 2], 16)) for i in (0, 2, 4))  # type: ignore[return-value]
    numbers = [float(n) for n in re.findall(r"[\d.]+", text)[:3]]
    return numbers[0], numbers[1], numbers[2]


def luminance(rgb: tuple[float, float, float]) -> float:
    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: str, bg: str) -> float:
    """WCAG 2.x contrast ratio, 1..21."""
    a, b = luminance(parse_colour(fg)), luminance(parse_colour(bg))
    light, dark = max(a, b), min(a, b)
    return (light + 0.05) / (dark + 0.05)


# Every element with text of its own: its colour, the first opaque background behind it, and
# whether it counts as large text (24 px, or 18.66 px bold).
_TEXT_PAIRS_JS = """
() => {
  const out = [];
  const opaque = (c) => c && c !== 'transparent' && !/rgba\\(.*,\\s*0\\)$/.test(c);
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (style.visibility === 'hidden' || style.display === 'none' || box.width === 0 || box.height === 0) continue;
    if (el.closest('.visually-hidden')) continue;
    let bg = null;
    for (let node = el; node; node = node.parentElement) {
      const c = getComputedStyle(node).backgroundColor;
      if (opaque(c)) { bg = c; break; }
    }
    const size = parseFloat(style.fontSize);
    const bold = Number(style.fontWeight) >= 700;
    out.push({
      text: el.textContent.trim().slice(0, 40), tag: el.tagName, cls: el.className,
      fg: style.color, bg: bg || 'rgb(255, 255, 255)', large: size >= 24 || (bold && size >= 18.66),
    });
  }
  return out;
}
"""

_UNLABELLED_JS = """
() => [...document.querySelectorAll('input, select, textarea')]
  .filter((el) => el.type !== 'hidden')
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
  .map((el) => el.id || el.name || el.outerHTML.slice(0, 80))
"""


def low_contrast(page: Page) -> list[dict[str, Any]]:
    """Text on the page below WCAG AA (4.5:1, or 3:1 for large text)."""
    failures = []
    pairs: list[dict[str, Any]] = page.evaluate(_TEXT_PAIRS_JS)
    assert pairs, "no text found on the page"
    for pair in pairs:
        ratio = contrast(pair["fg"], pair["bg"])
        if ratio < (AA_LARGE if pair["large"] else AA_NORMAL):
            failures.append({**pair, "ratio": round(ratio, 2)})
    return failures


def unlabelled_inputs(page: Page) -> list[str]:
    result: list[str] = page.evaluate(_UNLABELLED_JS)
    return result


# axe-core as shipped by the axe-playwright-python package (no network): WCAG 2.0/2.1 A and AA.
_AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations above `minor` on the page as it is now: rule, impact, where."""
    from axe_playwright_python.base import AXE_SCRIPT  # type: ignore[import-untyped]

    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT)
    results: dict[str, Any] = page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        _AXE_TAGS,
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in results["violations"]
        if v["impact"] not in (None, "minor")
    ]
