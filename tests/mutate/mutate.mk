# Mutation testing: every bug in tests/mutate/catalogue.txt must make a
# host test fail.  Runs in a copy (build/mutate/src); make mutate takes
# minutes and is not part of make test; make mutate-quick (10 of them,
# sampled by date or MUTATE_SEED) is.
mutate: | $(DEPS_STAMP)
	/usr/bin/python3 tests/mutate/mutate.py
mutate-quick: | $(DEPS_STAMP)
	/usr/bin/python3 tests/mutate/mutate.py --quick 10
.PHONY: mutate mutate-quick
