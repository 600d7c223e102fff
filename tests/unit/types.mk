# Part of make test-unit: values of distinct types swapped in a call must
# not compile.  Each snippet (tests/unit/*_swap.c) compiles unswapped, so
# it is sound; swapped with plain typedefs (-DPLAIN), so the refusal comes
# from the distinct types alone; and swapped with the real headers it is
# refused, for both arguments.
#   $(1) snippet  $(2) function called  $(3) $(4) the swapped arguments
#   $(5) what must not mix
SWAP_CC = gcc -std=c11 -fsyntax-only -Wall -Wextra -Werror -I. $(1)
define swap_check
	@echo "  CHECK   $(5) do not mix"
	$(Q)$(call SWAP_CC,$(1))
	$(Q)$(call SWAP_CC,$(1)) -DPLAIN -DSWAP
	$(Q)! $(call SWAP_CC,$(1)) -DSWAP 2>$(B)/swap.err || \
		{ echo "check-types: swapped $(5) compiled"; exit 1; }
	$(Q)grep -q "incompatible type for argument $(3) of .$(2)" $(B)/swap.err && \
		grep -q "incompatible type for argument $(4) of .$(2)" $(B)/swap.err || \
		{ cat $(B)/swap.err; echo "check-types: $(5) not refused for their types"; exit 1; }
endef
check-types: | $(DEPS_STAMP)
	$(call swap_check,tests/unit/addr_swap.c,vtd_domain_map,2,3,iova_t and hpa_t)
	$(call swap_check,tests/unit/rid_swap.c,vtd_attach_pasid,3,4,rid_t and a PASID)
.PHONY: check-types
test-unit: check-types
