# The VT-d hardware model and the driver's tests against it.
# MODEL_CORE is the VT-d model proper, split along its sections (the iso
# and system tests build it with some seam functions renamed away).
MODEL_CORE := tests/model/model.c tests/model/model_mem.c \
	tests/model/model_time.c tests/model/model_translate.c \
	tests/model/model_dma.c tests/model/model_regs.c tests/model/model_qi.c
MODEL_SRCS := $(MODEL_CORE) tests/model/model_ir.c tests/model/pci_cfg.c \
	$(VTD_SRCS) lib/format.c

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

# Map and unmap at the floor: batched unmap, counts, merges, lazy roots.
UNIT_TESTS += vtd_batch
vtd_batch_SRCS := tests/model/test_batch.c tests/model/harness.c $(MODEL_SRCS)

# make bench: built without sanitizers at -O2 (see the lead's bench target).
BENCH_SRCS := tests/model/bench.c $(MODEL_SRCS)
# Driver instructions under callgrind (tests/model/bench_ir.py).
BENCH_IR_SRCS := tests/model/bench_ir.c $(MODEL_SRCS)

# Inherited translation: a previous life's tables kept until first attach.
UNIT_TESTS += vtd_inherit
vtd_inherit_SRCS := tests/model/test_inherit.c tests/model/harness.c \
	$(MODEL_SRCS)
