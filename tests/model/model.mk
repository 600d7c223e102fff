# The VT-d hardware model and the driver's tests against it.
MODEL_SRCS := tests/model/model.c tests/model/model_ir.c $(VTD_SRCS)

UNIT_TESTS += vtd_model vtd_qi vtd_sm vtd_lifecycle
vtd_model_SRCS := tests/model/test_vtd.c tests/model/harness.c $(MODEL_SRCS)
# The invalidation queue under injected errors, deadlines and lost devices.
vtd_qi_SRCS := tests/model/test_qi.c tests/model/harness.c $(MODEL_SRCS)
# Scalable mode: PASID tables, every translation type, mode choice.
vtd_sm_SRCS := tests/model/test_sm.c tests/model/harness.c $(MODEL_SRCS)
# Attach, map, unmap, removal and release in every order, with ATS.
vtd_lifecycle_SRCS := tests/model/test_lifecycle.c tests/model/harness.c \
	$(MODEL_SRCS)

# The back end: table formats asked for on units that walk different ones.
UNIT_TESTS += vtd_backend
vtd_backend_SRCS := tests/model/test_backend.c tests/model/harness.c \
	drivers/iommu/vtd/backend.c lib/format.c $(MODEL_SRCS)

# Interrupt remapping: entries, source ids, the IEC, x2APIC, both modes.
UNIT_TESTS += vtd_ir
vtd_ir_SRCS := tests/model/test_ir.c tests/model/harness.c $(MODEL_SRCS)

# make bench: built without sanitizers at -O2 (see the lead's bench target).
BENCH_SRCS := tests/model/bench.c $(MODEL_SRCS)

# Inherited translation: a previous life's tables kept until first attach.
UNIT_TESTS += vtd_inherit
vtd_inherit_SRCS := tests/model/test_inherit.c tests/model/harness.c \
	$(MODEL_SRCS)
