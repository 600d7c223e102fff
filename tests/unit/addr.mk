# Part of make test-unit: an IOVA passed as an HPA and an HPA as an IOVA
# must not compile (lib/addr.h, tests/unit/addr_swap.c).  The unswapped
# call compiles, so the snippet is sound; with plain typedefs the swap
# compiles too, so the refusal comes from the distinct types alone; with
# lib/addr.h the compiler refuses both swapped arguments.
ADDR_SWAP_CC := gcc -std=c11 -fsyntax-only -Wall -Wextra -Werror -I. \
	tests/unit/addr_swap.c
check-addr-types: | $(DEPS_STAMP)
	@echo "  CHECK   iova_t and hpa_t do not mix"
	$(Q)$(ADDR_SWAP_CC)
	$(Q)$(ADDR_SWAP_CC) -DADDR_PLAIN -DADDR_SWAP
	$(Q)! $(ADDR_SWAP_CC) -DADDR_SWAP 2>$(B)/addr_swap.err || \
		{ echo "check-addr-types: a swapped IOVA and HPA compiled"; exit 1; }
	$(Q)grep -q "incompatible type for argument 2 of .vtd_domain_map" $(B)/addr_swap.err && \
		grep -q "incompatible type for argument 3 of .vtd_domain_map" $(B)/addr_swap.err || \
		{ cat $(B)/addr_swap.err; echo "check-addr-types: not refused for the types"; exit 1; }
.PHONY: check-addr-types
test-unit: check-addr-types
