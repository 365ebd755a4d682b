from pathlib import Path

from devtools.function_lengths import LIMIT, function_lengths, main

ROOT = Path(__file__).resolve().parents[2]


def test_every_function_in_engines_is_under_the_limit():
    functions = function_lengths([ROOT / "engines"])
    offenders = [str(function) for function in functions if function.length >= LIMIT]
    assert functions, "no functions found under engines/"
    assert offenders == [], f"functions of {LIMIT} lines or more: {offenders}"


def test_lengths_count_nested_functions_and_methods(tmp_path):
    source = tmp_path / "sample.py"
    source.write_text(
        "def short():\n"
        "    return 1\n"
        "\n"
        "\n"
        "class Box:\n"
        "    def method(self):\n"
        "        def inner():\n"
        "            return 2\n"
        "\n"
        "        return inner()\n"
    )
    found = {function.name: function.length for function in function_lengths([tmp_path])}
    assert found == {"short": 2, "Box.method": 5, "Box.method.inner": 2}


def test_main_fails_and_names_an_offender(tmp_path, capsys):
    body = "".join(f"    x{i} = {i}\n" for i in range(5))
    (tmp_path / "long.py").write_text(f"def long():\n{body}")
    assert main([str(tmp_path), "--over", "6"]) == 1
    assert "long.py:1 long (6 lines)" in capsys.readouterr().out
    assert main([str(tmp_path), "--over", "7"]) == 0
