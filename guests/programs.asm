; The guest programs carried in the image (kernel/sched.h): a table of
; { name, start, end }, ended by a null name.  Built by guests/guests.mk.

bits 64
section .data
align 8
global guest_programs
guest_programs:
	dq name_spin, spin, spin_end
	dq name_poke, poke, poke_end
	dq name_edu_dma, edu_dma, edu_dma_end
	dq name_rogue, rogue, rogue_end
	dq 0, 0, 0

name_spin: db "spin", 0
name_poke: db "poke", 0
name_edu_dma: db "edu-dma", 0
name_rogue: db "rogue", 0

align 16
spin: incbin "build/guests/spin.bin"
spin_end:
align 16
poke: incbin "build/guests/poke.bin"
poke_end:
align 16
edu_dma: incbin "build/guests/edu-dma.bin"
edu_dma_end:
align 16
rogue: incbin "build/guests/rogue.bin"
rogue_end:
