# The README's two commands are ./fv run and ./fv test; these are shortcuts around them.
.PHONY: serve test lint format bench

serve:
	./fv run

test:
	./fv test

# ruff, then mypy over fieldvisit/ (its settings are in pyproject.toml).
lint:
	./fv lint

format:
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

bench:
	.venv/bin/python bench/bench_save_visit.py
	.venv/bin/python bench/bench_api_save.py
	.venv/bin/python bench/bench_dashboard.py
	.venv/bin/python bench/bench_reports.py
	.venv/bin/python bench/bench_form_weight.py
