"""Resident ID numbers: the check digit, plausible birth dates, masking."""

from __future__ import annotations

from datetime import date

import pytest

from fieldvisit.idcard import (
    BIRTH_DATE,
    CHARACTERS,
    CHECK_DIGIT,
    LENGTH,
    check_digit,
    id_number_problem,
    is_valid_id_number,
    mask_id_number,
    normalize_id_number,
)

# From the sample registry (synthetic, with correct check digits).
VALID = ["411721193701024373", "41172119810905367X", "411721200112247336", "411721194506250900"]


@pytest.mark.parametrize("number", VALID)
def test_it_accepts_numbers_with_the_right_check_digit(number: str) -> None:
    assert is_valid_id_number(number)
    assert id_number_problem(number) is None


def test_it_computes_the_check_digit_per_gb_11643() -> None:
    assert check_digit("41172119370102437") == "3"
    assert check_digit("41172119810905367") == "X"
    # The standard's own example.
    assert check_digit("11010519491231002") == "X"


def test_it_accepts_a_lower_case_x_and_normalises_it() -> None:
    assert is_valid_id_number("41172119810905367x")
    assert normalize_id_number(" 41172119810905367x ") == "41172119810905367X"


def test_it_normalises_spaces_and_full_width_digits() -> None:
    typed = "４１１７２１ 1937\u30000102 4373"
    assert normalize_id_number(typed) == "411721193701024373"
    assert is_valid_id_number(typed)


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        ("41172119370102437", LENGTH),
        ("4117211937010243733", LENGTH),
        ("", LENGTH),
        ("41172119370102437A", CHARACTERS),
        ("4117211937010243X3", CHARACTERS),
        ("411721193702304373", BIRTH_DATE),  # 30 February
        ("411721189901014373", BIRTH_DATE),  # born 1899
        ("411721193701024374", CHECK_DIGIT),
        ("41172119810905367" + "0", CHECK_DIGIT),
    ],
)
def test_it_says_what_is_wrong(number: str, problem: str) -> None:
    assert id_number_problem(number) == problem
    assert not is_valid_id_number(number)


def test_it_refuses_a_birth_date_in_the_future() -> None:
    first17 = "41172120300101123"
    number = first17 + check_digit(first17)
    assert id_number_problem(number, today=date(2024, 1, 1)) == BIRTH_DATE
    assert id_number_problem(number, today=date(2031, 1, 1)) is None


def test_it_masks_all_but_the_first_and_last_four() -> None:
    assert mask_id_number("411721193701024373") == "4117**********4373"
    assert mask_id_number("41172119810905367x") == "4117**********367X"


def test_it_masks_nothing_out_of_an_empty_value() -> None:
    assert mask_id_number("") == ""


def test_it_hides_a_short_fragment_entirely() -> None:
    assert mask_id_number("41172119") == "********"
    assert mask_id_number("411721193") == "4117*1193"
