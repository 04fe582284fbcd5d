"""The peer: pymodbus's synchronous client, one connection, reads of N holding registers back to back.

Usage: poll_loop.py PORT REGISTERS SECONDS WARMUP
Prints {"requests":…,"wall_s":…,"cpu_s":…} over the measured part, like the C and Swift loops.
"""
import json
import resource
import sys
import time

from pymodbus.client import ModbusTcpClient


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main():
    port, registers, seconds, warmup = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    client = ModbusTcpClient("127.0.0.1", port=port)
    if not client.connect():
        sys.exit("connect failed")

    def read():
        answer = client.read_holding_registers(0, count=registers)
        if answer.isError():
            sys.exit(f"read failed: {answer}")
        return answer.registers

    for _ in range(warmup):
        read()
    wall0, cpu0 = time.monotonic(), cpu_seconds()
    deadline = wall0 + seconds
    requests = 0
    checksum = 0
    while True:
        checksum += read()[registers - 1]
        requests += 1
        if requests & 63 == 0 and time.monotonic() >= deadline:
            break
    wall1, cpu1 = time.monotonic(), cpu_seconds()
    client.close()
    print(json.dumps({"requests": requests, "wall_s": wall1 - wall0, "cpu_s": cpu1 - cpu0, "checksum": checksum}))


if __name__ == "__main__":
    main()
