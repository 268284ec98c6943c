"""Model cards and changelogs are creators' markdown: what reaches the page must carry no script of any kind."""

from __future__ import annotations

import pytest

from modelmarket.catalog.markdown import render_markdown


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"),
        ('<img src=x onerror="alert(1)">', '<p>&lt;img src=x onerror="alert(1)"&gt;</p>\n'),
        ("[click](javascript:alert(1))", "<p>[click](javascript:alert(1))</p>\n"),
        ("[click](JaVaScRiPt:alert(1))", "<p>[click](JaVaScRiPt:alert(1))</p>\n"),
        ("[click](vbscript:msgbox)", "<p>[click](vbscript:msgbox)</p>\n"),
        ("![pixel](data:image/png;base64,AAAA)", '<p><img alt="pixel"></p>\n'),
        ("[doc](data:text/html;base64,PHNjcmlwdD4=)", "<p>[doc](data:text/html;base64,PHNjcmlwdD4=)</p>\n"),
        (
            '<a href="https://e.com" onclick="x()">hi</a>',
            '<p>&lt;a href="https://e.com" onclick="x()"&gt;hi&lt;/a&gt;</p>\n',
        ),
        (
            "<iframe src=https://evil.example></iframe>",
            "<p>&lt;iframe src=https://evil.example&gt;&lt;/iframe&gt;</p>\n",
        ),
    ],
)
def test_dangerous_markdown_is_neutralized(markdown, html):
    assert render_markdown(markdown) == html


def test_links_get_nofollow_noopener():
    html = render_markdown('[site](https://example.com "Home")')

    assert html == (
        '<p><a href="https://example.com" title="Home" rel="nofollow noopener noreferrer">site</a></p>\n'
    )


def test_ordinary_markdown_renders():
    html = render_markdown(
        "# Title\n\n**bold** and `code`\n\n| a | b |\n|---|:-:|\n| 1 | 2 |\n\n```python\nx = 1\n```"
    )

    assert html == (
        "<h1>Title</h1>\n<p><strong>bold</strong> and <code>code</code></p>\n"
        "<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n</thead>\n"
        "<tbody>\n<tr>\n<td>1</td>\n<td>2</td>\n</tr>\n</tbody>\n</table>\n"
        '<pre><code class="language-python">x = 1\n</code></pre>\n'
    )


def test_empty_markdown_is_empty():
    assert render_markdown("  \n") == ""
