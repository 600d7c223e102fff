/* Section numbers: Intel VT-d specification, revision 4.1 (March 2023). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/bits.h"

/*
 * VT-d remapping registers and in-memory structure fields, named as in the
 * Intel VT-d specification (register descriptions, chapter 11;
 * translation structure formats, chapter 9).  Fields are (msb, lsb) masks;
 * 64-bit registers and 128-bit entries are handled as 64-bit words.  Widths
 * matter: a 32-bit register is only ever accessed with 32 bits.
 */

/* Register offsets (32 = 32-bit register, 64 = 64-bit register). */
#define VTD_VER_REG	0x000 /* 32 Version */
#define VTD_CAP_REG	0x008 /* 64 Capability */
#define VTD_ECAP_REG	0x010 /* 64 Extended Capability */
#define VTD_GCMD_REG	0x018 /* 32 Global Command (write-only) */
#define VTD_GSTS_REG	0x01c /* 32 Global Status */
#define VTD_RTADDR_REG	0x020 /* 64 Root Table Address */
#define VTD_FSTS_REG	0x034 /* 32 Fault Status */
#define VTD_FECTL_REG	0x038 /* 32 Fault Event Control */
#define VTD_FEDATA_REG	0x03c /* 32 Fault Event Data */
#define VTD_FEADDR_REG	0x040 /* 32 Fault Event Address */
#define VTD_FEUADDR_REG 0x044 /* 32 Fault Event Upper Address */
#define VTD_PMEN_REG	0x064 /* 32 Protected Memory Enable */
#define VTD_IQH_REG	0x080 /* 64 Invalidation Queue Head */
#define VTD_IQT_REG	0x088 /* 64 Invalidation Queue Tail */
#define VTD_IQA_REG	0x090 /* 64 Invalidation Queue Address */
#define VTD_IQERCD_REG	0x0b0 /* 64 Invalidation Queue Error Record */

/* One register page; FRO and IRO may place registers beyond it. */
#define VTD_REG_PAGE 0x1000U

/* VER_REG */
#define VTD_VER_MAX GENMASK32(7, 4)
#define VTD_VER_MIN GENMASK32(3, 0)

/* CAP_REG */
#define VTD_CAP_ND    GENMASK64(2, 0)	/* number of domains supported */
#define VTD_CAP_RWBF  BIT64(4)		/* required write-buffer flushing */
#define VTD_CAP_PLMR  BIT64(5)		/* protected low-memory region */
#define VTD_CAP_PHMR  BIT64(6)		/* protected high-memory region */
#define VTD_CAP_CM    BIT64(7)		/* caching mode */
#define VTD_CAP_SAGAW GENMASK64(12, 8)	/* supported adjusted guest AW */
#define VTD_CAP_MGAW  GENMASK64(21, 16) /* maximum guest address width - 1 */
#define VTD_CAP_FRO   GENMASK64(33, 24) /* fault-recording offset / 16 */
#define VTD_CAP_SLLPS GENMASK64(37, 34) /* second-level large pages */
#define VTD_CAP_PSI   BIT64(39)		/* page-selective invalidation */
#define VTD_CAP_NFR   GENMASK64(47, 40) /* number of fault records - 1 */
#define VTD_CAP_MAMV  GENMASK64(53, 48) /* maximum address mask value */
#define VTD_CAP_DWD   BIT64(54)		/* write draining */
#define VTD_CAP_DRD   BIT64(55)		/* read draining */
#define VTD_CAP_FL1GP BIT64(56)		/* first-level 1 GiB pages */
#define VTD_CAP_FL5LP BIT64(60)		/* first-level 5-level paging */

/* SAGAW bits: 39-bit (3-level), 48-bit (4-level), 57-bit (5-level). */
#define VTD_SAGAW_39 BIT64(1)
#define VTD_SAGAW_48 BIT64(2)
#define VTD_SAGAW_57 BIT64(3)

/* SLLPS bits. */
#define VTD_SLLPS_2M BIT64(0)
#define VTD_SLLPS_1G BIT64(1)

/* ECAP_REG */
#define VTD_ECAP_C     BIT64(0)		 /* page-walk coherency */
#define VTD_ECAP_QI    BIT64(1)		 /* queued invalidation */
#define VTD_ECAP_DT    BIT64(2)		 /* device-TLB invalidation */
#define VTD_ECAP_PT    BIT64(6)		 /* pass-through */
#define VTD_ECAP_IRO   GENMASK64(17, 8)	 /* IOTLB register offset / 16 */
#define VTD_ECAP_NEST  BIT64(26)	 /* nested translation */
#define VTD_ECAP_PSS   GENMASK64(39, 35) /* PASID size supported - 1 */
#define VTD_ECAP_PASID BIT64(40)	 /* requests with PASID */
#define VTD_ECAP_DIT   BIT64(41)	 /* device-TLB inval. throttle */
#define VTD_ECAP_SMTS  BIT64(43)	 /* scalable-mode translation */
#define VTD_ECAP_SLTS  BIT64(46)	 /* second-level translation */
#define VTD_ECAP_FLTS  BIT64(47)	 /* first-level translation */
#define VTD_ECAP_SMPWC BIT64(48)	 /* scalable-mode page-walk coherency */
#define VTD_ECAP_RPS   BIT64(49)	 /* RID_PASID field supported */

/*
 * GCMD_REG / GSTS_REG.  Status bits sit at the same positions as their
 * commands.  TE, EAFL, QIE, IRE and CFI are persistent states; SRTP, SFL,
 * WBF and SIRTP are one-shot commands that must never be echoed back.
 */
#define VTD_GCMD_TE    BIT32(31)
#define VTD_GCMD_SRTP  BIT32(30)
#define VTD_GCMD_SFL   BIT32(29)
#define VTD_GCMD_EAFL  BIT32(28)
#define VTD_GCMD_WBF   BIT32(27)
#define VTD_GCMD_QIE   BIT32(26)
#define VTD_GCMD_IRE   BIT32(25)
#define VTD_GCMD_SIRTP BIT32(24)
#define VTD_GCMD_CFI   BIT32(23)
#define VTD_GCMD_PERSISTENT                                          \
	(VTD_GCMD_TE | VTD_GCMD_EAFL | VTD_GCMD_QIE | VTD_GCMD_IRE | \
	 VTD_GCMD_CFI)

#define VTD_GSTS_TES   BIT32(31)
#define VTD_GSTS_RTPS  BIT32(30)
#define VTD_GSTS_FLS   BIT32(29)
#define VTD_GSTS_AFLS  BIT32(28)
#define VTD_GSTS_WBFS  BIT32(27)
#define VTD_GSTS_QIES  BIT32(26)
#define VTD_GSTS_IRES  BIT32(25)
#define VTD_GSTS_IRTPS BIT32(24)
#define VTD_GSTS_CFIS  BIT32(23)

/* RTADDR_REG */
#define VTD_RTADDR_RTA		GENMASK64(63, 12)
#define VTD_RTADDR_TTM		GENMASK64(11, 10) /* translation table mode */
#define VTD_RTADDR_TTM_LEGACY	0U
#define VTD_RTADDR_TTM_SCALABLE 1U
#define VTD_RTADDR_RSVD		GENMASK64(9, 0)

/* FSTS_REG */
#define VTD_FSTS_PFO BIT32(0)	      /* primary fault overflow (RW1C) */
#define VTD_FSTS_PPF BIT32(1)	      /* primary pending fault (RO) */
#define VTD_FSTS_AFO BIT32(2)	      /* advanced fault overflow (RW1C) */
#define VTD_FSTS_APF BIT32(3)	      /* advanced pending fault (RW1C) */
#define VTD_FSTS_IQE BIT32(4)	      /* invalidation queue error (RW1C) */
#define VTD_FSTS_ICE BIT32(5)	      /* invalidation completion error (RW1C) */
#define VTD_FSTS_ITE BIT32(6)	      /* invalidation time-out error (RW1C) */
#define VTD_FSTS_FRI GENMASK32(15, 8) /* fault record index */
#define VTD_FSTS_ERRORS                                              \
	(VTD_FSTS_PFO | VTD_FSTS_AFO | VTD_FSTS_APF | VTD_FSTS_IQE | \
	 VTD_FSTS_ICE | VTD_FSTS_ITE)

/* FECTL_REG */
#define VTD_FECTL_IM BIT32(31) /* interrupt mask */
#define VTD_FECTL_IP BIT32(30) /* interrupt pending (RO) */

/* FEADDR_REG: an MSI address to one local APIC (SDM vol. 3, 10.11.1). */
#define VTD_FEADDR_BASE UINT32_C(0xfee00000)
#define VTD_FEADDR_DEST GENMASK32(19, 12) /* xAPIC id, or x2APIC id's low 8 */

/* PMEN_REG */
#define VTD_PMEN_EPM BIT32(31) /* enable protected memory */
#define VTD_PMEN_PRS BIT32(0)  /* protected region status */

/*
 * IQH_REG, IQT_REG: the byte offset of a descriptor / 16 in bits 18:4; with
 * 256-bit descriptors (IQA.DW) bit 4 is reserved (VT-d spec 11.4.9).
 */
#define VTD_IQH_QH GENMASK64(18, 4)
#define VTD_IQT_QT GENMASK64(18, 4)

/* IQA_REG */
#define VTD_IQA_IQA GENMASK64(63, 12)
#define VTD_IQA_DW  BIT64(11)	    /* 256-bit descriptors (SMTS only) */
#define VTD_IQA_QS  GENMASK64(2, 0) /* 2^QS pages */

/* IQERCD_REG: each field valid only while its FSTS bit is set. */
#define VTD_IQERCD_ICESID GENMASK64(63, 48)
#define VTD_IQERCD_ITESID GENMASK64(47, 32)
#define VTD_IQERCD_IQEI	  GENMASK64(3, 0)

/* IQEI: why the queue stopped (VT-d spec 11.4.9, IQERCD_REG). */
#define VTD_IQEI_UNKNOWN 0U /* older hardware: no detail */
#define VTD_IQEI_TAIL	 1U /* invalid tail pointer */
#define VTD_IQEI_FETCH	 2U /* descriptor fetch failed */
#define VTD_IQEI_TYPE	 3U /* invalid descriptor type */
#define VTD_IQEI_RSVD	 4U /* reserved field set in a valid type */
#define VTD_IQEI_WIDTH	 5U /* descriptor width not the one IQA.DW says */

/*
 * Fault recording registers: NFR + 1 records of 128 bits at FRO * 16
 * (VT-d spec 11.4.14 and 9.9).  Word 0 holds the faulting page, word 1
 * the rest; F is cleared by a 32-bit write of bit 31 to the dword at +12.
 */
#define VTD_FRCD_SIZE  16U
#define VTD_FRCD_FI    GENMASK64(63, 12) /* word 0: fault info (address) */
#define VTD_FRCD_FI_IR GENMASK64(63, 48) /* interrupt index (IR faults) */
#define VTD_FRCD_SID   GENMASK64(15, 0)	 /* word 1 */
#define VTD_FRCD_PP    BIT64(31)
#define VTD_FRCD_FR    GENMASK64(39, 32)
#define VTD_FRCD_PV    GENMASK64(59, 40)
#define VTD_FRCD_T1    BIT64(62) /* 1 = read, 0 = write */
/* Fault reasons 0x20-0x26 are interrupt-remapping faults (7.1.3). */
#define VTD_FR_IR_FIRST	     0x20U
#define VTD_FR_IR_LAST	     0x26U
#define VTD_FRCD_F	     BIT64(63)
#define VTD_FRCD_F_DWORD_OFF 12U
#define VTD_FRCD_F_DWORD     BIT32(31)

/*
 * In-memory structures (VT-d spec 9.1 root entry, 9.3 context entry, 9.8
 * second-level paging entry).  Each is an array of 64-bit words; the word
 * holding the present bit is written last.
 */
struct vtd_root_entry {
	uint64_t lo;
	uint64_t hi;
};
_Static_assert(sizeof(struct vtd_root_entry) == 16, "root entry is 128 bits");

struct vtd_context_entry {
	uint64_t lo;
	uint64_t hi;
};
_Static_assert(sizeof(struct vtd_context_entry) == 16,
	       "context entry is 128 bits");

#define VTD_ROOT_ENTRIES    256U /* one per bus */
#define VTD_CONTEXT_ENTRIES 256U /* one per devfn */
_Static_assert(VTD_ROOT_ENTRIES * sizeof(struct vtd_root_entry) == 4096,
	       "root table is one page");
_Static_assert(VTD_CONTEXT_ENTRIES * sizeof(struct vtd_context_entry) == 4096,
	       "context table is one page");

#define VTD_ROOT_LO_P	 BIT64(0)
#define VTD_ROOT_LO_CTP	 GENMASK64(63, 12)
#define VTD_ROOT_LO_RSVD GENMASK64(11, 1) /* the upper word is all reserved */

#define VTD_CTX_LO_P	   BIT64(0)
#define VTD_CTX_LO_TT	   GENMASK64(3, 2) /* 00: untranslated requests only */
#define VTD_CTX_LO_SLPTPTR GENMASK64(63, 12)
#define VTD_CTX_HI_AW	   GENMASK64(2, 0) /* 1: 3-level, 2: 4-level, 3: 5 */
#define VTD_CTX_HI_DID	   GENMASK64(23, 8)
#define VTD_CTX_LO_RSVD	   GENMASK64(11, 4)
#define VTD_CTX_HI_RSVD	   (GENMASK64(63, 24) | BIT64(7))

#define VTD_CTX_TT_UNTRANSLATED 0U
#define VTD_CTX_TT_DEVTLB	1U /* untranslated, translation and translated */

/*
 * Scalable-mode root entry (VT-d spec 9.2): the lower word points to the
 * context table of devfn 0-127, the upper word to that of devfn 128-255.
 */
#define VTD_SM_ROOT_LO_LP   BIT64(0)
#define VTD_SM_ROOT_LO_LCTP GENMASK64(63, 12)
#define VTD_SM_ROOT_HI_UP   BIT64(0)
#define VTD_SM_ROOT_HI_UCTP GENMASK64(63, 12)

/*
 * Scalable-mode context entry (VT-d spec 9.4), 256 bits: a PASID directory
 * of 2^(PDTS + 7) entries, and the PASID (RID_PASID) whose entry
 * translates requests without PASID.  Words 2 and 3 are reserved.
 */
struct vtd_sm_context_entry {
	uint64_t val[4];
};
_Static_assert(sizeof(struct vtd_sm_context_entry) == 32,
	       "scalable-mode context entry is 256 bits");

#define VTD_SM_CONTEXT_ENTRIES 128U /* per table: one half of a bus */
_Static_assert(VTD_SM_CONTEXT_ENTRIES * sizeof(struct vtd_sm_context_entry) ==
		       4096,
	       "scalable-mode context table is one page");

#define VTD_SM_CTX_0_P		 BIT64(0)
#define VTD_SM_CTX_0_FPD	 BIT64(1)
#define VTD_SM_CTX_0_DTE	 BIT64(2) /* device-TLB enable */
#define VTD_SM_CTX_0_PASIDE	 BIT64(3) /* requests with PASID allowed */
#define VTD_SM_CTX_0_PRE	 BIT64(4) /* page requests allowed */
#define VTD_SM_CTX_0_PDTS	 GENMASK64(11, 9)
#define VTD_SM_CTX_0_PASIDDIRPTR GENMASK64(63, 12)
#define VTD_SM_CTX_1_RID_PASID	 GENMASK64(19, 0)

/* PDTS encodes 2^(PDTS + 7) directory entries. */
#define VTD_PDTS_SHIFT 7U

/*
 * Scalable-mode PASID directory entry (VT-d spec 9.5): indexed by PASID
 * bits 19:6, it points to a PASID table of 64 entries (PASID bits 5:0).
 */
#define VTD_PASID_DIR_P		BIT64(0)
#define VTD_PASID_DIR_FPD	BIT64(1)
#define VTD_PASID_DIR_SMPTBLPTR GENMASK64(63, 12)

#define VTD_PASID_DIR_ENTRIES	512U /* one page of 64-bit entries */
#define VTD_PASID_TABLE_SHIFT	6U   /* PASID bits in a table index */
#define VTD_PASID_TABLE_ENTRIES (1U << VTD_PASID_TABLE_SHIFT)

/*
 * Scalable-mode PASID table entry (VT-d spec 9.6), 512 bits: the PASID
 * granular translation type (PGTT) selects first-level, second-level,
 * nested or pass-through translation, with the domain id tagging what
 * the unit caches.
 */
struct vtd_pasid_entry {
	uint64_t val[8];
};
_Static_assert(sizeof(struct vtd_pasid_entry) == 64,
	       "PASID table entry is 512 bits");
_Static_assert(VTD_PASID_TABLE_ENTRIES * sizeof(struct vtd_pasid_entry) == 4096,
	       "PASID table is one page");

#define VTD_PE_0_P	 BIT64(0)
#define VTD_PE_0_FPD	 BIT64(1)
#define VTD_PE_0_AW	 GENMASK64(4, 2) /* second-level depth, as in 9.3 */
#define VTD_PE_0_PGTT	 GENMASK64(8, 6)
#define VTD_PE_0_SLPTPTR GENMASK64(63, 12)
#define VTD_PE_1_DID	 GENMASK64(15, 0)
#define VTD_PE_1_PWSNP	 BIT64(23)	 /* page walks snooped (SMPWC) */
#define VTD_PE_1_PGSNP	 BIT64(24)	 /* accesses snooped */
#define VTD_PE_2_SRE	 BIT64(0)	 /* supervisor requests allowed */
#define VTD_PE_2_FLPM	 GENMASK64(3, 2) /* 0: 4-level, 1: 5-level */
#define VTD_PE_2_FLPTR	 GENMASK64(63, 12)

#define VTD_PGTT_FL	1U /* first-level only */
#define VTD_PGTT_SL	2U /* second-level only */
#define VTD_PGTT_NESTED 3U /* first-level nested on second-level */
#define VTD_PGTT_PT	4U /* pass-through */

#define VTD_FLPM_4LEVEL 0U
#define VTD_FLPM_5LEVEL 1U

/* Second-level paging entry (all levels). */
#define VTD_SL_R    BIT64(0)
#define VTD_SL_W    BIT64(1)
#define VTD_SL_PS   BIT64(7) /* leaf above level 1 */
#define VTD_SL_ADDR GENMASK64(51, 12)

/*
 * First-level paging entry (VT-d spec 9.7): the IA-32e format, with a
 * present bit, read/write and user/supervisor rights ANDed along the
 * walk, and accessed/dirty flags the hardware sets unless they already
 * are.  PS (bit 7) marks a leaf above level 1, as in second-level tables.
 */
#define VTD_FL_P    BIT64(0)
#define VTD_FL_RW   BIT64(1)
#define VTD_FL_US   BIT64(2)
#define VTD_FL_A    BIT64(5)
#define VTD_FL_D    BIT64(6)
#define VTD_FL_PS   BIT64(7)
#define VTD_FL_ADDR GENMASK64(51, 12)
#define VTD_FL_XD   BIT64(63)
_Static_assert(VTD_FL_PS == VTD_SL_PS && VTD_FL_ADDR == VTD_SL_ADDR,
	       "both formats place PS and the address alike");

#define VTD_PT_ENTRIES	512U
#define VTD_LEVEL_SHIFT 9U
#define VTD_PAGE_SHIFT	12U
#define VTD_PAGE_SIZE	(UINT64_C(1) << VTD_PAGE_SHIFT)

/*
 * Invalidation descriptors, 128-bit (VT-d spec 6.5.2).  Type in bits 3:0
 * (bits 11:9 extend it and stay zero for these types).
 */
struct vtd_qi_desc {
	uint64_t lo;
	uint64_t hi;
};
_Static_assert(sizeof(struct vtd_qi_desc) == 16, "descriptor is 128 bits");

#define VTD_QI_TYPE	    GENMASK64(3, 0)
#define VTD_QI_TYPE_CC	    1U /* context-cache invalidate (6.5.2.1) */
#define VTD_QI_TYPE_IOTLB   2U /* IOTLB invalidate (6.5.2.3) */
#define VTD_QI_TYPE_DEVTLB  3U /* device-TLB invalidate (6.5.2.5) */
#define VTD_QI_TYPE_WAIT    5U /* invalidation wait (6.5.2.8) */
#define VTD_QI_TYPE_PIOTLB  6U /* PASID-based IOTLB invalidate (6.5.2.4) */
#define VTD_QI_TYPE_PC	    7U /* PASID-cache invalidate (6.5.2.2) */
#define VTD_QI_TYPE_PDEVTLB 8U /* PASID-based device-TLB (6.5.2.6) */

/* Context-cache invalidate descriptor. */
#define VTD_QI_CC_G	   GENMASK64(5, 4)
#define VTD_QI_CC_DID	   GENMASK64(31, 16)
#define VTD_QI_CC_SID	   GENMASK64(47, 32)
#define VTD_QI_CC_G_GLOBAL 1U
#define VTD_QI_CC_G_DEVICE 3U

/* IOTLB invalidate descriptor. */
#define VTD_QI_IOTLB_G	      GENMASK64(5, 4)
#define VTD_QI_IOTLB_DW	      BIT64(6) /* drain writes */
#define VTD_QI_IOTLB_DR	      BIT64(7) /* drain reads */
#define VTD_QI_IOTLB_DID      GENMASK64(31, 16)
#define VTD_QI_IOTLB_HI_AM    GENMASK64(5, 0)
#define VTD_QI_IOTLB_HI_ADDR  GENMASK64(63, 12)
#define VTD_QI_IOTLB_G_GLOBAL 1U
#define VTD_QI_IOTLB_G_DOMAIN 2U
#define VTD_QI_IOTLB_G_PAGE   3U

/*
 * Device-TLB invalidate descriptor.  PFSID (the physical function's source
 * id, split in two) is meaningful only with ECAP.DIT; MIP is the device's
 * invalidate queue depth, 0 standing for 32.  With S, the lowest clear bit
 * of ADDR above bit 12 gives the size of the range (PCIe ATS).
 */
#define VTD_QI_DEVTLB_PFSID_LO GENMASK64(15, 12)
#define VTD_QI_DEVTLB_MIP      GENMASK64(20, 16)
#define VTD_QI_DEVTLB_SID      GENMASK64(47, 32)
#define VTD_QI_DEVTLB_PFSID_HI GENMASK64(63, 52)
#define VTD_QI_DEVTLB_HI_S     BIT64(0)
#define VTD_QI_DEVTLB_HI_ADDR  GENMASK64(63, 12)

/*
 * PASID-cache invalidate descriptor: every PASID of a domain, one PASID of
 * a domain, or everything.
 */
#define VTD_QI_PC_G	   GENMASK64(5, 4)
#define VTD_QI_PC_DID	   GENMASK64(31, 16)
#define VTD_QI_PC_PASID	   GENMASK64(51, 32)
#define VTD_QI_PC_G_DOMAIN 0U
#define VTD_QI_PC_G_PASID  1U
#define VTD_QI_PC_G_GLOBAL 3U

/*
 * PASID-based IOTLB invalidate descriptor: everything a domain cached for
 * one PASID, or a range of its first-level and nested mappings.
 */
#define VTD_QI_PIOTLB_G	      GENMASK64(5, 4)
#define VTD_QI_PIOTLB_DID     GENMASK64(31, 16)
#define VTD_QI_PIOTLB_PASID   GENMASK64(51, 32)
#define VTD_QI_PIOTLB_HI_AM   GENMASK64(5, 0)
#define VTD_QI_PIOTLB_HI_IH   BIT64(6)
#define VTD_QI_PIOTLB_HI_ADDR GENMASK64(63, 12)
#define VTD_QI_PIOTLB_G_PASID 2U
#define VTD_QI_PIOTLB_G_PAGE  3U

/* Invalidation wait descriptor. */
#define VTD_QI_WAIT_SW	     BIT64(5)
#define VTD_QI_WAIT_FN	     BIT64(6)
#define VTD_QI_WAIT_SDATA    GENMASK64(63, 32)
#define VTD_QI_WAIT_HI_SADDR GENMASK64(63, 2)

/* Typed decoders for CAP and ECAP. */
static inline unsigned int vtd_cap_nd(uint64_t cap)
{
	return (unsigned int)field_get64(VTD_CAP_ND, cap);
}

/* Number of domain ids: 2^(4 + 2 * ND) (VT-d spec 11.4.2). */
static inline uint32_t vtd_cap_domains(uint64_t cap)
{
	return UINT32_C(1) << (4 + 2 * vtd_cap_nd(cap));
}

static inline bool vtd_cap_rwbf(uint64_t cap)
{
	return cap & VTD_CAP_RWBF;
}

static inline bool vtd_cap_pmr(uint64_t cap)
{
	return cap & (VTD_CAP_PLMR | VTD_CAP_PHMR);
}

static inline bool vtd_cap_cm(uint64_t cap)
{
	return cap & VTD_CAP_CM;
}

static inline unsigned int vtd_cap_sagaw(uint64_t cap)
{
	return (unsigned int)field_get64(VTD_CAP_SAGAW, cap);
}

static inline unsigned int vtd_cap_mgaw(uint64_t cap)
{
	return (unsigned int)field_get64(VTD_CAP_MGAW, cap) + 1;
}

static inline uint64_t vtd_cap_fro(uint64_t cap)
{
	return field_get64(VTD_CAP_FRO, cap) * 16;
}

static inline unsigned int vtd_cap_sllps(uint64_t cap)
{
	return (unsigned int)field_get64(VTD_CAP_SLLPS, cap);
}

static inline bool vtd_cap_psi(uint64_t cap)
{
	return cap & VTD_CAP_PSI;
}

static inline unsigned int vtd_cap_nfr(uint64_t cap)
{
	return (unsigned int)field_get64(VTD_CAP_NFR, cap) + 1;
}

static inline unsigned int vtd_cap_mamv(uint64_t cap)
{
	return (unsigned int)field_get64(VTD_CAP_MAMV, cap);
}

static inline bool vtd_ecap_c(uint64_t ecap)
{
	return ecap & VTD_ECAP_C;
}

static inline bool vtd_ecap_qi(uint64_t ecap)
{
	return ecap & VTD_ECAP_QI;
}

static inline bool vtd_ecap_dt(uint64_t ecap)
{
	return ecap & VTD_ECAP_DT;
}

static inline bool vtd_ecap_dit(uint64_t ecap)
{
	return ecap & VTD_ECAP_DIT;
}

static inline uint64_t vtd_ecap_iro(uint64_t ecap)
{
	return field_get64(VTD_ECAP_IRO, ecap) * 16;
}

static inline bool vtd_ecap_pt(uint64_t ecap)
{
	return ecap & VTD_ECAP_PT;
}

static inline bool vtd_ecap_nest(uint64_t ecap)
{
	return ecap & VTD_ECAP_NEST;
}

/* PASID width in bits: PSS + 1 (VT-d spec 11.4.3). */
static inline unsigned int vtd_ecap_pasid_bits(uint64_t ecap)
{
	return (unsigned int)field_get64(VTD_ECAP_PSS, ecap) + 1;
}

static inline bool vtd_ecap_pasid(uint64_t ecap)
{
	return ecap & VTD_ECAP_PASID;
}

static inline bool vtd_ecap_smts(uint64_t ecap)
{
	return ecap & VTD_ECAP_SMTS;
}

static inline bool vtd_ecap_slts(uint64_t ecap)
{
	return ecap & VTD_ECAP_SLTS;
}

static inline bool vtd_ecap_flts(uint64_t ecap)
{
	return ecap & VTD_ECAP_FLTS;
}

static inline bool vtd_ecap_smpwc(uint64_t ecap)
{
	return ecap & VTD_ECAP_SMPWC;
}

static inline bool vtd_cap_fl1gp(uint64_t cap)
{
	return cap & VTD_CAP_FL1GP;
}

static inline bool vtd_cap_fl5lp(uint64_t cap)
{
	return cap & VTD_CAP_FL5LP;
}

/* SAGAW bit for a page-table depth; levels 3..5 map to bits 1..3. */
static inline unsigned int vtd_sagaw_bit(unsigned int levels)
{
	return 1U << (levels - 2);
}

/* Context-entry AW encoding for a page-table depth (VT-d spec 9.3). */
static inline unsigned int vtd_levels_to_aw(unsigned int levels)
{
	return levels - 2;
}

/*
 * Interrupt remapping (VT-d spec chapter 5).  Kept together: the register,
 * the capability bits, the table entry (9.10), the interrupt entry cache
 * invalidation descriptor (6.5.2.7) and the remappable MSI format
 * (5.1.5.2).
 */
#define VTD_IRTA_REG 0x0b8 /* 64 Interrupt Remapping Table Address */

#define VTD_ECAP_IR  BIT64(3) /* interrupt remapping */
#define VTD_ECAP_EIM BIT64(4) /* extended interrupt mode (x2APIC) */

/* IRTA_REG: latched by GCMD.SIRTP, never while it is in use (11.4.4). */
#define VTD_IRTA_IRTA GENMASK64(63, 12)
#define VTD_IRTA_EIME BIT64(11)	      /* 32-bit x2APIC destination ids */
#define VTD_IRTA_S    GENMASK64(3, 0) /* 2^(S + 1) entries */

/*
 * Interrupt remapping table entry, remapped format (IM = 0, VT-d spec
 * 9.10).  The low word holds the present bit and what is delivered, the
 * high word who may send it: SVT selects how the requester id is
 * verified, SID and SQ what against.
 */
struct vtd_irte {
	uint64_t lo;
	uint64_t hi;
};
_Static_assert(sizeof(struct vtd_irte) == 16, "IRTE is 128 bits");

#define VTD_IRTE_LO_P	      BIT64(0)
#define VTD_IRTE_LO_FPD	      BIT64(1)		/* fault processing disable */
#define VTD_IRTE_LO_DM	      BIT64(2)		/* 1: logical destination */
#define VTD_IRTE_LO_TM	      BIT64(4)		/* 1: level-triggered */
#define VTD_IRTE_LO_DLM	      GENMASK64(7, 5)	/* delivery mode */
#define VTD_IRTE_LO_IM	      BIT64(15)		/* 1: posted format */
#define VTD_IRTE_LO_V	      GENMASK64(23, 16) /* vector */
#define VTD_IRTE_LO_DST	      GENMASK64(63, 32) /* x2APIC id (EIME) */
#define VTD_IRTE_LO_DST_XAPIC GENMASK64(47, 40) /* xAPIC id (no EIME) */
#define VTD_IRTE_HI_SID	      GENMASK64(15, 0)
#define VTD_IRTE_HI_SQ	      GENMASK64(17, 16)
#define VTD_IRTE_HI_SVT	      GENMASK64(19, 18)

#define VTD_IRTE_DLM_FIXED 0U
/* SVT 01: SID compared, SQ = 1, 2, 3 ignore bit 2, bits 2:1, bits 2:0. */
#define VTD_IRTE_SVT_SID 1U
/* SVT 10: the requester's bus within SID[15:8] (start) .. SID[7:0] (end). */
#define VTD_IRTE_SVT_BUS 2U
#define VTD_IRTE_SQ_MAX	 3U

/* Interrupt entry cache invalidate descriptor: all, or 2^IM from IIDX. */
#define VTD_QI_TYPE_IEC 4U
#define VTD_QI_IEC_G	BIT64(4) /* 1: index-selective */
#define VTD_QI_IEC_IM	GENMASK64(31, 27)
#define VTD_QI_IEC_IIDX GENMASK64(47, 32)

/*
 * MSI address in remappable format: the handle (the IRTE index) split
 * into bits 19:5 and bit 2, interrupt format bit 4 set; SHV adds the data
 * register's subhandle to it.
 */
#define VTD_MSI_ADDR_FEE       GENMASK64(31, 20)
#define VTD_MSI_ADDR_FEE_VAL   0xfeeU
#define VTD_MSI_ADDR_HANDLE    GENMASK64(19, 5) /* handle[14:0] */
#define VTD_MSI_ADDR_IF	       BIT64(4)		/* 1: remappable format */
#define VTD_MSI_ADDR_SHV       BIT64(3)
#define VTD_MSI_ADDR_HANDLE_15 BIT64(2) /* handle[15] */

static inline bool vtd_ecap_ir(uint64_t ecap)
{
	return ecap & VTD_ECAP_IR;
}

static inline bool vtd_ecap_eim(uint64_t ecap)
{
	return ecap & VTD_ECAP_EIM;
}
