"""Runs a command in a pseudo-terminal and answers its confirmation prompts.

Usage: drive_tty.py '["n", "y", "q"]' COMMAND [ARG...]

Each time the command asks "Carry it out?", the next answer is typed (then "q" when
none are left). Prints everything the command wrote; exits with its exit code.
"""

import json
import os
import pty
import sys

answers = json.loads(sys.argv[1])
cmd = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
out = b""
pending = b""
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
    pending += data
    if b"Carry it out?" in pending:
        pending = b""
        os.write(fd, (answers.pop(0) if answers else "q").encode() + b"\n")
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
