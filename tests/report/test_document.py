"""The report's escaping: data and scripts that no text can break out of."""

import json

from app.report.document import json_for_script, script_text


def test_json_for_a_script_element_escapes_what_could_end_it() -> None:
    value = {"token": "</script><!-- & \u2028\u2029 >"}
    text = str(json_for_script(json.dumps(value, ensure_ascii=False).encode()))
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        assert raw not in text
    assert json.loads(text) == value


def test_script_text_escapes_markup_in_any_case() -> None:
    source = 'a = "</SCRIPT>"; b = /<script/i; // <!-- c'
    assert script_text(source) == 'a = "\\x3C/SCRIPT>"; b = /\\x3Cscript/i; // \\x3C!-- c'
    assert script_text("if (a < b) c();") == "if (a < b) c();"
