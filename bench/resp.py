"""A tiny Redis client for bench/run.sh when redis-cli is not installed:
`python3 resp.py PORT COMMAND [ARG...]` sends one command to
127.0.0.1:PORT and prints the reply as redis-cli does for the replies the
script uses (status, integer, bulk string); `MONITOR` streams the
monitor lines until the process is stopped. Standard library only."""

import socket
import sys


def read_reply(f) -> str:
    line = f.readline()
    if not line:
        raise SystemExit("connection closed")
    kind, rest = line[:1], line[1:].rstrip(b"\r\n")
    if kind in (b"+", b":"):
        return rest.decode()
    if kind == b"-":
        raise SystemExit(f"(error) {rest.decode()}")
    if kind == b"$":
        length = int(rest)
        if length < 0:
            return ""
        data = f.read(length + 2)[:-2]
        return data.decode()
    if kind == b"*":
        return "\n".join(read_reply(f) for _ in range(int(rest)))
    raise SystemExit(f"unexpected reply {line!r}")


def main() -> None:
    port, *command = sys.argv[1:]
    payload = b"*%d\r\n" % len(command) + b"".join(
        b"$%d\r\n%s\r\n" % (len(part.encode()), part.encode()) for part in command
    )
    with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as s:
        s.sendall(payload)
        f = s.makefile("rb")
        if command[0].upper() == "MONITOR":
            s.settimeout(None)
            while True:
                print(read_reply(f), flush=True)
        print(read_reply(f))


if __name__ == "__main__":
    main()
