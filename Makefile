# Thin aliases for ./run, which needs only bash and Python >= 3.11.
.PHONY: demo serve test check clean
demo:
	./run demo
serve:
	./run serve
test:
	./run test
check:
	./run check
clean:
	rm -rf .venv var .pytest_cache .mypy_cache .ruff_cache
