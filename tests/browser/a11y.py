"""axe-core (from the npm registry, in node_modules/) run in the page by Playwright: the serious
and critical WCAG violations of a page, printed so a person can find and fix them."""

from pathlib import Path

from tests.conftest import require

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
# WCAG 2.0 and 2.1, levels A and AA, plus axe's best practices (landmarks, one main, headings).
RUN = """async () => (await axe.run(document, {
  runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
  resultTypes: ['violations'],
})).violations.map(v => ({id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
  nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}))"""


def axe_context(browser, **options):
    """A browser context that lets axe in: the app's CSP refuses inline scripts, and Playwright
    adds axe as one."""
    require(AXE.exists(), f"{AXE} is missing: run `npm ci` (axe-core is a devDependency)")
    return browser.new_context(bypass_csp=True, **options)


def violations(page, impacts=BLOCKING) -> list[dict]:
    """The axe violations of the page as it is now, of the given impacts."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    return [v for v in page.evaluate(RUN) if v["impact"] in impacts]


def describe(found: dict[str, list[dict]], nodes: int = 4) -> str:
    """`{page name: violations}` as lines a person reads: the rule, why, and where."""
    lines = []
    for name, items in found.items():
        for v in items:
            lines.append(f"{name}: {v['impact']} {v['id']}: {v['help']} ({v['url']})")
            for node in v["nodes"][:nodes]:
                summary = " ".join(node["summary"].split())[:300]
                lines.append(f"    {node['target']}  --  {summary}")
            if len(v["nodes"]) > nodes:
                lines.append(f"    ... and {len(v['nodes']) - nodes} more")
    return "\n".join(lines)
