"""The USB stick (issue 16): build/moat.img as a USB mass-storage device
behind an xHCI controller, booted by OVMF's boot manager from the
removable-media path EFI/BOOT/BOOTX64.EFI, with no disk and no ESP
directory besides it."""
import moat


def test_usb_stick_boots_to_the_prompt():
    with moat.Machine(usb=True, devices=["edu,id=edu0"]) as m:
        seconds = m.wait_ready()
        # The boot manager took the USB disk: nothing else is attached.
        assert any("BdsDxe: starting" in l and "USB" in l for l in m.lines), \
            m.lines[:5]
        assert m.ok("version")[0].startswith("moat ")
        print("boot from the USB image to 'moat: ready': %.2f s" % seconds)
