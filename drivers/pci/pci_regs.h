#pragma once

#include <stdint.h>

#include "lib/bits.h"

/*
 * PCI configuration space registers, named as in the PCI Local Bus
 * Specification 3.0 (chapter 6), the PCI-to-PCI Bridge Architecture
 * Specification 1.2 (chapter 3) and the PCI Express Base Specification
 * (chapter 7).  Fields are masks by (msb, lsb) as the specifications draw
 * them; read them with field_get32() from lib/bits.h.
 */

/* Configuration space sizes (PCI 3.0 §6.1; PCIe §7.2.2). */
#define PCI_CFG_SPACE_SIZE     0x100U
#define PCI_CFG_SPACE_EXP_SIZE 0x1000U

/* Type 0 and type 1 header, common part (PCI 3.0 §6.2.1). */
#define PCI_VENDOR_ID 0x00U
#define PCI_VENDOR_ID_NONE                                \
	0xffffU /* returned for a function that is absent \
		 */
#define PCI_VENDOR_ID_RETRY                               \
	0x0001U /* still initialising (PCIe §2.3.1, CRS) \
		 */
#define PCI_DEVICE_ID		      0x02U
#define PCI_COMMAND		      0x04U
#define PCI_COMMAND_IO		      BIT32(0)	/* I/O Space Enable */
#define PCI_COMMAND_MEMORY	      BIT32(1)	/* Memory Space Enable */
#define PCI_COMMAND_MASTER	      BIT32(2)	/* Bus Master Enable */
#define PCI_COMMAND_INTX_DISABLE      BIT32(10) /* Interrupt Disable */
#define PCI_STATUS		      0x06U
#define PCI_STATUS_CAP_LIST	      BIT32(4) /* Capabilities List */
#define PCI_CLASS_REVISION	      0x08U
#define PCI_CLASS_REVISION_REVISION   GENMASK32(7, 0)
#define PCI_CLASS_REVISION_PROG_IF    GENMASK32(15, 8)
#define PCI_CLASS_REVISION_SUB_CLASS  GENMASK32(23, 16)
#define PCI_CLASS_REVISION_BASE_CLASS GENMASK32(31, 24)
#define PCI_CACHE_LINE_SIZE	      0x0cU /* then Latency Timer */
#define PCI_BASE_ADDRESS_0	      0x10U /* type 0: six BARs, type 1: two */
#define PCI_BASE_ADDRESS_SPACE_IO     BIT32(0)
#define PCI_BASE_ADDRESS_MEM_TYPE     GENMASK32(2, 1)
#define PCI_BASE_ADDRESS_MEM_TYPE_32  0x0U
#define PCI_BASE_ADDRESS_MEM_TYPE_64  0x2U
#define PCI_BASE_ADDRESS_MEM_PREFETCH BIT32(3) /* Prefetchable */
#define PCI_BASE_ADDRESS_MEM_MASK     GENMASK32(31, 4)
#define PCI_BASE_ADDRESS_COUNT_NORMAL 6U /* BARs of a type 0 header */
#define PCI_BASE_ADDRESS_COUNT_BRIDGE 2U /* BARs of a type 1 header */
#define PCI_HEADER_TYPE		      0x0eU
#define PCI_HEADER_TYPE_LAYOUT	      GENMASK32(6, 0)
#define PCI_HEADER_TYPE_MFD	      BIT32(7) /* Multi-Function Device */
#define PCI_HEADER_TYPE_NORMAL	      0x00U
#define PCI_HEADER_TYPE_BRIDGE	      0x01U
#define PCI_HEADER_TYPE_CARDBUS	      0x02U
#define PCI_CAPABILITY_LIST	      0x34U /* type 0 and type 1 headers */

/* Type 1 header: bus numbers (PCI-to-PCI Bridge 1.2 §3.2.5.2-3.2.5.4). */
#define PCI_PRIMARY_BUS		 0x18U
#define PCI_SECONDARY_BUS	 0x19U
#define PCI_SUBORDINATE_BUS	 0x1aU
#define PCI_BRIDGE_CONTROL	 0x3eU	  /* PCI-to-PCI Bridge 1.2 §3.2.5.18 */
#define PCI_BRIDGE_CTL_BUS_RESET BIT32(6) /* Secondary Bus Reset */

/*
 * Type 1 header: the memory windows a bridge forwards downstream
 * (PCI-to-PCI Bridge 1.2 §3.2.5.8-3.2.5.10).  Base and limit hold address
 * bits 31:20 in their bits 15:4; the limit's low 20 bits are all ones.  The
 * prefetchable window may be 64-bit, its bits 63:32 in the Upper registers.
 */
#define PCI_MEMORY_BASE	       0x20U
#define PCI_MEMORY_LIMIT       0x22U
#define PCI_PREF_MEMORY_BASE   0x24U
#define PCI_PREF_MEMORY_LIMIT  0x26U
#define PCI_PREF_BASE_UPPER32  0x28U
#define PCI_PREF_LIMIT_UPPER32 0x2cU
#define PCI_MEMORY_RANGE_ADDR  GENMASK32(15, 4) /* address bits 31:20 */
#define PCI_PREF_RANGE_TYPE    GENMASK32(3, 0)
#define PCI_PREF_RANGE_TYPE_64 0x1U
#define PCI_MEMORY_RANGE_SHIFT 20U /* 1 MiB granularity */

/* Type 2 (CardBus) header keeps its capability pointer elsewhere. */
#define PCI_CB_CAPABILITY_LIST 0x14U

/* Capability list entries (PCI 3.0 §6.7). */
#define PCI_CAP_LIST_ID	      0x00U
#define PCI_CAP_LIST_NEXT     0x01U
#define PCI_CAP_LIST_PTR_MASK 0xfcU /* bits 1:0 are reserved */
#define PCI_CAP_FIRST	      0x40U /* capabilities live after the header */

/* Capability IDs (PCI Code and ID Assignment Specification). */
#define PCI_CAP_ID_NULL	  0x00U /* no registers, only a link */
#define PCI_CAP_ID_PM	  0x01U
#define PCI_CAP_ID_AGP	  0x02U
#define PCI_CAP_ID_VPD	  0x03U
#define PCI_CAP_ID_SLOTID 0x04U
#define PCI_CAP_ID_MSI	  0x05U
#define PCI_CAP_ID_CHSWP  0x06U
#define PCI_CAP_ID_PCIX	  0x07U
#define PCI_CAP_ID_HT	  0x08U
#define PCI_CAP_ID_VNDR	  0x09U
#define PCI_CAP_ID_DBG	  0x0aU
#define PCI_CAP_ID_CCRC	  0x0bU
#define PCI_CAP_ID_SHPC	  0x0cU
#define PCI_CAP_ID_SSVID  0x0dU
#define PCI_CAP_ID_AGP3	  0x0eU
#define PCI_CAP_ID_SECDEV 0x0fU
#define PCI_CAP_ID_EXP	  0x10U
#define PCI_CAP_ID_MSIX	  0x11U
#define PCI_CAP_ID_SATA	  0x12U
#define PCI_CAP_ID_AF	  0x13U
#define PCI_CAP_ID_EA	  0x14U
#define PCI_CAP_ID_NONE	  0xffU /* what a vanished function reads back */

/* PCI Express Capability (PCIe §7.5.3). */
#define PCI_EXP_FLAGS		 0x02U /* PCI Express Capabilities Register */
#define PCI_EXP_FLAGS_TYPE	 GENMASK32(7, 4) /* Device/Port Type */
#define PCI_EXP_TYPE_ENDPOINT	 0x0U
#define PCI_EXP_TYPE_LEG_END	 0x1U
#define PCI_EXP_TYPE_ROOT_PORT	 0x4U
#define PCI_EXP_TYPE_UPSTREAM	 0x5U
#define PCI_EXP_TYPE_DOWNSTREAM	 0x6U
#define PCI_EXP_TYPE_PCI_BRIDGE	 0x7U /* PCIe to PCI/PCI-X bridge */
#define PCI_EXP_TYPE_PCIE_BRIDGE 0x8U /* PCI/PCI-X to PCIe bridge */
#define PCI_EXP_TYPE_RC_END	 0x9U
#define PCI_EXP_TYPE_RC_EC	 0xaU
#define PCI_EXP_FLAGS_SLOT	 BIT32(8) /* Slot Implemented */

/* Link Capabilities and Link Status (PCIe §7.5.3.6, §7.5.3.8). */
/* Power Management capability (PCI Bus Power Management 1.2, 3.2). */
#define PCI_PM_CTRL		  0x04U /* Power Management Control/Status (PMCSR) */
#define PCI_PM_CTRL_STATE	  GENMASK32(1, 0) /* PowerState */
#define PCI_PM_CTRL_STATE_D0	  0x0U
#define PCI_PM_CTRL_STATE_D3HOT	  0x3U
#define PCI_PM_CTRL_NO_SOFT_RESET BIT32(3) /* No_Soft_Reset */

/* MSI capability (PCI Local Bus 3.0, 6.8.1), offsets from the capability. */
#define PCI_MSI_FLAGS	     0x02U /* Message Control */
#define PCI_MSI_FLAGS_ENABLE BIT32(0)
#define PCI_MSI_FLAGS_QSIZE  GENMASK32(6, 4) /* Multiple Message Enable */
#define PCI_MSI_FLAGS_64BIT  BIT32(7)
#define PCI_MSI_ADDRESS_LO   0x04U
#define PCI_MSI_ADDRESS_HI   0x08U /* 64-bit capable functions only */
#define PCI_MSI_DATA_32	     0x08U
#define PCI_MSI_DATA_64	     0x0cU

#define PCI_EXP_DEVCAP	       0x04U
#define PCI_EXP_DEVCAP_FLR     BIT32(28) /* Function Level Reset Capability */
#define PCI_EXP_DEVCTL	       0x08U
#define PCI_EXP_DEVCTL_BCR_FLR BIT32(15) /* Initiate Function Level Reset */
#define PCI_EXP_DEVSTA	       0x0aU	 /* Device Status (PCIe §7.5.3.5) */
#define PCI_EXP_DEVSTA_TRPND   BIT32(5)	 /* Transactions Pending */
#define PCI_EXP_LNKCAP	       0x0cU
#define PCI_EXP_LNKCAP_DLLLARC                         \
	BIT32(20) /* DLL Link Active Reporting Capable \
		   */
#define PCI_EXP_LNKSTA	     0x12U
#define PCI_EXP_LNKSTA_DLLLA BIT32(13) /* Data Link Layer Link Active */

/* Slot Capabilities (PCIe §7.5.3.9). */
#define PCI_EXP_SLTCAP	    0x14U
#define PCI_EXP_SLTCAP_ABP  BIT32(0)	      /* Attention Button Present */
#define PCI_EXP_SLTCAP_PCP  BIT32(1)	      /* Power Controller Present */
#define PCI_EXP_SLTCAP_AIP  BIT32(3)	      /* Attention Indicator Present */
#define PCI_EXP_SLTCAP_PIP  BIT32(4)	      /* Power Indicator Present */
#define PCI_EXP_SLTCAP_HPS  BIT32(5)	      /* Hot-Plug Surprise */
#define PCI_EXP_SLTCAP_HPC  BIT32(6)	      /* Hot-Plug Capable */
#define PCI_EXP_SLTCAP_NCCS BIT32(18)	      /* No Command Completed Support */
#define PCI_EXP_SLTCAP_PSN  GENMASK32(31, 19) /* Physical Slot Number */

/* Slot Control (PCIe §7.5.3.10).  Indicator fields: 01b on, 11b off. */
#define PCI_EXP_SLTCTL	       0x18U
#define PCI_EXP_SLTCTL_ABPE    BIT32(0) /* Attention Button Pressed Enable */
#define PCI_EXP_SLTCTL_PFDE    BIT32(1) /* Power Fault Detected Enable */
#define PCI_EXP_SLTCTL_MRLSCE  BIT32(2) /* MRL Sensor Changed Enable */
#define PCI_EXP_SLTCTL_PDCE    BIT32(3) /* Presence Detect Changed Enable */
#define PCI_EXP_SLTCTL_CCIE    BIT32(4) /* Command Completed Interrupt Enable */
#define PCI_EXP_SLTCTL_HPIE    BIT32(5) /* Hot-Plug Interrupt Enable */
#define PCI_EXP_SLTCTL_AIC     GENMASK32(7, 6) /* Attention Indicator Control */
#define PCI_EXP_SLTCTL_PIC     GENMASK32(9, 8) /* Power Indicator Control */
#define PCI_EXP_SLTCTL_IND_ON  0x1U
#define PCI_EXP_SLTCTL_IND_OFF 0x3U
#define PCI_EXP_SLTCTL_PCC     BIT32(10) /* Power Controller Control: 1b off */
#define PCI_EXP_SLTCTL_DLLSCE  BIT32(12) /* DLL State Changed Enable */

/* Slot Status (PCIe §7.5.3.11).  The event bits are RW1C. */
#define PCI_EXP_SLTSTA	     0x1aU
#define PCI_EXP_SLTSTA_ABP   BIT32(0) /* Attention Button Pressed */
#define PCI_EXP_SLTSTA_PFD   BIT32(1) /* Power Fault Detected */
#define PCI_EXP_SLTSTA_MRLSC BIT32(2) /* MRL Sensor Changed */
#define PCI_EXP_SLTSTA_PDC   BIT32(3) /* Presence Detect Changed */
#define PCI_EXP_SLTSTA_CC    BIT32(4) /* Command Completed */
#define PCI_EXP_SLTSTA_PDS   BIT32(6) /* Presence Detect State */
#define PCI_EXP_SLTSTA_DLLSC BIT32(8) /* Data Link Layer State Changed */
#define PCI_EXP_SLTSTA_EVENTS                                             \
	(PCI_EXP_SLTSTA_ABP | PCI_EXP_SLTSTA_PFD | PCI_EXP_SLTSTA_MRLSC | \
	 PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_CC | PCI_EXP_SLTSTA_DLLSC)

/* Extended capability header (PCIe §7.6.3). */
#define PCI_EXT_CAP_FIRST     0x100U
#define PCI_EXT_CAP_HDR_ID    GENMASK32(15, 0)
#define PCI_EXT_CAP_HDR_VER   GENMASK32(19, 16)
#define PCI_EXT_CAP_HDR_NEXT  GENMASK32(31, 20)
#define PCI_EXT_CAP_NEXT_MASK 0xffcU /* bits 1:0 of the offset are reserved */

/* Extended capability IDs (PCI Code and ID Assignment Specification). */
#define PCI_EXT_CAP_ID_NULL    0x0000U /* no registers, only a link */
#define PCI_EXT_CAP_ID_AER     0x0001U
#define PCI_EXT_CAP_ID_VC      0x0002U
#define PCI_EXT_CAP_ID_DSN     0x0003U
#define PCI_EXT_CAP_ID_PWR     0x0004U
#define PCI_EXT_CAP_ID_RCLD    0x0005U
#define PCI_EXT_CAP_ID_RCILC   0x0006U
#define PCI_EXT_CAP_ID_RCEC    0x0007U
#define PCI_EXT_CAP_ID_MFVC    0x0008U
#define PCI_EXT_CAP_ID_VC9     0x0009U
#define PCI_EXT_CAP_ID_RCRB    0x000aU
#define PCI_EXT_CAP_ID_VNDR    0x000bU
#define PCI_EXT_CAP_ID_ACS     0x000dU
#define PCI_EXT_CAP_ID_ARI     0x000eU
#define PCI_EXT_CAP_ID_ATS     0x000fU
#define PCI_EXT_CAP_ID_SRIOV   0x0010U
#define PCI_EXT_CAP_ID_MRIOV   0x0011U
#define PCI_EXT_CAP_ID_MCAST   0x0012U
#define PCI_EXT_CAP_ID_PRI     0x0013U
#define PCI_EXT_CAP_ID_REBAR   0x0015U
#define PCI_EXT_CAP_ID_DPA     0x0016U
#define PCI_EXT_CAP_ID_TPH     0x0017U
#define PCI_EXT_CAP_ID_LTR     0x0018U
#define PCI_EXT_CAP_ID_SECPCI  0x0019U
#define PCI_EXT_CAP_ID_PMUX    0x001aU
#define PCI_EXT_CAP_ID_PASID   0x001bU
#define PCI_EXT_CAP_ID_DPC     0x001dU
#define PCI_EXT_CAP_ID_L1SS    0x001eU
#define PCI_EXT_CAP_ID_PTM     0x001fU
#define PCI_EXT_CAP_ID_DVSEC   0x0023U
#define PCI_EXT_CAP_ID_DLF     0x0025U
#define PCI_EXT_CAP_ID_PL_16GT 0x0026U

/* ACS Extended Capability: Capability and Control registers (PCIe §6.12). */
#define PCI_ACS_CAP  0x04U
#define PCI_ACS_CTRL 0x06U
#define PCI_ACS_SV   BIT32(0) /* ACS Source Validation */
#define PCI_ACS_TB   BIT32(1) /* ACS Translation Blocking */
#define PCI_ACS_RR   BIT32(2) /* ACS P2P Request Redirect */
#define PCI_ACS_CR   BIT32(3) /* ACS P2P Completion Redirect */
#define PCI_ACS_UF   BIT32(4) /* ACS Upstream Forwarding */
