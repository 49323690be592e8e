"""Templates are compiled once and kept, and the quick `urlize` writes exactly what Jinja's does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from jinja2 import Environment
from jinja2.filters import do_urlize

from services.notifications.rendering import LOCALES, TEMPLATES_DIR, Renderer, _urlize
from tests.unit.notifications.messages import every_notice


def test_a_template_changed_on_disk_after_its_first_render_is_not_read_again(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, templates)
    renderer = Renderer(app_url="https://app.carepath.example", templates=templates)
    notice = every_notice()[0]

    def render() -> str:
        return renderer.render(
            notice.kind, notice.audience, context=notice.context, locale="en", zone="UTC", channel="email"
        ).html

    first = render()
    (templates / "email.html").write_text("changed")

    assert render() == first


@pytest.mark.parametrize("autoescape", [True, False])
@pytest.mark.parametrize(
    "line",
    [
        "Nothing to link here, 5 < 6 & \"quoted\" 'text'",
        "Join: https://meet.carepath.example/s/1?a=1&b=2.",
        "See (www.carepath.example) or HTTP://EXAMPLE.ORG/x",
        "Write to care@carepath.example, or mailto:care@carepath.example",
        "An @ alone, a user@ and @user",
        "<script>alert(1)</script> www.example.com",
        "",
    ],
)
def test_the_quick_urlize_writes_what_jinjas_writes(line: str, autoescape: bool) -> None:
    def rendered(urlize: object) -> str:
        environment = Environment(autoescape=autoescape)  # noqa: S701 - both ways are compared
        environment.filters["urlize"] = urlize
        return environment.from_string("{{ line|urlize }}").render(line=line)

    assert rendered(_urlize) == rendered(do_urlize)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_email_html_is_what_jinjas_urlize_makes_of_it(locale: str) -> None:
    renderer = Renderer(app_url="https://app.carepath.example")
    reference = Renderer(app_url="https://app.carepath.example")
    reference._env.filters["urlize"] = do_urlize  # the filter as Jinja ships it

    for notice in every_notice():
        arguments = {"context": notice.context, "locale": locale, "zone": "Europe/Madrid", "channel": "email"}
        assert (
            renderer.render(notice.kind, notice.audience, **arguments).html
            == reference.render(notice.kind, notice.audience, **arguments).html
        ), (notice.kind, notice.audience)
