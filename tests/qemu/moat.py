"""Drive moat under QEMU: serial console, QMP, exit status.

Standard library only.  One Machine is one QEMU process (TCG) booting
moat's FAT image through OVMF, with its own OVMF variables copy and QMP socket.

Where things are comes from the environment (the Makefile sets all of it):
  MOAT_QEMU       the emulator (default: qemu-system-x86_64 on PATH)
  MOAT_OVMF_CODE  OVMF's code volume     MOAT_OVMF_VARS  its variables template
  MOAT_IMAGE      the FAT image          MOAT_FIXTURES   the fixtures folder
"""
import json
import os
import functools
import queue
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest


def _env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError("%s is not set (make test-qemu sets it)" % name)
    return value


QEMU = os.environ.get("MOAT_QEMU") or "qemu-system-x86_64"
FIXTURES = os.environ.get("MOAT_FIXTURES")
PROMPT = "moat> "

# QEMU may wait for a free slot before it starts (a limiter on a shared
# host): boots and commands are timed from the moment it runs.  Bounded
# short: a test that starts a second machine while a module's machine
# holds a slot can wait on another run that does the same.
START_TIMEOUT = 120
BOOT_TIMEOUT = 60  # OVMF alone takes ~3 s; TCG on a loaded 2-core host is slower
CMD_TIMEOUT = 30

# isa-debug-exit: QEMU exits with (code << 1) | 1 (docs/scenarios.md,
# qemu-debug-exit).
PANIC_STATUS = (0x7F << 1) | 1

ANSI = re.compile(r"\x1b\[[0-9;=?]*[A-Za-z]")


def exit_status(code):
    return (code << 1) | 1


@functools.lru_cache(maxsize=None)
def qemu_version():
    """(major, minor) of MOAT_QEMU, from its --version line."""
    out = subprocess.run([QEMU, "--version"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, check=True).stdout
    m = re.search(rb"QEMU emulator version (\d+)\.(\d+)", out)
    if not m:
        raise RuntimeError("%s --version: %r" % (QEMU, out[:200]))
    return int(m.group(1)), int(m.group(2))


def qemu_at_least(major, minor=0):
    return qemu_version() >= (major, minor)


def needs_qemu(major, minor, why):
    """Marks a test that only QEMU major.minor and later can run."""
    return pytest.mark.skipif(not qemu_at_least(major, minor),
                              reason="needs QEMU >= %d.%d: %s" %
                              (major, minor, why))


def fixture_path(*parts):
    """A file under MOAT_FIXTURES; skips the test when it is not set."""
    if not FIXTURES:
        pytest.skip("MOAT_FIXTURES is not set")
    return os.path.join(FIXTURES, *parts)


class ConsoleError(Exception):
    pass


class Machine:
    """A QEMU q35 machine running moat.  Use as a context manager."""

    def __init__(self, devices=(), iommu="intel-iommu,intremap=on",
                 cmdline=None, extra=(), trace=None, memory="512M",
                 serial=("stdio",), usb=False):
        # serial: the -serial backends, COM1 first; the console is read from
        # stdio, wherever it is.  usb: the image as a USB stick (qemu-xhci).
        self.tmp = tempfile.mkdtemp(prefix="moat-qemu-")
        vars_fd = os.path.join(self.tmp, "vars.fd")
        shutil.copyfile(_env("MOAT_OVMF_VARS"), vars_fd)
        self.qmp_path = os.path.join(self.tmp, "qmp.sock")
        self.trace_path = os.path.join(self.tmp, "trace.log") if trace else None
        args = [
            QEMU, "-machine", "q35,kernel-irqchip=split",
            "-accel", "tcg", "-cpu", "max", "-m", memory, "-nodefaults",
            "-no-reboot", "-display", "none",
            "-drive", "if=pflash,format=raw,readonly=on,file=" + _env("MOAT_OVMF_CODE"),
            "-drive", "if=pflash,format=raw,file=" + vars_fd,
            "-drive", ("if=none,id=stick," if usb else "") +
            "format=raw,file=%s,snapshot=on" % _env("MOAT_IMAGE"),
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
        ]
        for s in serial:
            args += ["-serial", s]
        if usb:
            args += ["-device", "qemu-xhci,id=xhci",
                     "-device", "usb-storage,bus=xhci.0,drive=stick"]
        if iommu:
            args += ["-device", iommu]
        for d in devices:
            args += ["-device", d]
        if cmdline is not None:
            # QEMU's option syntax doubles a comma inside a value.
            args += ["-fw_cfg", "name=opt/moat/cmdline,string=" +
                     cmdline.replace(",", ",,")]
        if trace:
            for t in trace:
                args += ["-trace", t]
            args += ["-D", self.trace_path]
        args += list(extra)
        self.args = args
        self.lines = []          # every complete serial line, ANSI removed
        self.partial = ""
        self.prompted = False    # the prompt in partial was reported
        self.q = queue.Queue()   # new complete lines for the reader
        self.stderr = b""
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self._wait_started()
        self.start = time.monotonic()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.err_reader = threading.Thread(target=self._read_err, daemon=True)
        self.err_reader.start()
        self.qmp = None

    def _wait_started(self):
        """Until QEMU created its QMP socket, or exited (its stderr then
        says why, to whoever reads the serial output)."""
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(self.qmp_path) and self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                raise TimeoutError("QEMU did not start in %d s" % START_TIMEOUT)
            time.sleep(0.05)

    # -- serial ------------------------------------------------------------
    def _read(self):
        while True:
            chunk = self.proc.stdout.read1(4096)
            if not chunk:
                break
            text = self.partial + chunk.decode("latin-1")
            parts = text.split("\n")
            self.partial = parts.pop()
            for p in parts:
                line = ANSI.sub("", p).rstrip("\r")
                # A prompt that arrived in one read with what follows it
                # (a log line printed while idle, or the echo) is still a
                # prompt: report it before that line.
                if line.startswith(PROMPT) and not self.prompted:
                    self.q.put(None)
                self.prompted = False
                self.lines.append(line)
                self.q.put(line)
            # A prompt has no newline: report it as a pseudo-line.
            if ANSI.sub("", self.partial).startswith(PROMPT) and \
                    not self.prompted:
                self.q.put(None)
                self.prompted = True
        self.q.put(EOFError)

    def _read_err(self):
        self.stderr = self.proc.stderr.read()

    def _cpu_state(self):
        """The CPU's registers from QEMU's monitor, to see where it hangs."""
        try:
            out = ""
            for _ in range(8):
                r = self.qmp_cmd("human-monitor-command", **{"command-line": "info registers"})
                out += " ".join(re.findall(r"(RIP=\S+|CPL=\d|CR3=\S+|RSP=\S+)", r)) + "\n"
                time.sleep(0.3)
            return "\ncpu:\n" + out + r
        except Exception as e:  # noqa: BLE001 - best effort in an error path
            return "\ncpu: unknown (%s)" % e

    def _next(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no output in time; last lines:\n" +
                               "\n".join(self.lines[-30:]) + self._cpu_state())
        try:
            item = self.q.get(timeout=left)
        except queue.Empty:
            raise TimeoutError("no output in time; last lines:\n" +
                               "\n".join(self.lines[-30:]) + self._cpu_state())
        if item is EOFError:
            raise EOFError("QEMU exited; last lines:\n" +
                           "\n".join(self.lines[-30:]) +
                           "\nstderr: " + self.stderr.decode(errors="replace"))
        return item

    def wait_line(self, pattern, timeout=BOOT_TIMEOUT):
        """Waits for a serial line matching the regex; returns the match."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            line = self._next(deadline)
            if line is None:
                continue
            m = rx.search(line)
            if m:
                return m

    def wait_ready(self):
        self.wait_line(r"^moat: ready$")
        self.boot_seconds = time.monotonic() - self.start
        self.wait_prompt()
        return self.boot_seconds

    def wait_prompt(self, timeout=CMD_TIMEOUT):
        deadline = time.monotonic() + timeout
        while self._next(deadline) is not None:
            pass

    def send(self, text):
        self.proc.stdin.write(text.encode("latin-1"))
        self.proc.stdin.flush()

    def run(self, line, timeout=CMD_TIMEOUT):
        """Types a command; returns (output lines, closing line).

        The closing line is "ok" or starts with "error: ".  Log lines
        ("[  time] subsys: ...") stay in the output.
        """
        self.send(line + "\r")
        deadline = time.monotonic() + timeout
        out = []
        # Log lines printed at the prompt before the echo are not this
        # command's output (they stay in self.lines).
        while True:
            echo = self._next(deadline)
            if echo is not None and self._is_echo(echo, line):
                break
        while True:
            item = self._next(deadline)
            if item is None:
                continue
            if item == "ok" or item.startswith("error: "):
                self.wait_prompt(timeout)
                return out, item
            out.append(item)

    @staticmethod
    def _is_echo(item, line):
        typed = item[len(PROMPT):] if item.startswith(PROMPT) else item
        # The console drops what does not fit in a line: a prefix.
        return (typed != "" or item.startswith(PROMPT)) and \
            line.startswith(typed)

    def ok(self, line, timeout=CMD_TIMEOUT):
        """Runs a command that must succeed; returns its output lines."""
        out, end = self.run(line, timeout)
        if end != "ok":
            raise ConsoleError("%r failed: %s\n%s" % (line, end, "\n".join(out)))
        return out

    # -- QMP ---------------------------------------------------------------
    def qmp_cmd(self, execute, **arguments):
        if self.qmp is None:
            self.qmp = Qmp(self.qmp_path)
        return self.qmp.cmd(execute, arguments)

    # -- teardown ----------------------------------------------------------
    def wait_exit(self, timeout=BOOT_TIMEOUT + CMD_TIMEOUT):
        # Callers that pass run= on the command line wait here through the
        # whole boot, so the budget is a boot's plus a command's.
        try:
            return self.proc.wait(timeout)
        finally:
            self.reader.join(5)

    def close(self):
        if self.qmp:
            self.qmp.close()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.reader.join(5)
        self.err_reader.join(5)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def trace(self):
        with open(self.trace_path, errors="replace") as f:
            return f.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Qmp:
    """Minimal QMP client over the unix socket, with its own line buffer."""

    def __init__(self, path, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.events = []
        self._recv()  # greeting
        self.cmd("qmp_capabilities", {})

    def _recv(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("QMP closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, execute, arguments):
        msg = {"execute": execute}
        if arguments:
            msg["arguments"] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self._recv()
            if "event" in r:
                self.events.append(r)
                continue
            if "error" in r:
                raise RuntimeError("QMP %s: %s" % (execute, r["error"]))
            return r["return"]

    def close(self):
        self.sock.close()
