"""Reading and writing spreadsheet files: encodings, headers in either language, line ends, both formats."""

import pytest

from app.catalog import spreadsheets
from app.errors import RuleViolation

ROW = ["meitan_cuiya", "一级", "680.00", "50"]
TYPED = {"product": "meitan_cuiya", "grade": "一级", "price_yuan": "680.00", "quantity": "50"}


def csv_text(header: list[str], *rows: list[str], line_end: str = "\r\n") -> str:
    return line_end.join(",".join(cells) for cells in (header, *rows)) + line_end


@pytest.mark.parametrize(
    "header",
    [
        ["产品编码 (product)", "等级 (grade)", "单价（元） (price_yuan)", "库存 (quantity)"],
        ["产品编码", "等级", "单价（元）", "库存"],
        ["product", "grade", "price_yuan", "quantity"],
    ],
    ids=["both", "chinese", "english"],
)
def test_headers_in_chinese_in_english_or_both_name_the_same_columns(header):
    data = csv_text([*header, "备注"], [*ROW, "a column we do not know is left out"])

    assert list(spreadsheets.read_rows(data.encode("utf-8-sig"))) == [(2, TYPED)]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_a_csv_in_any_encoding_excel_in_china_saves_reads_the_same(encoding):
    data = csv_text(["产品编码", "等级", "单价（元）", "库存"], ROW).encode(encoding)

    assert list(spreadsheets.read_rows(data)) == [(2, TYPED)]


def test_a_csv_with_old_mac_line_ends_is_read_row_by_row():
    data = csv_text(["product", "grade", "price_yuan", "quantity"], ROW, ROW, line_end="\r")

    assert [number for number, _typed in spreadsheets.read_rows(data.encode())] == [2, 3]


@pytest.mark.parametrize("write", [spreadsheets.to_csv, spreadsheets.to_xlsx])
def test_a_written_file_reads_back_as_what_was_written(write):
    rows = [spreadsheets.HEADER, spreadsheets.EXAMPLE_ROW]

    [(number, typed)] = spreadsheets.read_rows(write(rows))

    written = dict(zip((column.key for column in spreadsheets.COLUMNS), rows[1], strict=True))
    assert number == 2
    assert typed == {key: value for key, value in written.items() if value != ""}


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf"], ids=["empty", "only-a-bom"])
def test_an_empty_file_is_refused_on_the_file_field(data):
    with pytest.raises(RuleViolation) as refused:
        list(spreadsheets.read_rows(data))
    assert refused.value.field == "file"
