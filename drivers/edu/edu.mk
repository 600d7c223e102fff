KERNEL_SRCS += drivers/edu/edu.c kernel/cmd_edu.c
